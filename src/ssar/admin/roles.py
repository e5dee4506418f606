"""Who may use the admin center, and for what.

Three roles, each a fixed set of permissions:

========================  ======  ============  =============
role                      read    users.manage  config.manage
========================  ======  ============  =============
``global_admin``          yes     yes           yes
``helpdesk``              yes     yes           no
``reader``                yes     no            no
========================  ======  ============  =============

``read`` opens every page and the read-only API (reports, cases, audit); ``users.manage`` revokes
methods and issues TAPs (the helpdesk path, with a reason); ``config.manage`` changes profiles,
trust, the TAP policy, API tokens and roles. API tokens map by scope: ``admin`` acts as a
global admin, ``admin:read`` as a reader.

Granting a role makes the user privileged (R6): no profile recovers an admin unless it opts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.directory.names import username_key
from ssar.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ssar.store.db import Database
from ssar.store.tables import AdminRoleRow, UserRow

READ = "read"
USERS_MANAGE = "users.manage"
CONFIG_MANAGE = "config.manage"

ROLES: dict[str, frozenset[str]] = {
    "global_admin": frozenset({READ, USERS_MANAGE, CONFIG_MANAGE}),
    "helpdesk": frozenset({READ, USERS_MANAGE}),
    "reader": frozenset({READ}),
}
ROLE_TITLES = {
    "global_admin": "Global administrator",
    "helpdesk": "Helpdesk administrator",
    "reader": "Reports reader",
}
TOKEN_SCOPE_ROLES = {"admin": "global_admin", "admin:read": "reader"}


@dataclass(frozen=True)
class AdminPrincipal:
    """Someone acting in the admin center: a signed-in admin or an API token."""

    actor: str  # "user:<username>" or "token:<name>", as the audit log records it
    role: str
    display_name: str
    user_id: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    @property
    def role_title(self) -> str:
        return ROLE_TITLES.get(self.role, self.role)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                f"your role ({self.role_title}) does not allow this ({permission})"
            )


@dataclass(frozen=True)
class AdminAssignment:
    user_id: str
    username: str
    display_name: str
    role: str
    granted_at: datetime
    granted_by: str


class AdminRoleService:
    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def role_of(self, user_id: str) -> str | None:
        with self._db.transaction() as session:
            row = session.get(AdminRoleRow, user_id)
            return None if row is None else row.role

    def count(self) -> int:
        with self._db.transaction() as session:
            return int(session.execute(select(func.count()).select_from(AdminRoleRow)).scalar_one())

    def list(self) -> list[AdminAssignment]:
        with self._db.transaction() as session:
            rows = session.execute(
                select(AdminRoleRow, UserRow)
                .join(UserRow, UserRow.id == AdminRoleRow.user_id)
                .order_by(UserRow.username_key)
            ).all()
            return [
                AdminAssignment(
                    user_id=user.id,
                    username=user.username,
                    display_name=user.display_name,
                    role=role.role,
                    granted_at=role.granted_at,
                    granted_by=role.granted_by,
                )
                for role, user in rows
            ]

    def grant(self, username: str, role: str, *, actor: str, ip: str | None = None) -> None:
        if role not in ROLES:
            raise ValidationFailed(f"role must be one of {sorted(ROLES)}", field="role")
        now = self._clock.now()
        with self._db.transaction() as session:
            user = _user(session, username)
            row = session.get(AdminRoleRow, user.id)
            before = None if row is None else row.role
            if row is None:
                session.add(
                    AdminRoleRow(user_id=user.id, role=role, granted_at=now, granted_by=actor)
                )
            else:
                row.role, row.granted_at, row.granted_by = role, now, actor
            user.privileged = True
            user.updated_at = now
            AuditLog(session).append(
                "admin.role_granted",
                at=now,
                actor=actor,
                user_id=user.id,
                ip=ip,
                data={"role": role, "before": before},
            )

    def revoke(self, username: str, *, actor: str, ip: str | None = None) -> None:
        """Take the user's role away. The user stays privileged (an admin's account keeps its
        guard until someone clears it deliberately); the last global admin cannot be removed."""
        now = self._clock.now()
        with self._db.transaction() as session:
            user = _user(session, username)
            row = session.get(AdminRoleRow, user.id)
            if row is None:
                raise NotFound(f"{username!r} holds no admin role")
            if row.role == "global_admin":
                others = session.execute(
                    select(func.count())
                    .select_from(AdminRoleRow)
                    .where(AdminRoleRow.role == "global_admin", AdminRoleRow.user_id != user.id)
                ).scalar_one()
                if not others:
                    raise Conflict("the last global administrator cannot be removed")
            session.delete(row)
            AuditLog(session).append(
                "admin.role_revoked",
                at=now,
                actor=actor,
                user_id=user.id,
                ip=ip,
                data={"role": row.role},
            )


def _user(session: Session, username: str) -> UserRow:
    user = session.execute(
        select(UserRow).where(UserRow.username_key == username_key(username))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user
