"""The decision's consequences: production restoration (R3), evaluation (R4), and "this wasn't
me" (R5).

Restoration is one database transaction: every sign-in method and session revoked, a TAP issued
(shown once, sealed to the flow until then), the evidence bound to the account (R10), the case
and the audit events written, and the notifications queued to every notification address of the
user and to the admins, with a one-click dispute link. A crash at any point leaves all of it or
none of it (``SSAR_FAULT`` points let the tests prove that). The person is not signed in (R6).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.errors import NotFound
from ssar.faults import fault_point
from ssar.notify.outbox import queue_message
from ssar.profiles.models import Profile
from ssar.recovery.validation import Decision, admin_addresses
from ssar.signin.common import notification_addresses
from ssar.signin.sessions import revoke_user_sessions
from ssar.signin.tap import effective_policy, issue_tap
from ssar.store.tables import (
    AuthMethodRow,
    RecoveryEvidenceRow,
    RecoveryFlowRow,
    RecoveryLockRow,
    UserRow,
)

if TYPE_CHECKING:
    from ssar.recovery.service import RecoveryService

DISPUTE_PURPOSE = "recovery/dispute"


def _record(row: RecoveryFlowRow, decision: Decision, now: datetime) -> None:
    row.checks = [*row.checks, *({"at": now.isoformat(), **c} for c in decision.checks)]


def _bind_evidence(
    session: Session, row: RecoveryFlowRow, user_id: str, evidence_hash: str, now: datetime
) -> None:
    row.evidence_hash = evidence_hash
    if session.get(RecoveryEvidenceRow, evidence_hash) is None:
        session.add(
            RecoveryEvidenceRow(
                evidence_hash=evidence_hash, user_id=user_id, flow_id=row.id, created_at=now
            )
        )


def restore(
    service: RecoveryService,
    *,
    handle: str,
    decision: Decision,
    evidence_hash: str,
    profile: Profile | None,
    now: datetime,
) -> None:
    assert decision.user_id is not None
    assert profile is not None
    settings = service.settings
    with service.database.transaction() as session:
        row = service.row(session, handle, lock=True)
        if row.state != "validating":
            return
        user = session.execute(
            select(UserRow).where(UserRow.id == decision.user_id).with_for_update()
        ).scalar_one()
        _record(row, decision, now)
        methods = session.execute(
            update(AuthMethodRow)
            .where(AuthMethodRow.user_id == user.id, AuthMethodRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason="recovery")
        ).rowcount  # type: ignore[attr-defined]
        fault_point("restore.methods_revoked")
        sessions = revoke_user_sessions(session, user_id=user.id, now=now)
        fault_point("restore.sessions_revoked")
        issued = issue_tap(
            session,
            user=user,
            policy=effective_policy(session, settings.tap),
            secret_key=service.secret_key,
            clock=service.clock,
            actor="recovery",
            lifetime_minutes=profile.tap.lifetime_minutes,
            one_time=profile.tap.one_time,
            ip=row.ip,
        )
        fault_point("restore.tap_issued")
        service.seal_tap(
            row,
            tap=issued.tap,
            expires_at=issued.expires_at,
            one_time=issued.one_time,
            username=user.username,
        )
        row.tap_method_id = issued.method_id
        dispute = secrets.token_urlsafe(32)
        row.dispute_hash = service.secret_key.keyed_hash(DISPUTE_PURPOSE, dispute)
        _bind_evidence(session, row, user.id, evidence_hash, now)
        audit = AuditLog(session)
        base = {"flow_id": row.id, "profile": row.profile_name, "mode": row.mode}
        audit.append(
            "recovery.account_matched",
            at=now,
            actor="recovery",
            user_id=user.id,
            ip=row.ip,
            data={**base, "reason": decision.reason},
        )
        audit.append(
            "recovery.restored",
            at=now,
            actor="recovery",
            user_id=user.id,
            ip=row.ip,
            data={
                **base,
                "methods_revoked": int(methods or 0),
                "sessions_revoked": sessions,
                "tap_method_id": issued.method_id,
            },
        )
        _notify_restored(session, service, row=row, user=user, dispute=dispute, now=now)
        fault_point("restore.notified")
        service.transition(
            session,
            row,
            "restore",
            now=now,
            check={
                "check": "restoration",
                "outcome": "restored",
                "methods_revoked": int(methods or 0),
                "sessions_revoked": sessions,
            },
        )
        fault_point("restore.before_commit")


def _notify_restored(
    session: Session,
    service: RecoveryService,
    *,
    row: RecoveryFlowRow,
    user: UserRow,
    dispute: str,
    now: datetime,
) -> None:
    base_url = service.settings.base_url
    link = f"{base_url}/recover/dispute/{dispute}"
    addresses = notification_addresses(session, user.id)
    if addresses:
        queue_message(
            session,
            kind="recovery.restored",
            to_addresses=addresses,
            subject="Your account was recovered",
            body_text=(
                f"Hello {user.display_name},\n\n"
                f"Your account {user.username} was recovered at {now:%Y-%m-%d %H:%M} UTC by "
                "verifying your identity. Every earlier sign-in method was removed and a "
                "Temporary Access Pass was issued to register a new passkey.\n\n"
                "If this was you, there is nothing to do.\n\n"
                "If it was NOT you, open this link at once. It blocks the pass and anything "
                "registered with it, and locks self-service recovery for your account:\n"
                f"{link}\n\nThen contact your administrator.\n"
            ),
            at=now,
            user_id=user.id,
        )
    admins = [a for a in admin_addresses(session) if a not in addresses]
    if admins:
        queue_message(
            session,
            kind="recovery.restored.admin",
            to_addresses=admins,
            subject=f"Account recovered by self-service: {user.username}",
            body_text=(
                f"The account {user.username} ({user.display_name}) was recovered by identity "
                f"verification at {now:%Y-%m-%d %H:%M} UTC (profile {row.profile_name}).\n\n"
                f"Case {row.id}: {base_url}/admin/reports/cases/{row.id}\n"
                f"If the user says it was not them, this link revokes the pass and locks "
                f"recovery for the account:\n{link}\n"
            ),
            at=now,
        )


def evaluate(
    service: RecoveryService,
    *,
    handle: str,
    decision: Decision,
    evidence_hash: str,
    now: datetime,
) -> None:
    """Evaluation mode (R4): record the case with every check's outcome; change nothing."""
    with service.database.transaction() as session:
        row = service.row(session, handle, lock=True)
        if row.state != "validating":
            return
        _record(row, decision, now)
        assert decision.user_id is not None
        _bind_evidence(session, row, decision.user_id, evidence_hash, now)
        AuditLog(session).append(
            "recovery.evaluated",
            at=now,
            actor="recovery",
            user_id=row.user_id,
            ip=row.ip,
            data={"flow_id": row.id, "profile": row.profile_name, "reason": decision.reason},
        )
        service.transition(
            session,
            row,
            "evaluate",
            now=now,
            check={"check": "decision", "outcome": "evaluated", "detail": "evaluation mode"},
        )


