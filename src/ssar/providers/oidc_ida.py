"""The ``oidc_ida`` verification provider: OpenID Connect for Identity Assurance 1.0.

The person is sent to an external OpenID provider (an eID, a bank ID, an IDV vendor) with the
authorization code flow, PKCE S256, ``state``, ``nonce`` and a ``claims`` request for
``verified_claims``; on the way back the ID token is verified, userinfo fetched, and the verified
claims are checked against the configured trust frameworks before they become a
:class:`~ssar.providers.base.VerifiedIdentity`. The file format and the checks: docs/OIDC_IDA.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import quote, urlsplit

import httpx
import structlog
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey, import_key
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ssar.clock import Clock
from ssar.credentials.jose import loads_json_object
from ssar.errors import ConfigurationError, CredentialError
from ssar.providers import errors as codes
from ssar.providers.base import RedirectStart, VerifiedIdentity
from ssar.providers.errors import ProviderError

log = structlog.get_logger(__name__)

FORMAT: Final = "oidc_ida"
#: ID token signature algorithms accepted; ``none``, HMAC and everything else are refused.
ALLOWED_ALGS: Final = frozenset({"ES256", "RS256", "PS256"})
LEEWAY: Final = timedelta(minutes=5)
DEFAULT_CLAIMS: Final = ("given_name", "family_name", "birthdate")
DEFAULT_REQUIRED_CLAIMS: Final = ("given_name", "family_name")
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
MAX_TIMEOUT_SECONDS: Final = 30.0
MAX_RESPONSE_BYTES: Final = 512 * 1024
MAX_TOKEN_CHARS: Final = 64 * 1024
MAX_CODE_CHARS: Final = 4096
MAX_NAME_CHARS: Final = 256
JWKS_REFRESH_INTERVAL: Final = timedelta(minutes=5)
_MIN_RSA_BITS: Final = 2048
_SECRET_BYTES: Final = 32  # state, nonce and PKCE verifier: 256 bits each (R11 asks >= 128)

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CLAIM_PATTERN: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,127}")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_SECRET_KEYS: Final = ("state", "nonce", "code_verifier", "redirect_uri")


def _check_url(value: str, *, what: str) -> str:
    """https, or http to the local machine only (a provider run beside SSAR for development)."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and host in _LOCAL_HOSTS:
        return value
    raise ValueError(f"{what} must be an https URL")


class OidcIdaConfig(BaseModel):
    """One OpenID provider with identity assurance, as configured by the administrator."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str
    issuer: str
    client_id: str = Field(min_length=1, max_length=512)
    client_secret: SecretStr | None = None  # None: a public client, PKCE only
    scopes: tuple[str, ...] = ("openid",)
    trust_frameworks: tuple[str, ...] = Field(min_length=1)
    evidence_types: tuple[str, ...] | None = None  # None: any evidence
    claims: tuple[str, ...] = DEFAULT_CLAIMS
    required_claims: tuple[str, ...] = DEFAULT_REQUIRED_CLAIMS
    max_age_days: int | None = Field(default=None, ge=1, le=36500)
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        _check_url(value, what="issuer")
        parts = urlsplit(value)
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        if any(not s or " " in s for s in value):
            raise ValueError("scopes are non-empty and without spaces")
        return value

    @field_validator("trust_frameworks", "evidence_types")
    @classmethod
    def _names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or any(not v for v in value)):
            raise ValueError("must be a non-empty list of non-empty names")
        return value

    @field_validator("claims", "required_claims")
    @classmethod
    def _claims(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for claim in value:
            if not CLAIM_PATTERN.fullmatch(claim):
                raise ValueError(f"{claim!r} is not a claim name")
        return value

    @model_validator(mode="after")
    def _required_are_requested(self) -> OidcIdaConfig:
        missing = [c for c in self.required_claims if c not in self.claims]
        if missing:
            raise ValueError(f"required_claims not in claims: {', '.join(missing)}")
        return self


def _problem(error: Mapping[str, Any], index: int) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "is required"
    else:  # never the input: it may be the client secret
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"providers[{index}]{'.' + where if where else ''}: {message}"


def load_providers(path: Path) -> dict[str, OidcIdaConfig]:
    """The providers of a YAML file ``{"providers": [{...}, ...]}``, by name.

    A provider may name an environment variable holding its secret (``client_secret_env``)
    instead of writing it in the file. Any fault raises ConfigurationError naming the entry.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("providers"), list):
        raise ConfigurationError(f"{path}: the document must be a mapping with a 'providers' list")
    if set(document) - {"providers"}:
        raise ConfigurationError(f"{path}: unknown top-level field(s) besides 'providers'")
    providers: dict[str, OidcIdaConfig] = {}
    for index, entry in enumerate(document["providers"]):
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{path}: providers[{index}] must be a mapping")
        fields = dict(entry)
        env = fields.pop("client_secret_env", None)
        if env is not None:
            if "client_secret" in fields:
                raise ConfigurationError(
                    f"{path}: providers[{index}]: client_secret and client_secret_env exclude "
                    "each other"
                )
            if not isinstance(env, str) or not os.environ.get(env):
                raise ConfigurationError(
                    f"{path}: providers[{index}].client_secret_env: "
                    f"environment variable {env!r} is not set"
                )
            fields["client_secret"] = os.environ[env]
        try:
            config = OidcIdaConfig.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(_problem(e, index) for e in exc.errors())
            raise ConfigurationError(f"{path}: {problems}") from None
        if config.name in providers:
            raise ConfigurationError(f"{path}: providers[{index}]: duplicate name {config.name!r}")
        providers[config.name] = config
    return providers


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the OpenID provider's discovery document this client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    iss_parameter_supported: bool


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    content_type: str
    body: bytes


