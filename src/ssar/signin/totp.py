"""Authenticator-app codes (TOTP, RFC 6238: 6 digits, 30 s steps, SHA-1 as apps expect).

The shared secret is stored encrypted (``SecretKey.encrypt("totp", …)``). While enrolling, the
secret travels to the confirmation inside an encrypted, expiring enrolment token bound to the user
and the browser, so nothing half-made is stored. A code is accepted for the current step and one
step either side, and a step is never accepted twice (``totp_last_step``, advanced by a
conditional ``UPDATE``).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ssar.errors import AuthenticationFailed, ValidationFailed
from ssar.keys import SecretKey, b64url
from ssar.signin.models import TotpEnrolment
from ssar.signin.passkeys import b64url_decode
from ssar.store.tables import AuthMethodRow, UserRow

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
ENCRYPTION_PURPOSE = "totp"
ENROLMENT_PURPOSE = "totp-enrolment"
ENROLMENT_LIFETIME = timedelta(minutes=10)


class TotpCodeRejected(ValidationFailed):
    code = "totp_code_rejected"
    title = "That code did not work"


class TotpCodeMismatch(TotpCodeRejected):
    """The enrolment is still good; only the code was wrong, so the form can be shown again."""


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The step within ±WINDOW whose code equals ``code`` (compared in constant time)."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = time_step(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


class Totp:
    def __init__(self, *, secret_key: SecretKey, issuer: str) -> None:
        self._key = secret_key
        self._issuer = issuer

    def begin(self, *, user: UserRow, binding_hash: str, now: datetime) -> TotpEnrolment:
        secret = pyotp.random_base32(length=32)
        payload = {
            "secret": secret,
            "user_id": user.id,
            "binding": binding_hash,
            "exp": int((now + ENROLMENT_LIFETIME).timestamp()),
        }
        token = b64url(self._key.encrypt(ENROLMENT_PURPOSE, json.dumps(payload).encode()))
        return self._enrolment(secret=secret, username=user.username, token=token)

    def resume(
        self, *, user: UserRow, enrolment_token: str, binding_hash: str, now: datetime
    ) -> TotpEnrolment:
        """The same pending enrolment again (after a wrong code), from its token."""
        secret = self._open(
            user=user, enrolment_token=enrolment_token, binding_hash=binding_hash, now=now
        )
        return self._enrolment(secret=secret, username=user.username, token=enrolment_token)

    def _enrolment(self, *, secret: str, username: str, token: str) -> TotpEnrolment:
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=username, issuer_name=self._issuer
        )
        qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
        return TotpEnrolment(
            secret=secret, provisioning_uri=uri, qr_data_uri=str(qr), enrolment_token=token
        )

    def confirm(
        self,
        session: Session,
        *,
        user: UserRow,
        enrolment_token: str,
        code: str,
        binding_hash: str,
        label: str,
        now: datetime,
    ) -> AuthMethodRow:
        secret = self._open(
            user=user, enrolment_token=enrolment_token, binding_hash=binding_hash, now=now
        )
        step = matching_step(secret, code, now=now)
        if step is None:
            raise TotpCodeMismatch("the code does not match; check the time on your device")
        row = AuthMethodRow(
            user_id=user.id,
            type="totp",
            label=label.strip()[:256] or "Authenticator app",
            created_at=now,
            secret_enc=self._key.encrypt(ENCRYPTION_PURPOSE, secret.encode()),
            totp_last_step=step,
        )
        session.add(row)
        session.flush()
        return row

    def _open(
        self, *, user: UserRow, enrolment_token: str, binding_hash: str, now: datetime
    ) -> str:
        """The secret inside an enrolment token, if the token is this user's, from this
        browser, and not expired."""
        try:
            payload = json.loads(
                self._key.decrypt(ENROLMENT_PURPOSE, b64url_decode(enrolment_token))
            )
        except (InvalidTag, ValueError, TypeError) as exc:
            raise TotpCodeRejected("the enrolment expired; start again") from exc
        if (
            payload.get("user_id") != user.id
            or payload.get("binding") != binding_hash
            or int(payload.get("exp", 0)) <= int(now.timestamp())
        ):
            raise TotpCodeRejected("the enrolment expired; start again")
        return str(payload["secret"])

    def verify(self, session: Session, *, user: UserRow, code: str, now: datetime) -> AuthMethodRow:
        rows = session.execute(
            select(AuthMethodRow).where(
                AuthMethodRow.user_id == user.id,
                AuthMethodRow.type == "totp",
                AuthMethodRow.revoked_at.is_(None),
            )
        ).scalars()
        for row in rows:
            if row.secret_enc is None:
                continue
            secret = self._key.decrypt(ENCRYPTION_PURPOSE, row.secret_enc).decode()
            step = matching_step(secret, code, now=now)
            if step is None:
                continue
            won = session.execute(
                update(AuthMethodRow)
                .where(
                    AuthMethodRow.id == row.id,
                    AuthMethodRow.revoked_at.is_(None),
                    or_(
                        AuthMethodRow.totp_last_step.is_(None),
                        AuthMethodRow.totp_last_step < step,
                    ),
                )
                .values(totp_last_step=step, last_used_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1:
                return row
            raise AuthenticationFailed("TOTP step already used")
        raise AuthenticationFailed("no matching TOTP code")
