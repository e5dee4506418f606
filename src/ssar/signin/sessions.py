"""Browser sessions and CSRF tokens (SECURITY.md R26).

- The session cookie is ``__Host-ssar_session`` when the service is served over HTTPS (``Secure``,
  ``Path=/``, no ``Domain``), else ``ssar_session``; always ``HttpOnly`` and ``SameSite=Lax``.
- Its value is 256 random bits from ``secrets``; the database keeps only a keyed hash.
- Every sign-in starts a new session and revokes the one the browser had; sign-out revokes.
- A session ends after ``session_idle_minutes`` without a request and ``session_absolute_hours``
  after sign-in, whatever happens.
- CSRF: every state-changing request carries ``HMAC(key, binding token)``, where the binding token
  is the session token when signed in, else a random pre-session cookie (``ssar_browser``). The same
  binding ties WebAuthn challenges to the browser that asked for them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssar.clock import Clock
from ssar.config import Settings
from ssar.errors import CsrfFailed
from ssar.keys import SecretKey
from ssar.signin.common import audit
from ssar.signin.models import IssuedSession, SessionInfo
from ssar.store.db import Database
from ssar.store.tables import SessionRow, UserRow

TOKEN_BYTES = 32  # 256 bits
SESSION_HASH_PURPOSE = "session"
CSRF_PURPOSE = "csrf"
BINDING_PURPOSE = "browser-binding"
# last_seen_at is written at most this often, so a burst of requests is one write, not many
TOUCH_INTERVAL = timedelta(seconds=30)


@dataclass(frozen=True)
class CookieSpec:
    """How one of our cookies is set; ``Set-Cookie`` is built from this alone."""

    name: str
    secure: bool
    httponly: bool = True
    samesite: str = "lax"
    path: str = "/"


def session_cookie(settings: Settings) -> CookieSpec:
    if settings.https:
        return CookieSpec(name="__Host-ssar_session", secure=True)
    return CookieSpec(name="ssar_session", secure=False)


def browser_cookie(settings: Settings) -> CookieSpec:
    """The pre-session cookie that binds CSRF tokens and WebAuthn challenges before sign-in."""
    if settings.https:
        return CookieSpec(name="__Host-ssar_browser", secure=True)
    return CookieSpec(name="ssar_browser", secure=False)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def start_session(
    session: Session,
    *,
    user: UserRow,
    method_id: str | None,
    method_type: str,
    previous_token: str | None,
    settings: Settings,
    secret_key: SecretKey,
    now: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
) -> IssuedSession:
    """Start a new session inside the caller's unit of work; the browser's previous session (if
    any) is revoked so that a session id never survives a sign-in (no fixation)."""
    if previous_token:
        session.execute(
            update(SessionRow)
            .where(
                SessionRow.id_hash == secret_key.keyed_hash(SESSION_HASH_PURPOSE, previous_token),
                SessionRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    token = new_token()
    expires_at = now + timedelta(hours=settings.session_absolute_hours)
    session.add(
        SessionRow(
            id_hash=secret_key.keyed_hash(SESSION_HASH_PURPOSE, token),
            user_id=user.id,
            method_id=method_id,
            method_type=method_type,
            created_at=now,
            authenticated_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
        )
    )
    info = SessionInfo(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        method_id=method_id,
        method_type=method_type,
        authenticated_at=now,
        expires_at=expires_at,
    )
    return IssuedSession(token=token, info=info)


def revoke_user_sessions(session: Session, *, user_id: str, now: datetime) -> int:
    """Revoke every live session of a user (recovery restoration, disabling a user)."""
    result = session.execute(
        update(SessionRow)
        .where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class SessionService:
    """Resolves, ends and protects sessions; starting one is part of a sign-in's unit of work."""

    def __init__(
        self, *, database: Database, clock: Clock, settings: Settings, secret_key: SecretKey
    ) -> None:
        self._db = database
        self._clock = clock
        self._settings = settings
        self._key = secret_key
        self._csrf_key = secret_key.derive(CSRF_PURPOSE)

    @property
    def cookie(self) -> CookieSpec:
        return session_cookie(self._settings)

    @property
    def browser_cookie(self) -> CookieSpec:
        return browser_cookie(self._settings)

    def resolve(self, token: str | None) -> SessionInfo | None:
        """The live session for a cookie value, or None when it is unknown, revoked, idle for
        too long, past its absolute lifetime, or its user is disabled."""
        if not token:
            return None
        id_hash = self._key.keyed_hash(SESSION_HASH_PURPOSE, token)
        now = self._clock.now()
        idle = timedelta(minutes=self._settings.session_idle_minutes)
        with self._db.transaction() as session:
            found = session.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.id_hash == id_hash)
            ).one_or_none()
            if found is None:
                return None
            row, user = found
            if (
                row.revoked_at is not None
                or row.expires_at <= now
                or row.last_seen_at + idle <= now
                or not user.enabled
            ):
                return None
            if now - row.last_seen_at >= TOUCH_INTERVAL:
                row.last_seen_at = now
            return SessionInfo(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                method_id=row.method_id,
                method_type=row.method_type,
                authenticated_at=row.authenticated_at,
                expires_at=row.expires_at,
            )

    def revoke(self, token: str | None, *, ip: str | None = None) -> bool:
        """Sign out: revoke the session behind this cookie value. True when one was live."""
        if not token:
            return False
        now = self._clock.now()
        id_hash = self._key.keyed_hash(SESSION_HASH_PURPOSE, token)
        with self._db.transaction() as session:
            row = session.execute(
                select(SessionRow).where(
                    SessionRow.id_hash == id_hash, SessionRow.revoked_at.is_(None)
                )
            ).scalar_one_or_none()
            if row is None:
                return False
            row.revoked_at = now
            user = session.get(UserRow, row.user_id)
            audit(
                session,
                "signout",
                at=now,
                actor=f"user:{user.username}" if user else "user",
                user_id=row.user_id,
                ip=ip,
                data={"method": row.method_type},
            )
            return True

    # --- CSRF (R26) ------------------------------------------------------------------------

    def csrf_token(self, *, binding_token: str) -> str:
        return hmac.new(self._csrf_key, binding_token.encode(), "sha256").hexdigest()

    def check_csrf(self, *, binding_token: str | None, presented: str | None) -> None:
        """Raise ``CsrfFailed`` unless ``presented`` is the CSRF token of this browser."""
        if not binding_token or not presented:
            raise CsrfFailed("missing CSRF token")
        expected = self.csrf_token(binding_token=binding_token)
        if not hmac.compare_digest(expected, presented):
            raise CsrfFailed("wrong CSRF token")

    def binding_hash(self, binding_token: str) -> str:
        """What a WebAuthn challenge stores to be usable only by the browser that asked."""
        return self._key.keyed_hash(BINDING_PURPOSE, binding_token)
