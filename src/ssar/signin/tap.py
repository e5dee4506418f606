"""Temporary Access Passes (SECURITY.md R25): policy, issue, redeem.

A TAP is ``length`` characters drawn by ``secrets`` from the base58 alphabet (no 0/O/I/l, so it
can be read out and typed). Each character carries log2(58) ≈ 5.86 bits, so **at least 11
characters** are needed for the required 64 bits of entropy; a configured (``SSAR_TAP_LENGTH``) or
requested length below that is refused with a message naming the minimum, even though the policy
field itself accepts 8–48. Lifetimes must lie within the policy's minimum and maximum (10 minutes
to 30 days at most). A request may ask for a reusable TAP; the policy's ``one_time`` is the default.

Only a keyed hash of the TAP is stored (``SecretKey.keyed_hash("tap", …)``), one TAP is active per
user (issuing replaces the previous one, ``revoked_reason="replaced"``) and a one-time TAP is
redeemed with one conditional ``UPDATE``: of concurrent redemptions exactly one wins. The TAP
itself is never logged and never written to the audit log.
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssar.clock import Clock
from ssar.config import TapPolicy
from ssar.errors import AuthenticationFailed, ConfigurationError, NotFound, ValidationFailed
from ssar.keys import SecretKey
from ssar.signin.common import audit, find_user
from ssar.signin.models import IssuedTap, RedeemedTap
from ssar.store.db import Database
from ssar.store.tables import AuthMethodRow, TenantSettingRow, UserRow

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58
BITS_PER_CHAR = math.log2(len(ALPHABET))
MIN_ENTROPY_BITS = 64
MIN_LENGTH = math.ceil(MIN_ENTROPY_BITS / BITS_PER_CHAR)  # 11
MAX_LENGTH = 48
HASH_PURPOSE = "tap"
POLICY_KEY = "tap_policy"


def tap_entropy_bits(length: int) -> float:
    return length * BITS_PER_CHAR


def check_length(length: int) -> None:
    """Refuse lengths outside 11–48: below 11 base58 characters a TAP has < 64 bits."""
    if length < MIN_LENGTH:
        raise ValidationFailed(
            f"a TAP of {length} characters has only {tap_entropy_bits(length):.0f} bits of "
            f"entropy; at least {MIN_LENGTH} characters ({MIN_ENTROPY_BITS} bits) are required",
            field="length",
        )
    if length > MAX_LENGTH:
        raise ValidationFailed(f"a TAP is at most {MAX_LENGTH} characters long", field="length")


def generate_tap(length: int) -> str:
    check_length(length)
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_tap(secret_key: SecretKey, tap: str) -> str:
    return secret_key.keyed_hash(HASH_PURPOSE, tap)


def effective_policy(session: Session, default: TapPolicy) -> TapPolicy:
    """The tenant's TAP policy: what an admin set in the admin center, else the environment's."""
    row = session.get(TenantSettingRow, POLICY_KEY)
    if row is None:
        return default
    return TapPolicy.model_validate({**default.model_dump(), **row.value})


def issue_tap(
    session: Session,
    *,
    user: UserRow,
    policy: TapPolicy,
    secret_key: SecretKey,
    clock: Clock,
    actor: str,
    lifetime_minutes: int | None = None,
    one_time: bool | None = None,
    length: int | None = None,
    ip: str | None = None,
    reason: str | None = None,
) -> IssuedTap:
    """Issue a TAP inside the caller's unit of work (recovery restores accounts with this too).
    ``reason`` is the helpdesk's justification, kept in the audit event."""
    lifetime = policy.lifetime_minutes if lifetime_minutes is None else lifetime_minutes
    if not policy.min_lifetime_minutes <= lifetime <= policy.max_lifetime_minutes:
        raise ValidationFailed(
            f"the TAP lifetime must be between {policy.min_lifetime_minutes} and "
            f"{policy.max_lifetime_minutes} minutes",
            field="lifetime_minutes",
        )
    if length is None:
        try:
            check_length(policy.length)
        except ValidationFailed as exc:
            raise ConfigurationError(f"SSAR_TAP_LENGTH: {exc.detail}") from exc
        length = policy.length
    tap = generate_tap(length)
    single_use = policy.one_time if one_time is None else one_time
    now = clock.now()
    # issuing for one user takes turns: without the row lock two concurrent issues would each
    # revoke nothing the other had written yet, and both passes would stay active (R25)
    session.execute(select(UserRow.id).where(UserRow.id == user.id).with_for_update())
    replaced = session.execute(
        update(AuthMethodRow)
        .where(
            AuthMethodRow.user_id == user.id,
            AuthMethodRow.type == "tap",
            AuthMethodRow.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="replaced")
    ).rowcount  # type: ignore[attr-defined]
    row = AuthMethodRow(
        user_id=user.id,
        type="tap",
        label="Temporary Access Pass",
        created_at=now,
        secret_hash=hash_tap(secret_key, tap),
        expires_at=now + timedelta(minutes=lifetime),
        one_time=single_use,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        "tap.issued",
        at=now,
        actor=actor,
        user_id=user.id,
        ip=ip,
        data={
            "method_id": row.id,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "one_time": single_use,
            "replaced": int(replaced or 0),
            **({"reason": reason} if reason else {}),
        },
    )
    assert row.expires_at is not None
    return IssuedTap(
        method_id=row.id,
        user_id=user.id,
        tap=tap,
        expires_at=row.expires_at,
        one_time=single_use,
    )