def dispute(service: RecoveryService, token: str) -> dict[str, Any]:
    """ "This wasn't me" (R5): revoke the recovery's TAP, every method registered with it and
    every session, and lock self-service recovery for the account. Idempotent."""
    now = service.clock.now()
    digest = service.secret_key.keyed_hash(DISPUTE_PURPOSE, token)
    with service.database.transaction() as session:
        row = session.execute(
            select(RecoveryFlowRow).where(RecoveryFlowRow.dispute_hash == digest).with_for_update()
        ).scalar_one_or_none()
        if row is None or row.user_id is None:
            raise NotFound("this link is not valid")
        user = session.execute(
            select(UserRow).where(UserRow.id == row.user_id).with_for_update()
        ).scalar_one()
        already = row.disputed_at is not None
        revoked = 0
        if row.tap_method_id is not None:
            revoked = session.execute(
                update(AuthMethodRow)
                .where(
                    AuthMethodRow.user_id == user.id,
                    AuthMethodRow.revoked_at.is_(None),
                    or_(
                        AuthMethodRow.id == row.tap_method_id,
                        AuthMethodRow.registered_with_method_id == row.tap_method_id,
                    ),
                )
                .values(revoked_at=now, revoked_reason="disputed")
            ).rowcount  # type: ignore[attr-defined]
        sessions = revoke_user_sessions(session, user_id=user.id, now=now)
        if session.get(RecoveryLockRow, user.id) is None:
            session.add(
                RecoveryLockRow(user_id=user.id, locked_at=now, reason="disputed", flow_id=row.id)
            )
        if not already:
            row.disputed_at = now
            row.tap_sealed = None
            AuditLog(session).append(
                "recovery.disputed",
                at=now,
                actor="user",
                user_id=user.id,
                data={
                    "flow_id": row.id,
                    "methods_revoked": int(revoked or 0),
                    "sessions_revoked": sessions,
                },
            )
            admins = admin_addresses(session)
            if admins:
                queue_message(
                    session,
                    kind="recovery.disputed",
                    to_addresses=admins,
                    subject=f"Recovery disputed: {user.username}",
                    body_text=(
                        f"The recovery of {user.username} at {row.created_at:%Y-%m-%d %H:%M} UTC "
                        "was reported as not made by the user. Its pass and anything registered "
                        "with it were revoked and self-service recovery is locked for the "
                        f"account.\n\nCase {row.id}: {service.settings.base_url}"
                        f"/admin/reports/cases/{row.id}\n"
                    ),
                    at=now,
                )
        return {"username": user.username, "already": already, "methods_revoked": int(revoked or 0)}
