"""Sign-in service: signing in with a passkey, an authenticator code or a TAP, and managing one's
own sign-in methods (the security-info page). Each public method is one unit of work, except that
WebAuthn challenges are consumed in a unit of their own first, so a failed attempt uses them up.

Failed sign-ins raise one ``AuthenticationFailed`` whatever the reason; the reason is recorded in
the audit log (``signin.failed``) in a separate transaction, because the attempt's own rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssar.clock import Clock
from ssar.config import Settings
from ssar.directory.names import username_key
from ssar.errors import AuthenticationFailed, NotFound, ReauthenticationRequired, Throttled
from ssar.keys import SecretKey
from ssar.signin.common import audit, find_user, notify_method_change
from ssar.signin.models import (
    MethodInfo,
    MethodType,
    RevokedMethod,
    SessionInfo,
    SigninResult,
    TotpEnrolment,
    WebAuthnOptions,
)
from ssar.signin.passkeys import PasskeyCeremonies, challenge_of
from ssar.signin.sessions import SessionService, start_session
from ssar.signin.tap import TapService, redeem_tap
from ssar.signin.totp import Totp
from ssar.store.db import Database
from ssar.store.tables import AuthMethodRow, SessionRow, UserRow
from ssar.throttle import Throttle, ThrottlePolicy

log = structlog.get_logger(__name__)


class SigninService:
    def __init__(
        self, *, database: Database, clock: Clock, settings: Settings, secret_key: SecretKey
    ) -> None:
        self._db = database
        self._clock = clock
        self._settings = settings
        self._key = secret_key
        self.sessions = SessionService(
            database=database, clock=clock, settings=settings, secret_key=secret_key
        )
        self.taps = TapService(
            database=database, clock=clock, policy=settings.tap, secret_key=secret_key
        )
        self._account_throttle = Throttle(
            purpose="signin-account", secret_key=secret_key, policy=ThrottlePolicy()
        )
        self._address_throttle = Throttle(
            purpose="signin-address", secret_key=secret_key, policy=ThrottlePolicy(free_failures=20)
        )
        self._passkeys = PasskeyCeremonies(settings=settings, secret_key=secret_key)
        self._totp = Totp(secret_key=secret_key, issuer=settings.rp_name)

    # --- signing in ----------------------------------------------------------------------------

    def signin_with_tap(
        self,
        *,
        username: str,
        tap: str,
        previous_session_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> SigninResult:
        def attempt(session: Session, now: datetime) -> SigninResult:
            user = find_user(session, username)
            redeemed = redeem_tap(
                session, user=user, tap=tap, secret_key=self._key, clock=self._clock
            )
            assert user is not None
            audit(
                session,
                "tap.redeemed",
                at=now,
                actor=f"user:{user.username}",
                user_id=user.id,
                ip=ip,
                data={"method_id": redeemed.method_id, "one_time": redeemed.one_time},
            )
            return self._signed_in(
                session,
                user=user,
                method_id=redeemed.method_id,
                method_type="tap",
                previous_session_token=previous_session_token,
                now=now,
                ip=ip,
                user_agent=user_agent,
            )

        return self._signin("tap", username, attempt, ip=ip)

    def signin_with_totp(
        self,
        *,
        username: str,
        code: str,
        previous_session_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> SigninResult:
        def attempt(session: Session, now: datetime) -> SigninResult:
            user = find_user(session, username)
            if user is None or not user.enabled:
                raise AuthenticationFailed("unknown or disabled user")
            row = self._totp.verify(session, user=user, code=code, now=now)
            return self._signed_in(
                session,
                user=user,
                method_id=row.id,
                method_type="totp",
                previous_session_token=previous_session_token,
                now=now,
                ip=ip,
                user_agent=user_agent,
            )

        return self._signin("totp", username, attempt, ip=ip)

    def passkey_signin_options(
        self, *, username: str | None, binding_token: str
    ) -> WebAuthnOptions:
        """Options for ``navigator.credentials.get``: username-first when a username is given
        (same shape for unknown usernames), discoverable otherwise."""
        now = self._clock.now()
        with self._db.transaction() as session:
            return self._passkeys.authentication_options(
                session,
                username=username.strip() if username and username.strip() else None,
                binding_hash=self.sessions.binding_hash(binding_token),
                now=now,
            )

    def signin_with_passkey(
        self,
        *,
        credential: Mapping[str, Any],
        binding_token: str,
        previous_session_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> SigninResult:
        now = self._clock.now()
        try:
            with self._db.transaction() as session:
                # used up in its own committed transaction, so a failed attempt spends it too
                consumed = self._passkeys.challenges.consume(
                    session,
                    challenge=challenge_of(credential),
                    expected_purposes=("auth-username", "auth-discover"),
                    expected_binding_hash=self.sessions.binding_hash(binding_token),
                    now=now,
                )
        except AuthenticationFailed as exc:
            self._record_failure("passkey", None, exc, ip=ip)
            raise

        def attempt(session: Session, now: datetime) -> SigninResult:
            user, row = self._passkeys.verify_authentication(
                session,
                credential=credential,
                challenge=consumed.challenge,
                expected_user_id=consumed.user_id,
                username_first=consumed.purpose == "auth-username",
                now=now,
            )
            return self._signed_in(
                session,
                user=user,
                method_id=row.id,
                method_type="passkey",
                previous_session_token=previous_session_token,
                now=now,
                ip=ip,
                user_agent=user_agent,
            )

        return self._signin("passkey", None, attempt, ip=ip)

    # --- the signed-in user's own methods (security info) --------------------------------------

    def list_methods(self, *, session_info: SessionInfo) -> list[MethodInfo]:
        now = self._clock.now()
        with self._db.transaction() as session:
            rows = session.execute(
                select(AuthMethodRow)
                .where(
                    AuthMethodRow.user_id == session_info.user_id,
                    AuthMethodRow.revoked_at.is_(None),
                )
                .order_by(AuthMethodRow.created_at)
            ).scalars()
            return [_method_info(row) for row in rows if _is_active(row, now)]

    def is_recent(self, session_info: SessionInfo) -> bool:
        window = timedelta(minutes=self._settings.recent_auth_minutes)
        return self._clock.now() - session_info.authenticated_at <= window

    def passkey_registration_options(
        self, *, session_info: SessionInfo, binding_token: str
    ) -> WebAuthnOptions:
        self._require_recent(session_info)
        now = self._clock.now()
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            return self._passkeys.registration_options(
                session, user=user, binding_hash=self.sessions.binding_hash(binding_token), now=now
            )

    def register_passkey(
        self,
        *,
        session_info: SessionInfo,
        credential: Mapping[str, Any],
        binding_token: str,
        label: str = "",
        ip: str | None = None,
    ) -> MethodInfo:
        self._require_recent(session_info)
        challenge = challenge_of(credential)
        binding_hash = self.sessions.binding_hash(binding_token)
        now = self._clock.now()
        with self._db.transaction() as session:
            consumed = self._passkeys.challenges.consume(
                session,
                challenge=challenge,
                expected_purposes=("registration",),
                expected_binding_hash=binding_hash,
                now=now,
            )
        if consumed.user_id != session_info.user_id:
            raise AuthenticationFailed("registration challenge of another user")
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            row = self._passkeys.verify_registration(
                session,
                user=user,
                credential=credential,
                challenge=challenge,
                label=label,
                registered_with_method_id=(
                    session_info.method_id if session_info.method_type == "tap" else None
                ),
                now=now,
            )
            self._method_changed(session, user=user, row=row, action="added", now=now, ip=ip)
            return _method_info(row)

    def begin_totp(self, *, session_info: SessionInfo, binding_token: str) -> TotpEnrolment:
        self._require_recent(session_info)
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            return self._totp.begin(
                user=user,
                binding_hash=self.sessions.binding_hash(binding_token),
                now=self._clock.now(),
            )

    def resume_totp(
        self, *, session_info: SessionInfo, enrolment_token: str, binding_token: str
    ) -> TotpEnrolment:
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            return self._totp.resume(
                user=user,
                enrolment_token=enrolment_token,
                binding_hash=self.sessions.binding_hash(binding_token),
                now=self._clock.now(),
            )

    def confirm_totp(
        self,
        *,
        session_info: SessionInfo,
        enrolment_token: str,
        code: str,
        binding_token: str,
        label: str = "",
        ip: str | None = None,
    ) -> MethodInfo:
        self._require_recent(session_info)
        now = self._clock.now()
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            row = self._totp.confirm(
                session,
                user=user,
                enrolment_token=enrolment_token,
                code=code,
                binding_hash=self.sessions.binding_hash(binding_token),
                label=label,
                now=now,
            )
            self._method_changed(session, user=user, row=row, action="added", now=now, ip=ip)
            return _method_info(row)

    def remove_method(
        self, *, session_info: SessionInfo, method_id: str, ip: str | None = None
    ) -> None:
        """Remove one of the signed-in user's methods (R27: needs a recent sign-in; the user's
        notification addresses are told in the same transaction)."""
        self._require_recent(session_info)
        now = self._clock.now()
        with self._db.transaction() as session:
            user = self._user(session, session_info)
            row = session.execute(
                select(AuthMethodRow).where(
                    AuthMethodRow.id == method_id,
                    AuthMethodRow.user_id == user.id,
                    AuthMethodRow.revoked_at.is_(None),
                )
            ).scalar_one_or_none()
            if row is None:
                raise NotFound("no such sign-in method")
            row.revoked_at = now
            row.revoked_reason = "removed"
            self._method_changed(session, user=user, row=row, action="removed", now=now, ip=ip)

    # --- administrators acting on a user's methods (the admin center's helpdesk path) --------

    def methods_of(self, user_id: str) -> list[MethodInfo]:
        """The user's active sign-in methods (an expired or used TAP is not active), oldest first."""
        now = self._clock.now()
        with self._db.transaction() as session:
            rows = session.execute(
                select(AuthMethodRow)
                .where(AuthMethodRow.user_id == user_id, AuthMethodRow.revoked_at.is_(None))
                .order_by(AuthMethodRow.created_at, AuthMethodRow.id)
            ).scalars()
            return [_method_info(row) for row in rows if _is_active(row, now)]

    def revoke_method(
        self, *, user_id: str, method_id: str, actor: str, reason: str, ip: str | None = None
    ) -> RevokedMethod:
        """An administrator revokes one of a user's methods (``method.revoked``, with ``reason``).

        Every live session that signed in with the method ends with it: whoever holds a lost
        device or a leaked TAP is signed out too. The user's notification addresses are told in
        the same transaction (R27). No recent sign-in of the *user* is needed: the admin acts."""
        now = self._clock.now()
        with self._db.transaction() as session:
            user = session.get(UserRow, user_id)
            row = session.execute(
                select(AuthMethodRow).where(
                    AuthMethodRow.id == method_id,
                    AuthMethodRow.user_id == user_id,
                    AuthMethodRow.revoked_at.is_(None),
                )
            ).scalar_one_or_none()
            if user is None or row is None:
                raise NotFound("no such sign-in method")
            row.revoked_at = now
            row.revoked_reason = "revoked"
            ended = session.execute(
                update(SessionRow)
                .where(SessionRow.method_id == row.id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount  # type: ignore[attr-defined]
            audit(
                session,
                "method.revoked",
                at=now,
                actor=actor,
                user_id=user.id,
                ip=ip,
                data={
                    "method_id": row.id,
                    "type": row.type,
                    "reason": reason,
                    "sessions_ended": int(ended or 0),
                },
            )
            notify_method_change(
                session,
                user=user,
                action="revoked",
                method_type=row.type,
                label=row.label,
                at=now,
                base_url=self._settings.base_url,
            )
            return RevokedMethod(
                method_id=row.id, type=row.type, label=row.label, sessions_ended=int(ended or 0)
            )

    # --- internals -----------------------------------------------------------------------------

    def _signin(
        self,
        method: MethodType,
        username: str | None,
        attempt: Callable[[Session, datetime], SigninResult],
        *,
        ip: str | None,
    ) -> SigninResult:
        now = self._clock.now()
        account_keys = (
            [self._account_throttle.key("user", username_key(username))] if username else []
        )
        address_keys = [self._address_throttle.key("ip", ip)] if ip else []
        keys = account_keys + address_keys
        result: SigninResult | None = None
        try:
            # the throttle check and the attempt share one unit of work (the check only reads)
            with self._db.transaction() as session:
                state = self._account_throttle.check(session, keys, now=now)
                if not state.blocked:
                    result = attempt(session, now)
                    # a success clears the account's failures; most sign-ins have none on record
                    self._account_throttle.clear(
                        session, [key for key in account_keys if key in state.present]
                    )
        except AuthenticationFailed as exc:
            with self._db.transaction() as session:
                self._account_throttle.record_failure(session, account_keys, now=now)
                self._address_throttle.record_failure(session, address_keys, now=now)
            self._record_failure(method, username, exc, ip=ip)
            raise AuthenticationFailed(exc.detail) from exc
        if result is None:
            # refused before the credential is even looked at; not counted again
            self._record_failure(method, username, Throttled("throttled"), ip=ip)
            raise Throttled()
        return result

    def _record_failure(
        self, method: str, username: str | None, exc: AuthenticationFailed, *, ip: str | None
    ) -> None:
        now = self._clock.now()
        log.info("signin_failed", method=method, reason=exc.detail)
        with self._db.transaction() as session:
            user = find_user(session, username) if username else None
            audit(
                session,
                "signin.failed",
                at=now,
                actor=f"user:{username}" if username else "anonymous",
                user_id=user.id if user else None,
                ip=ip,
                data={"method": method, "username": username, "reason": exc.detail},
            )

    def _signed_in(
        self,
        session: Session,
        *,
        user: UserRow,
        method_id: str,
        method_type: MethodType,
        previous_session_token: str | None,
        now: datetime,
        ip: str | None,
        user_agent: str | None,
    ) -> SigninResult:
        issued = start_session(
            session,
            user=user,
            method_id=method_id,
            method_type=method_type,
            previous_token=previous_session_token,
            settings=self._settings,
            secret_key=self._key,
            now=now,
            ip=ip,
            user_agent=user_agent,
        )
        audit(
            session,
            "signin.succeeded",
            at=now,
            actor=f"user:{user.username}",
            user_id=user.id,
            ip=ip,
            data={"method": method_type, "method_id": method_id},
        )
        return SigninResult(
            session=issued, method_type=method_type, must_register_passkey=method_type == "tap"
        )

    def _require_recent(self, session_info: SessionInfo) -> None:
        if not self.is_recent(session_info):
            raise ReauthenticationRequired(
                f"adding or removing a sign-in method needs a sign-in within the last "
                f"{self._settings.recent_auth_minutes} minutes"
            )

    @staticmethod
    def _user(session: Session, session_info: SessionInfo) -> UserRow:
        user = session.get(UserRow, session_info.user_id)
        if user is None or not user.enabled:
            raise AuthenticationFailed("the session's user is gone or disabled")
        return user

    def _method_changed(
        self,
        session: Session,
        *,
        user: UserRow,
        row: AuthMethodRow,
        action: Literal["added", "removed"],
        now: datetime,
        ip: str | None,
    ) -> None:
        """Audit a method added or removed and tell the user, in the same transaction (R27)."""
        audit(
            session,
            f"method.{action}",
            at=now,
            actor=f"user:{user.username}",
            user_id=user.id,
            ip=ip,
            data={"method_id": row.id, "type": row.type},
        )
        notify_method_change(
            session,
            user=user,
            action=action,
            method_type=row.type,
            label=row.label,
            at=now,
            base_url=self._settings.base_url,
        )


def _is_active(row: AuthMethodRow, now: datetime) -> bool:
    if row.type != "tap":
        return True
    if row.expires_at is None or row.expires_at <= now:
        return False
    return not (row.one_time and row.used_at is not None)


def _method_info(row: AuthMethodRow) -> MethodInfo:
    return MethodInfo(
        id=row.id,
        type=row.type,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
    )
