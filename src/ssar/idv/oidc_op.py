"""The reference verification service as an OpenID provider with identity assurance
(OpenID Connect for Identity Assurance 1.0): a relying party redirects a person here, the
person shows a document and takes a live selfie (the same checks as for a credential), and the
relying party gets an ID token and ``verified_claims`` from userinfo.

Authorization code flow with PKCE (S256 only), public clients registered in
``SSAR_IDV_OIDC_CLIENTS_FILE`` (YAML ``{"clients": [{"client_id", "redirect_uris"}]}``).
The pending authorization request rides in an encrypted cookie while the person verifies; codes
and access tokens are single use and stored only as keyed hashes; the claims are encrypted at
rest and erased when the token has been used or has expired. ``sub`` is pairwise: a keyed hash
of the client and the document, so two relying parties cannot link the person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from sqlalchemy import select, update

from ssar.clock import Clock
from ssar.errors import ConfigurationError
from ssar.idv.errors import IssuanceError
from ssar.keys import SecretKey, SigningKey, b64url
from ssar.store.db import Database
from ssar.store.tables import IdvOidcGrantRow

TRUST_FRAMEWORK = "ssar_reference"
CODE_LIFETIME = timedelta(minutes=2)
TOKEN_LIFETIME = timedelta(minutes=5)
ID_TOKEN_LIFETIME = timedelta(minutes=10)
_COOKIE_PURPOSE = "idv/oidc-request"
_CLAIMS_PURPOSE = "idv/oidc-claims"
#: what the verified_claims can carry (the document's names and birth date)
CLAIMS = ("given_name", "family_name", "birthdate")


def _fail(code: str, detail: str) -> IssuanceError:
    return IssuanceError(detail, code=code)


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]


def load_clients(path: Path | None) -> dict[str, Client]:
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {
            str(c["client_id"]): Client(str(c["client_id"]), tuple(map(str, c["redirect_uris"])))
            for c in document["clients"]
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{path}: not an OpenID clients file ({exc})") from exc


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str

    def to_json(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
        }


class OpenIdProvider:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        secret_key: SecretKey,
        key: SigningKey,
        issuer: str,
        clients: Mapping[str, Client],
    ) -> None:
        self._db = database
        self._clock = clock
        self._secret = secret_key
        self._key = key
        self.issuer = issuer
        self._clients = dict(clients)

    # --- metadata -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/oidc/authorize",
            "token_endpoint": f"{self.issuer}/oidc/token",
            "userinfo_endpoint": f"{self.issuer}/oidc/userinfo",
            "jwks_uri": f"{self.issuer}/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
            "claims_parameter_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "verified_claims_supported": True,
            "trust_frameworks_supported": [TRUST_FRAMEWORK],
            "evidence_supported": ["document"],
            "claims_in_verified_claims_supported": list(CLAIMS),
        }

    # --- authorization --------------------------------------------------------------------

    def check_request(self, params: Mapping[str, str]) -> AuthorizationRequest:
        """Validate an authorization request (OIDC Core §3.1.2.2, PKCE RFC 7636)."""
        client = self._clients.get(params.get("client_id", ""))
        if client is None:
            raise _fail("invalid_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise _fail("invalid_request", "redirect_uri is not registered for this client")
        if params.get("response_type") != "code":
            raise _fail("unsupported_response_type", "only response_type=code")
        if "openid" not in params.get("scope", "").split():
            raise _fail("invalid_scope", "scope must contain openid")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise _fail("invalid_request", "PKCE with S256 is required")
        nonce, state = params.get("nonce", ""), params.get("state", "")
        if not nonce or len(nonce) > 256 or len(state) > 512:
            raise _fail("invalid_request", "a nonce (at most 256 characters) is required")
        return AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            code_challenge=params["code_challenge"][:128],
        )

    def seal_request(self, request: AuthorizationRequest) -> str:
        blob = self._secret.encrypt(_COOKIE_PURPOSE, json.dumps(request.to_json()).encode())
        return b64url(blob)

    def open_request(self, cookie: str | None) -> AuthorizationRequest | None:
        if not cookie:
            return None
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            return AuthorizationRequest(**json.loads(self._secret.decrypt(_COOKIE_PURPOSE, raw)))
        except Exception:
            return None

    def grant(
        self, request: AuthorizationRequest, *, identity: Mapping[str, Any], document_hash: str
    ) -> str:
        """The redirect back to the client with a fresh code, after a successful verification."""
        now = self._clock.now()
        code = secrets.token_urlsafe(32)
        subject = self._secret.keyed_hash("idv/oidc-sub", f"{request.client_id}\0{document_hash}")
        with self._db.transaction() as session:
            session.add(
                IdvOidcGrantRow(
                    code_hash=self._secret.keyed_hash("idv/oidc-code", code),
                    client_id=request.client_id,
                    redirect_uri=request.redirect_uri,
                    code_challenge=request.code_challenge,
                    nonce=request.nonce,
                    subject=subject[:64],
                    claims_enc=self._secret.encrypt(
                        _CLAIMS_PURPOSE, json.dumps(dict(identity)).encode()
                    ),
                    created_at=now,
                    expires_at=now + CODE_LIFETIME,
                )
            )
        query = {"code": code, "state": request.state, "iss": self.issuer}
        separator = "&" if "?" in request.redirect_uri else "?"
        return f"{request.redirect_uri}{separator}{urlencode(query)}"

    # --- token and userinfo ---------------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "authorization_code":
            raise _fail("unsupported_grant_type", "only authorization_code")
        code, verifier = form.get("code", ""), form.get("code_verifier", "")
        now = self._clock.now()
        access = secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            row = session.execute(
                select(IdvOidcGrantRow)
                .where(IdvOidcGrantRow.code_hash == self._secret.keyed_hash("idv/oidc-code", code))
                .with_for_update()
            ).scalar_one_or_none()
            if row is None or row.used_at is not None or now >= row.expires_at:
                raise _fail("invalid_grant", "the code is unknown, used or expired")
            if row.client_id != form.get("client_id") or row.redirect_uri != form.get(
                "redirect_uri"
            ):
                raise _fail("invalid_grant", "client_id or redirect_uri does not match the code")
            challenge = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not hmac.compare_digest(challenge, row.code_challenge):
                raise _fail("invalid_grant", "the PKCE verifier does not match")
            taken = session.execute(
                update(IdvOidcGrantRow)
                .where(IdvOidcGrantRow.id == row.id, IdvOidcGrantRow.used_at.is_(None))
                .values(
                    used_at=now,
                    token_hash=self._secret.keyed_hash("idv/oidc-token", access),
                    expires_at=now + TOKEN_LIFETIME,
                )
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                raise _fail("invalid_grant", "the code was used")
            claims = {
                "iss": self.issuer,
                "sub": row.subject,
                "aud": row.client_id,
                "iat": int(now.timestamp()),
                "exp": int((now + ID_TOKEN_LIFETIME).timestamp()),
                "nonce": row.nonce,
            }
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "id_token": self._sign(claims),
        }

    def userinfo(self, access_token: str) -> dict[str, Any]:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.execute(
                select(IdvOidcGrantRow)
                .where(
                    IdvOidcGrantRow.token_hash
                    == self._secret.keyed_hash("idv/oidc-token", access_token)
                )
                .with_for_update()
            ).scalar_one_or_none()
            if row is None or row.claims_enc is None or now >= row.expires_at:
                raise _fail("invalid_token", "the access token is unknown or expired")
            identity = json.loads(self._secret.decrypt(_CLAIMS_PURPOSE, row.claims_enc))
            row.claims_enc = None  # the claims are handed out once
            subject = row.subject
        verification = identity["verification"]
        return {
            "sub": subject,
            "verified_claims": {
                "verification": {
                    "trust_framework": TRUST_FRAMEWORK,
                    "assurance_level": verification["strength"].lower(),
                    "time": verification["time"],
                    "evidence": [
                        {
                            "type": "document",
                            "document_details": {
                                "type": verification["document_type"],
                                "issuer": {"country_code": verification["issuing_country"]},
                            },
                        }
                    ],
                },
                "claims": {name: identity[name] for name in CLAIMS if identity.get(name)},
            },
        }

    def purge(self, now: datetime | None = None) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(IdvOidcGrantRow)
                .where(IdvOidcGrantRow.expires_at < (now or self._clock.now()))
                .values(claims_enc=None)
            )

    def _sign(self, claims: Mapping[str, Any]) -> str:
        return self._key.sign_jwt({"typ": "JWT"}, claims)
