"""The results the sign-in services return: frozen, and never holding more secret than the caller
must show once (a TAP, a session token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

MethodType = Literal["passkey", "totp", "tap"]


@dataclass(frozen=True)
class IssuedTap:
    """A freshly issued Temporary Access Pass. ``tap`` is shown once and never stored."""

    method_id: str
    user_id: str
    tap: str
    expires_at: datetime
    one_time: bool


@dataclass(frozen=True)
class RedeemedTap:
    method_id: str
    user_id: str
    one_time: bool


@dataclass(frozen=True)
class SessionInfo:
    """A valid browser session, as resolved from its cookie."""

    user_id: str
    username: str
    display_name: str
    method_id: str | None
    method_type: str
    authenticated_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedSession:
    """A session just started. ``token`` goes into the cookie; only its keyed hash is stored."""

    token: str
    info: SessionInfo


@dataclass(frozen=True)
class SigninResult:
    """The outcome of a successful sign-in: the new session and where the browser goes next."""

    session: IssuedSession
    method_type: MethodType
    must_register_passkey: bool


@dataclass(frozen=True)
class WebAuthnOptions:
    """Options for ``navigator.credentials.create/get``, as the JSON dict the browser needs."""

    public_key: dict[str, Any]


@dataclass(frozen=True)
class MethodInfo:
    """One active sign-in method as the security-info page lists it."""

    id: str
    type: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class TotpEnrolment:
    """A pending authenticator-app enrolment. ``enrolment_token`` carries the encrypted secret
    between the page that shows the QR code and the confirmation, so nothing half-made is stored."""

    secret: str
    provisioning_uri: str
    qr_data_uri: str
    enrolment_token: str


@dataclass(frozen=True)
class RevokedMethod:
    """A method an administrator revoked, and how many sessions that signed in with it ended."""

    method_id: str
    type: str
    label: str
    sessions_ended: int