def _fail(code: str, detail: str) -> NoReturn:
    raise ProviderError(detail, code=code)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _parse_time(value: object) -> datetime | None:
    """An OIDC4IDA time stamp (ISO 8601 with a zone), or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _key_fits(key: Key, alg: str) -> bool:
    if key.is_private:
        return False  # a JWKS with private keys is a misconfigured provider
    if key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
        return False
    if alg == "ES256":
        return isinstance(key, ECKey) and key.curve_name == "P-256"
    if alg in ("RS256", "PS256") and isinstance(key, RSAKey):
        native = key.raw_value
        return isinstance(native, rsa.RSAPublicKey) and native.key_size >= _MIN_RSA_BITS
    return False


class OidcIdaProvider:
    """One configured OpenID provider; discovery and JWKS are cached per instance."""

    def __init__(self, config: OidcIdaConfig, *, http: httpx.Client, clock: Clock) -> None:
        self.config = config
        self.name = f"oidc_ida:{config.name}"
        self._http = http
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._keys: tuple[Key, ...] | None = None
        self._keys_fetched_at: datetime | None = None

    # --- outbound HTTP -------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> _Answer:
        """One call with the configured timeout, no redirects and a size limit; transport
        failures and 5xx answers fail closed as ``provider_unreachable``."""
        timeout = self.config.timeout_seconds
        deadline = time.monotonic() + timeout
        try:
            with self._http.stream(
                method,
                url,
                headers={"Accept-Encoding": "identity", **headers},
                data=data,
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if status >= 500:
                    _fail(codes.PROVIDER_UNREACHABLE, f"{what} answered {status}")
                body = bytearray()
                for chunk in response.iter_bytes():  # identity: the raw bytes
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        _fail(codes.PROVIDER_ERROR, f"{what} answer is too large")
                    if time.monotonic() > deadline:
                        _fail(codes.PROVIDER_UNREACHABLE, f"{what} timed out")
                content_type = response.headers.get("content-type", "")
                encoding = response.headers.get("content-encoding", "identity").lower()
        except httpx.TimeoutException:
            _fail(codes.PROVIDER_UNREACHABLE, f"{what} timed out")
        except httpx.HTTPError as exc:
            _fail(codes.PROVIDER_UNREACHABLE, f"{what} failed: {type(exc).__name__}")
        if encoding != "identity":
            _fail(codes.PROVIDER_ERROR, f"{what} answer has content-encoding {encoding!r}")
        return _Answer(status, content_type.split(";")[0].strip().lower(), bytes(body))

    def _json(self, answer: _Answer, *, what: str, code: str) -> dict[str, Any]:
        if answer.status != 200:
            _fail(code, f"{what} answered {answer.status}")
        if answer.content_type != "application/json":
            _fail(code, f"{what} answer is not application/json")
        try:
            return loads_json_object(answer.body, what=what)
        except CredentialError:
            _fail(code, f"{what} answer is not a JSON object")

    # --- discovery and keys --------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (OpenID Connect Discovery 1.0 §4), fetched once."""
        if self._metadata is None:
            self._metadata = self._discover()
        return self._metadata

    def _discover(self) -> ProviderMetadata:
        what = "discovery"
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._json(
            self._request("GET", url, what=what, headers={"Accept": "application/json"}),
            what=what,
            code=codes.PROVIDER_ERROR,
        )
        # OpenID Connect Discovery §4.3: exactly the configured issuer, or a mix-up is possible
        if document.get("issuer") != self.config.issuer:
            _fail(codes.ISSUER_MISMATCH, "discovery issuer is not the configured issuer")

        def endpoint(name: str, *, required: bool = True) -> str | None:
            value = document.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str):
                _fail(codes.PROVIDER_ERROR, f"discovery lacks {name}")
            try:
                return _check_url(value, what=name)
            except ValueError:
                _fail(codes.PROVIDER_ERROR, f"discovery {name} is not an https URL")

        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            _fail(codes.PROVIDER_ERROR, "the provider does not support PKCE S256")
        return ProviderMetadata(
            issuer=self.config.issuer,
            authorization_endpoint=str(endpoint("authorization_endpoint")),
            token_endpoint=str(endpoint("token_endpoint")),
            jwks_uri=str(endpoint("jwks_uri")),
            userinfo_endpoint=endpoint("userinfo_endpoint", required=False),
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
            is True,
        )

    def _fetch_keys(self) -> tuple[Key, ...]:
        what = "jwks"
        answer = self._request(
            "GET",
            self.metadata().jwks_uri,
            what=what,
            headers={"Accept": "application/json, application/jwk-set+json"},
        )
        if answer.content_type == "application/jwk-set+json":
            answer = _Answer(answer.status, "application/json", answer.body)
        document = self._json(answer, what=what, code=codes.PROVIDER_ERROR)
        entries = document.get("keys")
        if not isinstance(entries, list):
            _fail(codes.PROVIDER_ERROR, "jwks has no keys list")
        keys: list[Key] = []
        for entry in entries:
            # a key we cannot use is skipped, not fatal: providers publish keys of other types
            if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
                continue
            try:
                keys.append(import_key(entry))
            except (JoseError, ValueError, TypeError, KeyError):
                continue
        self._keys_fetched_at = self._clock.now()
        return tuple(keys)

    def _keys_for(self, *, kid: str | None, alg: str) -> list[Key]:
        if self._keys is None:
            self._keys = self._fetch_keys()
        candidates = self._matching(kid=kid, alg=alg)
        fetched = self._keys_fetched_at
        # an unknown kid may be a rotated key: fetch the set again, but not more than every 5 min
        if not candidates and (
            fetched is None or self._clock.now() - fetched >= JWKS_REFRESH_INTERVAL
        ):
            self._keys = self._fetch_keys()
            candidates = self._matching(kid=kid, alg=alg)
        return candidates

    def _matching(self, *, kid: str | None, alg: str) -> list[Key]:
        keys = self._keys or ()
        return [k for k in keys if (kid is None or k.kid == kid) and _key_fits(k, alg)]

    # --- the authorization request -------------------------------------------------------

    def claims_request(self) -> dict[str, Any]:
        """The ``claims`` request parameter asking for ``verified_claims`` (OIDC4IDA 1.0)."""
        verification: dict[str, Any] = {"trust_framework": None}
        if self.config.max_age_days is not None:
            verification["time"] = {"max_age": self.config.max_age_days * 86400}
        else:
            verification["time"] = None
        if self.config.evidence_types is not None:
            verification["evidence"] = [{"type": None}]
        verified_claims = {
            "verification": verification,
            "claims": {claim: None for claim in self.config.claims},
        }
        return {
            "userinfo": {"verified_claims": verified_claims},
            "id_token": {"verified_claims": verified_claims},
        }

    def begin(self, *, redirect_uri: str) -> RedirectStart:
        """The authorization request URL (code flow, PKCE S256, state, nonce, claims) and the
        secrets the flow keeps, encrypted, to finish with."""
        try:
            _check_url(redirect_uri, what="redirect_uri")
        except ValueError:
            _fail(codes.PROVIDER_ERROR, "redirect_uri must be an https URL")
        metadata = self.metadata()
        state = secrets.token_urlsafe(_SECRET_BYTES)
        nonce = secrets.token_urlsafe(_SECRET_BYTES)
        verifier = secrets.token_urlsafe(_SECRET_BYTES)  # 43 characters, RFC 7636 §4.1
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "claims": json.dumps(self.claims_request(), separators=(",", ":")),
        }
        url = httpx.URL(metadata.authorization_endpoint).copy_merge_params(params)
        log.info("provider.oidc_ida.begin", provider=self.name)
        return RedirectStart(
            url=str(url),
            secrets={
                "state": state,
                "nonce": nonce,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
                "issuer": self.config.issuer,
            },
        )

    # --- the way back --------------------------------------------------------------------

    def complete(
        self, *, params: Mapping[str, str], secrets: Mapping[str, str]
    ) -> VerifiedIdentity:
        """Finish the flow from the redirect's query ``params`` and the ``secrets`` of
        :meth:`begin`; returns the verified identity or raises ProviderError."""
        try:
            identity = self._complete(params=params, flow_secrets=secrets)
        except ProviderError as exc:
            log.info("provider.oidc_ida.complete", provider=self.name, outcome=exc.code)
            raise
        log.info("provider.oidc_ida.complete", provider=self.name, outcome="verified")
        return identity

    def _complete(
        self, *, params: Mapping[str, str], flow_secrets: Mapping[str, str]
    ) -> VerifiedIdentity:
        for key in _SECRET_KEYS:
            if not isinstance(flow_secrets.get(key), str) or not flow_secrets[key]:
                _fail(codes.PROVIDER_ERROR, f"the flow secrets lack {key}")
        if flow_secrets.get("issuer", self.config.issuer) != self.config.issuer:
            _fail(codes.ISSUER_MISMATCH, "the flow was started with another provider")
        state = params.get("state")
        if not isinstance(state, str) or not _same(state, flow_secrets["state"]):
            _fail(codes.STATE_MISMATCH, "state does not match the flow")
        metadata = self.metadata()
        iss = params.get("iss")
        if iss is not None:
            if iss != self.config.issuer:  # RFC 9207 §2.4
                _fail(codes.ISSUER_MISMATCH, "iss parameter is not the provider's issuer")
        elif metadata.iss_parameter_supported:
            _fail(codes.ISSUER_MISMATCH, "iss parameter missing though the provider sends it")
        error = params.get("error")
        if error is not None:
            shown = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else "?"
            code = codes.ACCESS_DENIED if error == "access_denied" else codes.PROVIDER_ERROR
            _fail(code, f"the provider answered error {shown}")
        code_value = params.get("code")
        if not isinstance(code_value, str) or not 0 < len(code_value) <= MAX_CODE_CHARS:
            _fail(codes.PROVIDER_ERROR, "the redirect carries no authorization code")

        access_token, id_token = self._redeem(metadata, code=code_value, flow_secrets=flow_secrets)
        claims = self._verify_id_token(
            id_token, expected_nonce=flow_secrets["nonce"], access_token=access_token
        )
        subject = claims["sub"]
        userinfo: dict[str, Any] = {}
        if metadata.userinfo_endpoint is not None:
            userinfo = self._userinfo(metadata.userinfo_endpoint, access_token=access_token)
            if userinfo.get("sub") != subject:  # OIDC Core §5.3.2
                _fail(codes.SUBJECT_MISMATCH, "userinfo sub is not the ID token's sub")
        raw = userinfo.get("verified_claims")
        if raw is None:
            raw = claims.get("verified_claims")
        return self._identity(raw, subject=subject)

    def _redeem(
        self, metadata: ProviderMetadata, *, code: str, flow_secrets: Mapping[str, str]
    ) -> tuple[str, str]:
        what = "token endpoint"
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow_secrets["redirect_uri"],
            "code_verifier": flow_secrets["code_verifier"],
        }
        headers = {"Accept": "application/json"}
        secret = self.config.client_secret
        if secret is not None:
            # client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1)
            basic = f"{quote(self.config.client_id, safe='')}:{quote(secret.get_secret_value(), safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode("ascii")
        else:
            form["client_id"] = self.config.client_id
        answer = self._request(
            "POST", metadata.token_endpoint, what=what, headers=headers, data=form
        )
        document = self._json(answer, what=what, code=codes.TOKEN_ERROR)
        access_token = document.get("access_token")
        id_token = document.get("id_token")
        token_type = document.get("token_type")
        if not isinstance(access_token, str) or not 0 < len(access_token) <= MAX_TOKEN_CHARS:
            _fail(codes.TOKEN_ERROR, "token response lacks access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            _fail(codes.TOKEN_ERROR, "token response is not a bearer token")
        if not isinstance(id_token, str) or not 0 < len(id_token) <= MAX_TOKEN_CHARS:
            _fail(codes.TOKEN_ERROR, "token response lacks id_token")
        return access_token, id_token

    def _verify_id_token(
        self, token: str, *, expected_nonce: str, access_token: str
    ) -> dict[str, Any]:
        """OpenID Connect Core §3.1.3.7, signature first so nothing unsigned is read."""
        bad = codes.ID_TOKEN_INVALID
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            header = compact.headers()
        except (JoseError, ValueError, TypeError, KeyError, UnicodeError):
            _fail(bad, "ID token is not a compact JWS")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGS:
            _fail(bad, "ID token alg is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            _fail(bad, "ID token kid is not a string")
        candidates = self._keys_for(kid=kid, alg=alg)
        if not candidates:
            _fail(bad, "ID token key is not in the provider's JWKS")
        if kid is None and len(candidates) > 1:
            _fail(bad, "ID token names no kid and the JWKS has several keys")  # Core §10.1
        try:
            valid = jws.validate_compact(compact, candidates[0], algorithms=[alg])
        except (JoseError, ValueError, TypeError, KeyError):
            valid = False
        if not valid:
            _fail(bad, "ID token signature does not verify")
        try:
            claims = loads_json_object(compact.payload, what="ID token")
        except CredentialError:
            _fail(bad, "ID token payload is not a JSON object")

        if claims.get("iss") != self.config.issuer:
            _fail(codes.ISSUER_MISMATCH, "ID token iss is not the provider's issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or self.config.client_id not in audiences:
            _fail(bad, "ID token aud does not contain the client_id")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.config.client_id:
            _fail(bad, "ID token azp is not the client_id")
        now = self._clock.now().timestamp()
        leeway = LEEWAY.total_seconds()
        exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
        if exp is None or iat is None:
            _fail(bad, "ID token lacks exp or iat")
        if now >= exp + leeway:
            _fail(bad, "ID token has expired")
        if iat > now + leeway:
            _fail(bad, "ID token is issued in the future")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not _same(nonce, expected_nonce):
            _fail(codes.NONCE_MISMATCH, "ID token nonce does not match the flow")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 255:
            _fail(bad, "ID token sub is missing")
        at_hash = claims.get("at_hash")
        if at_hash is not None:
            # SHA-256 for all three allowed algorithms (Core §3.1.3.6)
            digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
            if not isinstance(at_hash, str) or not _same(at_hash, _b64url(digest[:16])):
                _fail(bad, "ID token at_hash does not match the access token")
        return claims

    def _userinfo(self, url: str, *, access_token: str) -> dict[str, Any]:
        what = "userinfo"
        answer = self._request(
            "GET",
            url,
            what=what,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        return self._json(answer, what=what, code=codes.PROVIDER_ERROR)

    # --- verified claims -----------------------------------------------------------------

    def _identity(self, raw: object, *, subject: str) -> VerifiedIdentity:
        if raw is None:
            _fail(codes.CLAIMS_MISSING, "neither userinfo nor the ID token has verified_claims")
        elements: Sequence[object] = raw if isinstance(raw, list) else [raw]
        if not elements:
            _fail(codes.CLAIMS_MISSING, "verified_claims is empty")
        first_error: ProviderError | None = None
        for element in elements:
            # each element stands alone: claims are never merged across verifications
            try:
                return self._identity_from(element, subject=subject)
            except ProviderError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    def _identity_from(self, element: object, *, subject: str) -> VerifiedIdentity:
        if not isinstance(element, dict):
            _fail(codes.CLAIMS_INVALID, "verified_claims element is not an object")
        verification = element.get("verification")
        if not isinstance(verification, dict):
            _fail(codes.VERIFICATION_INVALID, "verified_claims lacks verification")
        framework = verification.get("trust_framework")
        if not isinstance(framework, str):
            _fail(codes.VERIFICATION_INVALID, "verification lacks trust_framework")
        if framework not in self.config.trust_frameworks:
            _fail(codes.UNTRUSTED_FRAMEWORK, "trust_framework is not allowed for this provider")
        verified_at = _parse_time(verification.get("time"))
        if verified_at is None:
            _fail(codes.VERIFICATION_INVALID, "verification time is missing or malformed")
        now = self._clock.now()
        if verified_at > now + LEEWAY:
            _fail(codes.VERIFICATION_INVALID, "verification time is in the future")
        max_age = self.config.max_age_days
        if max_age is not None and now - verified_at > timedelta(days=max_age):
            _fail(codes.VERIFICATION_TOO_OLD, f"verification is older than {max_age} days")
        evidence_types = self._evidence_types(verification.get("evidence"))
        allowed = self.config.evidence_types
        if allowed is not None and (
            not evidence_types or any(t not in allowed for t in evidence_types)
        ):
            _fail(codes.EVIDENCE_NOT_ALLOWED, "evidence types are not allowed for this provider")

        raw_claims = element.get("claims")
        if not isinstance(raw_claims, dict):
            _fail(codes.CLAIMS_MISSING, "verified_claims lacks claims")
        claims = {c: raw_claims[c] for c in self.config.claims if raw_claims.get(c) is not None}
        missing = [c for c in self.config.required_claims if c not in claims]
        if missing:
            _fail(codes.CLAIMS_MISSING, f"verified claims lack {', '.join(missing)}")
        _check_claim_values(claims)

        evidence: dict[str, Any] = {
            "trust_framework": framework,
            "evidence_types": list(evidence_types),
            "verification_time": verified_at.astimezone(UTC).isoformat(),
        }
        assurance = verification.get("assurance_level")
        if isinstance(assurance, str):
            evidence["assurance_level"] = assurance
        return VerifiedIdentity(
            provider=self.name,
            issuer=self.config.issuer,
            format=FORMAT,
            credential_type=framework,
            claims=claims,
            subject=f"{self.config.issuer}#{subject}",
            evidence=evidence,
            portrait=None,
        )

    @staticmethod
    def _evidence_types(value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            _fail(codes.VERIFICATION_INVALID, "verification evidence is not a list")
        types: list[str] = []
        for item in value:
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(kind, str):
                _fail(codes.VERIFICATION_INVALID, "an evidence element lacks its type")
            types.append(kind)
        return tuple(types)


def _check_claim_values(claims: Mapping[str, Any]) -> None:
    for name in ("given_name", "family_name"):
        value = claims.get(name)
        if value is not None and (
            not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS
        ):
            _fail(codes.CLAIMS_INVALID, f"{name} is not a name")
    birthdate = claims.get("birthdate")
    if birthdate is not None:
        try:
            if not isinstance(birthdate, str) or len(birthdate) != 10:
                raise ValueError
            date.fromisoformat(birthdate)
        except ValueError:
            _fail(codes.CLAIMS_INVALID, "birthdate is not YYYY-MM-DD")
