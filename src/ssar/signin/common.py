"""Small pieces every sign-in module shares, all working inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.directory.names import username_key
from ssar.notify.outbox import queue_message
from ssar.store.tables import UserEmailRow, UserRow

METHOD_NAMES = {
    "passkey": "passkey",
    "totp": "authenticator app",
    "tap": "Temporary Access Pass",
}


def find_user(session: Session, username: str) -> UserRow | None:
    """The user with this username (case- and normalisation-insensitive), or None."""
    key = username_key(username)
    if not key:
        return None
    return session.execute(select(UserRow).where(UserRow.username_key == key)).scalar_one_or_none()


def notification_addresses(session: Session, user_id: str) -> list[str]:
    return list(
        session.execute(
            select(UserEmailRow.address)
            .where(UserEmailRow.user_id == user_id, UserEmailRow.notify.is_(True))
            .order_by(UserEmailRow.address)
        ).scalars()
    )


def notify_method_change(
    session: Session,
    *,
    user: UserRow,
    action: str,
    method_type: str,
    label: str,
    at: datetime,
    base_url: str,
) -> None:
    """Queue the R27 notice to every notification address of the user (same transaction)."""
    addresses = notification_addresses(session, user.id)
    if not addresses:
        return
    what = METHOD_NAMES.get(method_type, method_type)
    named = f" ({label})" if label else ""
    subject = f"A sign-in method was {action} on your account"
    body = (
        f"Hello {user.display_name},\n\n"
        f"A {what}{named} was {action} on your account {user.username} "
        f"at {at:%Y-%m-%d %H:%M} UTC.\n\n"
        f"If this was you, there is nothing to do. If it was not, contact your administrator "
        f"at once and review your sign-in methods at {base_url}/security-info.\n"
    )
    queue_message(
        session,
        kind=f"method.{action}",
        to_addresses=addresses,
        subject=subject,
        body_text=body,
        at=at,
        user_id=user.id,
    )


def audit(
    session: Session,
    event: str,
    *,
    at: datetime,
    actor: str,
    user_id: str | None,
    ip: str | None = None,
    data: dict[str, object] | None = None,
) -> None:
    AuditLog(session).append(event, at=at, actor=actor, user_id=user_id, ip=ip, data=data or {})
