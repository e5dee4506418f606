"""WebAuthn passkeys with py_webauthn (SECURITY.md R28).

Challenges are 32 random bytes, stored only as a keyed hash, bound to the browser that asked for
them (a hash of its session or pre-session cookie), valid for 5 minutes and consumed exactly once
by a conditional ``UPDATE`` committed before the response is verified, so even a failed attempt
uses the challenge up. Registration requires user verification and a resident (discoverable) key,
excludes the user's credentials and refuses a credential id that is bound to anyone already.
Authentication works username-first (``allowCredentials``; for an unknown username the options
carry fake credential ids derived from the username, so the answer has the same shape) and
discoverable (no ``allowCredentials``; the user is found by the credential and its user handle).
Every failure is one ``AuthenticationFailed``; the precise reason goes to the audit log.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.options_to_json_dict import options_to_json_dict
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ssar.config import Settings
from ssar.directory.names import username_key
from ssar.errors import AuthenticationFailed, ValidationFailed
from ssar.keys import SecretKey
from ssar.signin.models import WebAuthnOptions
from ssar.store.tables import AuthMethodRow, UserRow, WebAuthnChallengeRow

CHALLENGE_BYTES = 32
CHALLENGE_LIFETIME = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000
CHALLENGE_PURPOSE = "webauthn-challenge"
FAKE_ID_PURPOSE = "webauthn-fake-credential"

Purpose = Literal["registration", "auth-username", "auth-discover"]


class RegistrationFailed(ValidationFailed):
    """The passkey could not be registered (one message; the reason is logged)."""

    code = "passkey_registration_failed"
    title = "The passkey could not be registered"


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_of(credential: Mapping[str, Any]) -> bytes:
    """The challenge a browser response answers, read from its clientDataJSON."""
    try:
        response = credential["response"]
        client_data = json.loads(b64url_decode(response["clientDataJSON"]))
        return b64url_decode(client_data["challenge"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise AuthenticationFailed("malformed WebAuthn response") from exc


def credential_id_of(credential: Mapping[str, Any]) -> bytes:
    try:
        return b64url_decode(str(credential["rawId"]))
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise AuthenticationFailed("malformed WebAuthn response") from exc


def user_handle_of(credential: Mapping[str, Any]) -> bytes | None:
    try:
        handle = credential["response"].get("userHandle")
        return b64url_decode(handle) if handle else None
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error) as exc:
        raise AuthenticationFailed("malformed WebAuthn response") from exc


@dataclass(frozen=True)
class ConsumedChallenge:
    challenge: bytes
    user_id: str | None
    purpose: str


#: one ``Challenges.create`` call in this many purges the expired challenges
PURGE_ONE_IN = 100


class Challenges:
    """Single-use WebAuthn challenges (inside the caller's unit of work)."""

    def __init__(self, secret_key: SecretKey) -> None:
        self._key = secret_key

    def create(
        self,
        session: Session,
        *,
        purpose: Purpose,
        binding_hash: str,
        user_id: str | None,
        now: datetime,
    ) -> bytes:
        # anyone may ask for sign-in options: keep the table from growing without bound (one
        # call in PURGE_ONE_IN sweeps, so the DELETE is off the hot path; what is left is expired)
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            self.purge_expired(session, now=now)
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        session.add(
            WebAuthnChallengeRow(
                id_hash=self._key.keyed_hash(CHALLENGE_PURPOSE, challenge),
                purpose=purpose,
                binding_hash=binding_hash,
                user_id=user_id,
                created_at=now,
                expires_at=now + CHALLENGE_LIFETIME,
            )
        )
        return challenge

    def consume(
        self,
        session: Session,
        *,
        challenge: bytes,
        expected_purposes: tuple[Purpose, ...],
        expected_binding_hash: str,
        now: datetime,
    ) -> ConsumedChallenge:
        """Mark the challenge used and say what it was issued for. Raises unless this call is
        the one that used it (unknown, expired, other browser, other purpose, already used)."""
        id_hash = self._key.keyed_hash(CHALLENGE_PURPOSE, challenge)
        rows = session.execute(
            update(WebAuthnChallengeRow)
            .where(
                WebAuthnChallengeRow.id_hash == id_hash,
                WebAuthnChallengeRow.purpose.in_(expected_purposes),
                WebAuthnChallengeRow.binding_hash == expected_binding_hash,
                WebAuthnChallengeRow.used_at.is_(None),
                WebAuthnChallengeRow.expires_at > now,
            )
            .values(used_at=now)
            .returning(WebAuthnChallengeRow.user_id, WebAuthnChallengeRow.purpose)
            .execution_options(synchronize_session=False)
        ).all()
        if len(rows) != 1:
            raise AuthenticationFailed("unknown, expired or used challenge")
        row = rows[0]
        return ConsumedChallenge(challenge=challenge, user_id=row.user_id, purpose=row.purpose)

    @staticmethod
    def purge_expired(session: Session, *, now: datetime) -> None:
        session.execute(
            delete(WebAuthnChallengeRow).where(
                WebAuthnChallengeRow.expires_at < now - timedelta(hours=1)
            )
        )


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle of a user: the random row id, never a name or address."""
    return user_id.encode("ascii")


def active_passkeys(session: Session, user_id: str) -> list[AuthMethodRow]:
    return list(
        session.execute(
            select(AuthMethodRow)
            .where(
                AuthMethodRow.user_id == user_id,
                AuthMethodRow.type == "passkey",
                AuthMethodRow.revoked_at.is_(None),
            )
            .order_by(AuthMethodRow.created_at)
        ).scalars()
    )


class PasskeyCeremonies:
    """Builds options and verifies responses; the service owns the transactions."""

    def __init__(self, *, settings: Settings, secret_key: SecretKey) -> None:
        self._settings = settings
        self._key = secret_key
        self.challenges = Challenges(secret_key)

    # --- registration ------------------------------------------------------------------------

    def registration_options(
        self, session: Session, *, user: UserRow, binding_hash: str, now: datetime
    ) -> WebAuthnOptions:
        challenge = self.challenges.create(
            session, purpose="registration", binding_hash=binding_hash, user_id=user.id, now=now
        )
        options = generate_registration_options(
            rp_id=self._settings.rp_id,
            rp_name=self._settings.rp_name,
            user_name=user.username,
            user_id=user_handle(user.id),
            user_display_name=user.display_name,
            challenge=challenge,
            timeout=CEREMONY_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=row.credential_id)
                for row in active_passkeys(session, user.id)
                if row.credential_id
            ],
        )
        return WebAuthnOptions(public_key=options_to_json_dict(options))

    def verify_registration(
        self,
        session: Session,
        *,
        user: UserRow,
        credential: Mapping[str, Any],
        challenge: bytes,
        label: str,
        registered_with_method_id: str | None,
        now: datetime,
    ) -> AuthMethodRow:
        try:
            verified = verify_registration_response(
                credential=dict(credential),
                expected_challenge=challenge,
                expected_rp_id=self._settings.rp_id,
                expected_origin=self._settings.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise RegistrationFailed(f"registration response rejected: {exc}") from exc
        taken = session.execute(
            select(AuthMethodRow.user_id).where(
                AuthMethodRow.credential_id == verified.credential_id
            )
        ).first()
        if taken is not None:
            raise RegistrationFailed("credential id already registered")
        transports = credential.get("response", {}).get("transports")
        row = AuthMethodRow(
            user_id=user.id,
            type="passkey",
            label=label.strip()[:256] or "Passkey",
            created_at=now,
            registered_with_method_id=registered_with_method_id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[str(t) for t in transports][:8] if isinstance(transports, list) else None,
            aaguid=verified.aaguid,
            backed_up=verified.credential_backed_up,
        )
        session.add(row)
        try:
            session.flush()  # the unique credential_id column settles a race between users
        except IntegrityError as exc:
            raise RegistrationFailed("credential id already registered") from exc
        return row

    # --- authentication ----------------------------------------------------------------------

    def fake_credential_id(self, username: str) -> bytes:
        """A stable, made-up credential id for a username without passkeys (no enumeration)."""
        return bytes.fromhex(self._key.keyed_hash(FAKE_ID_PURPOSE, username_key(username)))

    def authentication_options(
        self, session: Session, *, username: str | None, binding_hash: str, now: datetime
    ) -> WebAuthnOptions:
        user_id: str | None = None
        allow: list[PublicKeyCredentialDescriptor] = []
        if username is not None:
            # the user and their passkeys in one query, the same for an unknown username (R1)
            key = username_key(username)
            rows = (
                session.execute(
                    select(UserRow.id, UserRow.enabled, AuthMethodRow.credential_id)
                    .outerjoin(
                        AuthMethodRow,
                        and_(
                            AuthMethodRow.user_id == UserRow.id,
                            AuthMethodRow.type == "passkey",
                            AuthMethodRow.revoked_at.is_(None),
                        ),
                    )
                    .where(UserRow.username_key == key)
                    .order_by(AuthMethodRow.created_at)
                ).all()
                if key
                else []
            )
            if rows and rows[0].enabled:
                user_id = rows[0].id
            allow = [
                PublicKeyCredentialDescriptor(id=row.credential_id)
                for row in rows
                if user_id is not None and row.credential_id
            ] or [PublicKeyCredentialDescriptor(id=self.fake_credential_id(username))]
        challenge = self.challenges.create(
            session,
            purpose="auth-discover" if username is None else "auth-username",
            binding_hash=binding_hash,
            user_id=user_id,
            now=now,
        )
        options = generate_authentication_options(
            rp_id=self._settings.rp_id,
            challenge=challenge,
            timeout=CEREMONY_TIMEOUT_MS,
            allow_credentials=allow,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return WebAuthnOptions(public_key=options_to_json_dict(options))

    def verify_authentication(
        self,
        session: Session,
        *,
        credential: Mapping[str, Any],
        challenge: bytes,
        expected_user_id: str | None,
        username_first: bool,
        now: datetime,
    ) -> tuple[UserRow, AuthMethodRow]:
        credential_id = credential_id_of(credential)
        # the credential and its user in one query
        found = session.execute(
            select(AuthMethodRow, UserRow)
            .join(UserRow, UserRow.id == AuthMethodRow.user_id)
            .where(
                AuthMethodRow.credential_id == credential_id,
                AuthMethodRow.type == "passkey",
                AuthMethodRow.revoked_at.is_(None),
            )
        ).one_or_none()
        if found is None:
            raise AuthenticationFailed("unknown credential")
        row, user = found
        if row.public_key is None:
            raise AuthenticationFailed("unknown credential")
        if username_first and row.user_id != expected_user_id:
            raise AuthenticationFailed("credential of another user")
        handle = user_handle_of(credential)
        if handle is not None and handle != user_handle(row.user_id):
            raise AuthenticationFailed("user handle does not match the credential")
        if not username_first and handle is None:
            raise AuthenticationFailed("discoverable sign-in without a user handle")
        if not user.enabled:
            raise AuthenticationFailed("disabled user")
        try:
            verified = verify_authentication_response(
                credential=dict(credential),
                expected_challenge=challenge,
                expected_rp_id=self._settings.rp_id,
                expected_origin=self._settings.origin,
                credential_public_key=row.public_key,
                credential_current_sign_count=row.sign_count or 0,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise AuthenticationFailed(f"assertion rejected: {exc}") from exc
        row.sign_count = verified.new_sign_count
        row.last_used_at = now
        row.backed_up = verified.credential_backed_up
        return user, row
