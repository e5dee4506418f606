"""The custom authentication extension client (R29): an organisation endpoint confirms a verified
credential's claims for the candidate account (Entra's ``OnVerifiedIdClaimValidation``, done openly).

Every call carries a 60-second ES256 JWT signed with the service key (``aud`` = the endpoint URL,
``body_sha256`` binds it to the body), times out (2 s by default), is retried at most once and only
after a timeout, a connection error or a 5xx, and fails closed on anything else. The protocol, as
organisations implement it, is docs/EXTENSION.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
import structlog

from ssar.clock import Clock
from ssar.credentials.jose import b64url_encode, loads_json
from ssar.errors import CredentialError, ValidationFailed
from ssar.keys import SigningKey

log = structlog.get_logger(__name__)

EVENT_TYPE: Final = "ssar.recovery.verifiedClaimsValidation"
TOKEN_LIFETIME: Final = timedelta(seconds=60)
DEFAULT_TIMEOUT_SECONDS: Final = 2.0
MAX_TIMEOUT_SECONDS: Final = 30.0
MAX_RESPONSE_BYTES: Final = 64 * 1024
MAX_FAILED_CLAIMS: Final = 64
_FAILED_CLAIM = re.compile(r"[A-Za-z0-9_.:\-]{1,64}", re.ASCII)

# Stable reason codes of ExtensionResult (for the case record and the audit log).
PASSED: Final = "passed"
FAILED: Final = "failed"  # the organisation answered "fail"
TIMEOUT: Final = "timeout"
CONNECTION_ERROR: Final = "connection_error"
TRANSPORT_ERROR: Final = "transport_error"
SERVER_ERROR: Final = "server_error"
UNEXPECTED_STATUS: Final = "unexpected_status"
REDIRECT_REFUSED: Final = "redirect_refused"
UNSUPPORTED_ENCODING: Final = "unsupported_encoding"
RESPONSE_TOO_LARGE: Final = "response_too_large"
MALFORMED_JSON: Final = "malformed_json"
SCHEMA_MISMATCH: Final = "schema_mismatch"
INVALID_URL: Final = "invalid_url"

_RETRYABLE: Final = frozenset({TIMEOUT, CONNECTION_ERROR, SERVER_ERROR})


@dataclass(frozen=True, slots=True)
class DocumentClaims:
    type: str  # e.g. "passport", "id_card", "driving_licence"
    number: str
    expiry: str | None = None  # ISO date


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    """The verified credential's claims sent to the extension."""

    given_name: str
    family_name: str
    birthdate: str | None = None  # ISO date
    document: DocumentClaims | None = None

    def to_json(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"given_name": self.given_name, "family_name": self.family_name}
        if self.birthdate is not None:
            claims["birthdate"] = self.birthdate
        if self.document is not None:
            claims["document"] = {
                "type": self.document.type,
                "number": self.document.number,
                "expiry": self.document.expiry,
            }
        return claims


