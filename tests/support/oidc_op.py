"""A fake OpenID provider with identity assurance (OIDC4IDA 1.0), served through
``httpx.MockTransport``: discovery, JWKS, token and userinfo endpoints, real keys signing real ID
tokens (with ``cryptography`` directly, independent of the library under test), and knobs to make
it misbehave one way at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssar.clock import Clock

ISSUER: Final = "https://op.example.net"
CLIENT_ID: Final = "ssar-client"
REDIRECT_URI: Final = "https://ssar.example.org/recovery/oidc_ida/callback"
DROP: Final = object()  # an override value that removes the member

Endpoint = str  # "discovery" | "jwks" | "token" | "userinfo"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


@dataclass
class OpKey:
    """A signing key of the fake OP and its public JWK."""

    alg: str
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls, alg: str = "ES256", kid: str | None = None) -> OpKey:
        kid = kid or secrets.token_hex(4)
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()), kid)
        return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)

    def public_jwk(self) -> dict[str, Any]:
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            numbers = self.private.public_key().public_numbers()
            return {
                "kty": "EC",
                "crv": "P-256",
                "x": _int_b64(numbers.x, 32),
                "y": _int_b64(numbers.y, 32),
                "kid": self.kid,
                "use": "sig",
            }
        rsa_numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "n": _int_b64(rsa_numbers.n),
            "e": _int_b64(rsa_numbers.e),
            "kid": self.kid,
            "use": "sig",
        }

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg in ("RS256", "RS384"):
            digest = hashes.SHA256() if self.alg == "RS256" else hashes.SHA384()
            return self.private.sign(data, padding.PKCS1v15(), digest)
        return self.private.sign(
            data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
        )


def make_jwt(header: Mapping[str, Any], payload: Mapping[str, Any], key: OpKey | None) -> str:
    """A compact JWS; ``key=None`` leaves the signature empty (``alg: none``)."""
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    signature = key.sign(signing_input.encode("ascii")) if key is not None else b""
    return f"{signing_input}.{b64url(signature)}"


def _apply(document: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for name, value in overrides.items():
        if value is DROP:
            document.pop(name, None)
        else:
            document[name] = value
    return document


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    claims_request: dict[str, Any]
    access_token: str = ""


@dataclass
class FakeOpenIdProvider:
    """The OP side of the code flow. ``authorize`` plays the person at the OP; the HTTP
    endpoints answer the relying party through :meth:`transport`."""

    clock: Clock
    issuer: str = ISSUER
    client_id: str = CLIENT_ID
    client_secret: str | None = None
    key: OpKey = field(default_factory=OpKey.generate)
    subject: str = "user-4711"
    verified_claims: Any = None  # None: default_verified_claims()
    verified_claims_in: str = "userinfo"  # userinfo | id_token | both | none
    iss_in_response: bool = True
    # misbehaviour, one knob at a time
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    jwks_keys: list[dict[str, Any]] | None = None  # None: the public key of ``key``
    signing_key: OpKey | None = None  # None: ``key``
    id_token_header_overrides: dict[str, Any] = field(default_factory=dict)
    id_token_overrides: dict[str, Any] = field(default_factory=dict)
    id_token_transform: Callable[[str], str] | None = None
    token_overrides: dict[str, Any] = field(default_factory=dict)
    userinfo_overrides: dict[str, Any] = field(default_factory=dict)
    failures: dict[Endpoint, int | type[Exception]] = field(default_factory=dict)
    # what happened
    requests: list[httpx.Request] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)  # by authorization code
    issued: dict[str, Grant] = field(default_factory=dict)  # by access token

    def default_verified_claims(self) -> dict[str, Any]:
        return {
            "verification": {
                "trust_framework": "eidas",
                "assurance_level": "high",
                "time": (self.clock.now() - timedelta(days=1)).isoformat(),
                "evidence": [{"type": "electronic_record"}],
            },
            "claims": {
                "given_name": "Zoë",
                "family_name": "Ågren",
                "birthdate": "1990-05-17",
                "nationalities": ["SE"],
            },
        }

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport())

    def requests_to(self, endpoint: Endpoint) -> list[httpx.Request]:
        path = _PATHS[endpoint]
        return [r for r in self.requests if r.url.path == path]

    # --- the person at the OP ------------------------------------------------------------

    def authorize(self, url: str, **overrides: str) -> dict[str, str]:
        """Check the authorization request like an OP would, remember the grant and return the
        query parameters of the redirect back (``overrides`` replace or add parameters)."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.issuer}/authorize"
        query = {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}
        assert query["response_type"] == "code"
        assert query["client_id"] == self.client_id
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            code_challenge=query["code_challenge"],
            nonce=query["nonce"],
            claims_request=json.loads(query["claims"]),
        )
        params = {"code": code, "state": query["state"]}
        if self.iss_in_response:
            params["iss"] = self.issuer
        params.update(overrides)
        return params

    # --- the endpoints -------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        endpoint = next((name for name, path in _PATHS.items() if request.url.path == path), None)
        if endpoint is None or f"{request.url.scheme}://{request.url.host}" != self.issuer:
            return httpx.Response(404)
        failure = self.failures.get(endpoint)
        if isinstance(failure, type):
            raise failure("simulated", request=request)  # type: ignore[call-arg]
        if failure is not None:
            return httpx.Response(failure, json={"error": "server_error"})
        handler: Callable[[httpx.Request], httpx.Response] = getattr(self, f"_{endpoint}")
        return handler(request)

    def _discovery(self, request: httpx.Request) -> httpx.Response:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}{_PATHS['token']}",
            "userinfo_endpoint": f"{self.issuer}{_PATHS['userinfo']}",
            "jwks_uri": f"{self.issuer}{_PATHS['jwks']}",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
            "authorization_response_iss_parameter_supported": self.iss_in_response,
            "claims_parameter_supported": True,
            "verified_claims_supported": True,
            "trust_frameworks_supported": ["eidas", "de_aml"],
            "evidence_supported": ["document", "electronic_record"],
        }
        return httpx.Response(200, json=_apply(document, self.discovery_overrides))

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        keys = self.jwks_keys if self.jwks_keys is not None else [self.key.public_jwk()]
        return httpx.Response(200, json={"keys": keys})

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        grant = self.grants.pop(form.get("code", ""), None)  # single use
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _oauth_error("invalid_grant")
        if not self._client_authenticated(request, form, grant):
            return _oauth_error("invalid_client", status=401)
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant.code_challenge:
            return _oauth_error("invalid_grant")  # PKCE, RFC 7636 §4.6
        grant.access_token = secrets.token_urlsafe(32)
        self.issued[grant.access_token] = grant
        document = {
            "access_token": grant.access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }
        return httpx.Response(200, json=_apply(document, self.token_overrides))

    def _client_authenticated(
        self, request: httpx.Request, form: Mapping[str, str], grant: Grant
    ) -> bool:
        if self.client_secret is None:
            return form.get("client_id") == grant.client_id
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme != "Basic" or "client_secret" in form:
            return False
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
        return unquote(client_id) == grant.client_id and unquote(secret) == self.client_secret

    def id_token(self, grant: Grant) -> str:
        now = int(self.clock.now().timestamp())
        digest = hashlib.sha256(grant.access_token.encode()).digest()
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 600,
            "nonce": grant.nonce,
            "at_hash": b64url(digest[:16]),
        }
        if self.verified_claims_in in ("id_token", "both"):
            payload["verified_claims"] = self._verified_claims(grant, "id_token")
        key = self.signing_key or self.key
        header = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
        token = make_jwt(
            _apply(header, self.id_token_header_overrides),
            _apply(payload, self.id_token_overrides),
            key,
        )
        return self.id_token_transform(token) if self.id_token_transform else token

    def _userinfo(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grant = self.issued.get(token) if scheme == "Bearer" else None
        if grant is None:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        document: dict[str, Any] = {"sub": self.subject}
        if self.verified_claims_in in ("userinfo", "both"):
            document["verified_claims"] = self._verified_claims(grant, "userinfo")
        return httpx.Response(200, json=_apply(document, self.userinfo_overrides))

    def _verified_claims(self, grant: Grant, target: str) -> Any:
        value = self.verified_claims
        if value is None:
            value = self.default_verified_claims()
            # like a real OP: only the claims the relying party asked for
            requested = grant.claims_request[target]["verified_claims"]["claims"]
            value["claims"] = {k: v for k, v in value["claims"].items() if k in requested}
        return value


_PATHS: Final[dict[Endpoint, str]] = {
    "discovery": "/.well-known/openid-configuration",
    "jwks": "/jwks",
    "token": "/token",
    "userinfo": "/userinfo",
}


def _oauth_error(error: str, *, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": error})
