"""The helpdesk path: an administrator revokes a user's sign-in method or issues a Temporary Access
Pass, always with a reason that lands in the audit log.

Who may act on whom:

* ``users.manage`` (helpdesk and global admins) revokes methods and issues TAPs to ordinary users;
* a TAP for a **privileged** user or an **admin** needs ``config.manage`` (a global admin): a TAP
  signs its holder in, so a helpdesk admin must not be able to take over an account that
  outranks theirs. The same holds for revoking an admin's methods (locking out the people who
  supervise the helpdesk). Revoking a privileged non-admin's lost passkey stays with the helpdesk:
  it only takes access away.

A TAP issued here also needs a confirmation that the admin verified the person's identity out of
band; the TAP is shown once and never stored in clear (``ssar.signin.tap``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ssar.admin.roles import CONFIG_MANAGE, USERS_MANAGE, AdminPrincipal
from ssar.errors import PermissionDenied, ValidationFailed
from ssar.registry import Registry
from ssar.signin.models import IssuedTap, RevokedMethod

MIN_REASON_CHARS: Final = 10
MAX_REASON_CHARS: Final = 500


@dataclass(frozen=True)
class Target:
    """What decides who may act on a user."""

    user_id: str
    username: str
    privileged: bool
    role: str | None

    @property
    def outranks_helpdesk(self) -> bool:
        return self.privileged or self.role is not None


def clean_reason(reason: str | None, *, required: bool = True) -> str | None:
    """The reason, whitespace collapsed; refused when shorter than 10 or longer than 500
    characters (``None`` only when not ``required`` and nothing was given)."""
    text = " ".join((reason or "").split())
    if not text and not required:
        return None
    if len(text) < MIN_REASON_CHARS:
        raise ValidationFailed(
            f"give a reason of at least {MIN_REASON_CHARS} characters; it is kept in the audit log",
            field="reason",
        )
    if len(text) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"the reason is at most {MAX_REASON_CHARS} characters long", field="reason"
        )
    return text


def may_issue_tap(principal: AdminPrincipal, target: Target) -> bool:
    if not principal.can(USERS_MANAGE):
        return False
    return principal.can(CONFIG_MANAGE) or not target.outranks_helpdesk


def may_revoke(principal: AdminPrincipal, target: Target) -> bool:
    if not principal.can(USERS_MANAGE):
        return False
    return principal.can(CONFIG_MANAGE) or target.role is None


def target_of(
    registry: Registry, *, user_id: str | None = None, username: str | None = None
) -> Target:
    """The user an admin is about to act on (NotFound when there is none)."""
    if user_id is not None:
        user = registry.directory.get_user_by_id(user_id)
    else:
        user = registry.directory.get_user(username or "")
    return Target(
        user_id=user.id,
        username=user.username,
        privileged=user.privileged,
        role=registry.admin_roles.role_of(user.id),
    )


def issue_tap(
    registry: Registry,
    principal: AdminPrincipal,
    target: Target,
    *,
    lifetime_minutes: int | None,
    one_time: bool | None,
    reason: str | None,
    identity_verified: bool,
    reason_required: bool = True,
    ip: str | None = None,
) -> IssuedTap:
    """Issue a TAP to ``target`` for ``principal`` (the TAP policy bounds the lifetime)."""
    principal.require(USERS_MANAGE)
    if not may_issue_tap(principal, target):
        raise PermissionDenied(
            "a Temporary Access Pass for a privileged account or an administrator needs a "
            "global administrator"
        )
    text = clean_reason(reason, required=reason_required)
    if not identity_verified:
        raise ValidationFailed(
            "confirm that you verified the person's identity out of band", field="identity_verified"
        )
    return registry.signin.taps.issue(
        username=target.username,
        actor=principal.actor,
        lifetime_minutes=lifetime_minutes,
        one_time=one_time,
        ip=ip,
        reason=text,
    )


def revoke_method(
    registry: Registry,
    principal: AdminPrincipal,
    target: Target,
    *,
    method_id: str,
    reason: str | None,
    ip: str | None = None,
) -> RevokedMethod:
    """Revoke one of ``target``'s methods; sessions that signed in with it end (see
    ``SigninService.revoke_method``)."""
    principal.require(USERS_MANAGE)
    if not may_revoke(principal, target):
        raise PermissionDenied(
            "an administrator's sign-in methods are managed by a global administrator"
        )
    text = clean_reason(reason)
    assert text is not None
    return registry.signin.revoke_method(
        user_id=target.user_id, method_id=method_id, actor=principal.actor, reason=text, ip=ip
    )