class _DirectoryUser(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def employee_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CandidateUser:
    """The directory account the person is recovering, as the extension sees it."""

    id: str
    username: str
    given_name: str
    family_name: str
    employee_id: str | None = None

    @classmethod
    def from_user(cls, user: _DirectoryUser) -> CandidateUser:
        return cls(user.id, user.username, user.given_name, user.family_name, user.employee_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "employee_id": self.employee_id,
        }


@dataclass(frozen=True, slots=True)
class ExtensionResult:
    passed: bool
    failed_claims: tuple[str, ...]  # as the organisation named them, when it answered "fail"
    reason: str  # PASSED, FAILED or why the call failed closed
    attempts: int = 1
    status_code: int | None = None  # of the last answer, if any


def request_body(*, claims: VerifiedClaims, user: CandidateUser, flow_id: str) -> bytes:
    """The exact bytes POSTed to the extension (their SHA-256 is in the JWT)."""
    document = {
        "type": EVENT_TYPE,
        "flow_id": flow_id,
        "claims": claims.to_json(),
        "user": user.to_json(),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_answer(body: bytes) -> tuple[str, tuple[str, ...]]:
    """``(PASSED | FAILED, failed_claims)`` or ``(MALFORMED_JSON | SCHEMA_MISMATCH, ())``.

    The answer is exactly ``{"result": "pass"}`` or ``{"result": "fail", "failed_claims": [...]}``,
    with an optional string ``message`` that is ignored. Any other member fails closed: an answer
    we do not fully understand is never taken for a pass.
    """
    try:
        answer = loads_json(body, what="extension answer")
    except CredentialError:
        return MALFORMED_JSON, ()
    if not isinstance(answer, dict):
        return SCHEMA_MISMATCH, ()
    if "message" in answer and not isinstance(answer["message"], str):
        return SCHEMA_MISMATCH, ()
    members = set(answer) - {"message"}
    if answer.get("result") == "pass" and members == {"result"}:
        return PASSED, ()
    if answer.get("result") == "fail" and members == {"result", "failed_claims"}:
        failed = answer["failed_claims"]
        if (
            isinstance(failed, list)
            and len(failed) <= MAX_FAILED_CLAIMS
            and all(isinstance(c, str) and _FAILED_CLAIM.fullmatch(c) for c in failed)
        ):
            return FAILED, tuple(failed)
    return SCHEMA_MISMATCH, ()


@dataclass(frozen=True, slots=True)
class _Attempt:
    reason: str
    failed_claims: tuple[str, ...] = ()
    status_code: int | None = None


class ExtensionClient:
    """Calls an organisation's extension endpoint through the injected ``http`` client."""

    def __init__(
        self, *, http: httpx.Client, signing_key: SigningKey, issuer: str, clock: Clock
    ) -> None:
        self._http = http
        self._key = signing_key
        self._issuer = issuer
        self._clock = clock

    def request_token(self, *, url: str, body: bytes) -> str:
        """A fresh JWT for one attempt: ES256, ``typ`` JWT, ``kid`` of the service key; ``iss``
        the service's base URL, ``aud`` the endpoint URL exactly, 60 s lifetime, random ``jti``,
        and ``body_sha256`` (base64url SHA-256 of the body) so it cannot carry another body."""
        issued_at = int(self._clock.now().timestamp())
        payload = {
            "iss": self._issuer,
            "aud": url,
            "iat": issued_at,
            "exp": issued_at + int(TOKEN_LIFETIME.total_seconds()),
            "jti": secrets.token_urlsafe(16),
            "body_sha256": b64url_encode(hashlib.sha256(body).digest()),
        }
        return self._key.sign_jwt({"typ": "JWT"}, payload)

    def validate(
        self,
        *,
        url: str,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        claims: VerifiedClaims,
        user: CandidateUser,
        flow_id: str,
    ) -> ExtensionResult:
        """Ask the extension at ``url`` to confirm ``claims`` for ``user``; never raises on what
        the endpoint does. ``passed`` only on a 200 answer ``{"result": "pass"}``."""
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValidationFailed(
                f"timeout_seconds must be in (0, {MAX_TIMEOUT_SECONDS:g}]", field="timeout_seconds"
            )
        target = urlsplit(url)
        host = target.hostname or ""
        if target.scheme not in ("https", "http") or not host or target.username is not None:
            return self._finish(_Attempt(INVALID_URL), 0, host=host, flow_id=flow_id)
        body = request_body(claims=claims, user=user, flow_id=flow_id)
        attempt = self._attempt(url=url, body=body, timeout_seconds=timeout_seconds)
        attempts = 1
        if attempt.reason in _RETRYABLE:
            attempt = self._attempt(url=url, body=body, timeout_seconds=timeout_seconds)
            attempts = 2
        return self._finish(attempt, attempts, host=host, flow_id=flow_id)

    def _finish(
        self, attempt: _Attempt, attempts: int, *, host: str, flow_id: str
    ) -> ExtensionResult:
        # the host only: the path or query may hold a function key; never the claims
        log.info(
            "recovery.extension",
            host=host,
            flow_id=flow_id,
            reason=attempt.reason,
            attempts=attempts,
            status=attempt.status_code,
        )
        return ExtensionResult(
            passed=attempt.reason == PASSED,
            failed_claims=attempt.failed_claims,
            reason=attempt.reason,
            attempts=attempts,
            status_code=attempt.status_code,
        )

    def _attempt(self, *, url: str, body: bytes, timeout_seconds: float) -> _Attempt:
        headers = {
            "Authorization": f"Bearer {self.request_token(url=url, body=body)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",  # the size limit counts what we parse
        }
        # httpx times each phase (connect, write, each read); the deadline bounds a slow drip
        deadline = time.monotonic() + timeout_seconds
        try:
            with self._http.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                timeout=httpx.Timeout(timeout_seconds),
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if response.is_redirect or 300 <= status < 400:
                    return _Attempt(REDIRECT_REFUSED, status_code=status)
                if status >= 500:
                    return _Attempt(SERVER_ERROR, status_code=status)
                if status != 200:
                    return _Attempt(UNEXPECTED_STATUS, status_code=status)
                if response.headers.get("content-encoding", "identity").lower() != "identity":
                    return _Attempt(UNSUPPORTED_ENCODING, status_code=status)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                    return _Attempt(RESPONSE_TOO_LARGE, status_code=status)
                data = bytearray()
                for chunk in response.iter_bytes():  # identity: the raw bytes
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        return _Attempt(RESPONSE_TOO_LARGE, status_code=status)
                    if time.monotonic() > deadline:
                        return _Attempt(TIMEOUT, status_code=status)
        except httpx.TimeoutException:
            return _Attempt(TIMEOUT)
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            return _Attempt(CONNECTION_ERROR)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            return _Attempt(INVALID_URL)
        except httpx.HTTPError:
            return _Attempt(TRANSPORT_ERROR)
        reason, failed_claims = parse_answer(bytes(data))
        return _Attempt(reason, failed_claims, status)