def redeem_tap(
    session: Session,
    *,
    user: UserRow | None,
    tap: str,
    secret_key: SecretKey,
    clock: Clock,
) -> RedeemedTap:
    """Redeem the user's active TAP, or raise ``AuthenticationFailed`` (one message for every
    reason). One-time TAPs are consumed by a single conditional UPDATE so only one of
    concurrent redemptions can win."""
    presented = hash_tap(secret_key, tap.strip())
    now = clock.now()
    if user is None or not user.enabled:
        raise AuthenticationFailed("unknown or disabled user")
    row = session.execute(
        select(AuthMethodRow)
        .where(
            AuthMethodRow.user_id == user.id,
            AuthMethodRow.type == "tap",
            AuthMethodRow.revoked_at.is_(None),
        )
        .order_by(AuthMethodRow.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None or row.secret_hash is None:
        raise AuthenticationFailed("no active TAP")
    if not hmac.compare_digest(row.secret_hash, presented):
        raise AuthenticationFailed("wrong TAP")
    if row.expires_at is None or row.expires_at <= now:
        raise AuthenticationFailed("TAP expired")
    conditions = [
        AuthMethodRow.id == row.id,
        AuthMethodRow.revoked_at.is_(None),
        AuthMethodRow.expires_at > now,
    ]
    if row.one_time:
        conditions.append(AuthMethodRow.used_at.is_(None))
        values = {"used_at": now, "last_used_at": now}
    else:
        values = {"last_used_at": now}
    won = session.execute(update(AuthMethodRow).where(*conditions).values(**values)).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise AuthenticationFailed("TAP already used")
    return RedeemedTap(method_id=row.id, user_id=user.id, one_time=bool(row.one_time))


class TapService:
    """Issues TAPs for administrators and the CLI (one unit of work per call)."""

    def __init__(
        self, *, database: Database, clock: Clock, policy: TapPolicy, secret_key: SecretKey
    ) -> None:
        self._db = database
        self._clock = clock
        self._policy = policy
        self._key = secret_key

    @property
    def default_policy(self) -> TapPolicy:
        """The policy from the environment (``SSAR_TAP_*``)."""
        return self._policy

    @property
    def policy(self) -> TapPolicy:
        """The policy in force: the admin center's, else the environment's."""
        with self._db.transaction() as session:
            return effective_policy(session, self._policy)

    def set_policy(self, policy: TapPolicy, *, actor: str, ip: str | None = None) -> TapPolicy:
        """Store ``policy`` for every process (validated again: 11+ characters, R25)."""
        check_length(policy.length)
        value = policy.model_dump()
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(TenantSettingRow, POLICY_KEY)
            before = None if row is None else dict(row.value)
            if row is None:
                session.add(
                    TenantSettingRow(key=POLICY_KEY, value=value, updated_at=now, updated_by=actor)
                )
            else:
                row.value, row.updated_at, row.updated_by = value, now, actor
            audit(
                session,
                "tap_policy.updated",
                at=now,
                actor=actor,
                user_id=None,
                ip=ip,
                data={"before": before, "after": value},
            )
        return policy

    def issue(
        self,
        *,
        username: str,
        actor: str,
        lifetime_minutes: int | None = None,
        one_time: bool | None = None,
        length: int | None = None,
        ip: str | None = None,
        reason: str | None = None,
    ) -> IssuedTap:
        with self._db.transaction() as session:
            user = find_user(session, username)
            if user is None:
                raise NotFound(f"no user named {username!r}")
            return issue_tap(
                session,
                user=user,
                policy=effective_policy(session, self._policy),
                secret_key=self._key,
                clock=self._clock,
                actor=actor,
                lifetime_minutes=lifetime_minutes,
                one_time=one_time,
                length=length,
                ip=ip,
                reason=reason,
            )
