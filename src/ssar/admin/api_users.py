"""Admin REST API for users and groups: search, a user's document, revoking a method, groups.

Routes only translate HTTP to ``ssar.admin.directory`` and ``ssar.admin.helpdesk``; the TAP route
lives in ``ssar.admin.api``. Errors are RFC 9457 problem documents (``ssar.web.problems``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from ssar.admin import helpdesk
from ssar.admin.directory import MAX_LIMIT, AdminDirectory, UserListItem, user_view
from ssar.web.auth import AdminReader, AdminUsersManager
from ssar.web.deps import RegistryDep, client_ip

router = APIRouter(prefix="/api/admin", tags=["admin"])


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    title: str
    status: int
    detail: str


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid admin API token"),
    403: _problem("The token's scope does not allow this"),
}


class UserSummary(BaseModel):
    id: str
    username: str
    display_name: str
    email: str | None = Field(description="The primary (else the first) address.")
    enabled: bool
    privileged: bool
    role: str | None = Field(description="Admin center role: global_admin, helpdesk or reader.")
    groups: list[str] = Field(description="The first few groups the user is directly in.")
    group_count: int = Field(description="How many groups the user is directly in.")
    active_methods: int
    last_signin_at: datetime | None

    @classmethod
    def of(cls, item: UserListItem) -> UserSummary:
        return cls(
            id=item.id,
            username=item.username,
            display_name=item.display_name,
            email=item.email,
            enabled=item.enabled,
            privileged=item.privileged,
            role=item.role,
            groups=list(item.groups),
            group_count=item.group_count,
            active_methods=item.active_methods,
            last_signin_at=item.last_signin_at,
        )


class UserList(BaseModel):
    users: list[UserSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class EmailView(BaseModel):
    address: str
    primary: bool
    notify: bool


class MethodView(BaseModel):
    """An active sign-in method; never its secret or public key."""

    id: str
    type: str = Field(description="passkey | totp | tap")
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = Field(description="For a TAP.")


class ProfileDecisionView(BaseModel):
    profile: str | None = Field(description="The profile that applies, or null.")
    reason: str
    code: str = Field(
        description="applies | unknown_user | disabled | privileged | excluded | not_included"
    )


class UserDocument(BaseModel):
    id: str
    username: str
    given_name: str
    family_name: str
    display_name: str
    emails: list[EmailView]
    employee_id: str | None
    enabled: bool
    privileged: bool
    role: str | None
    groups: list[str] = Field(description="Every group, directly or through nested groups.")
    direct_groups: list[str]
    methods: list[MethodView]
    profile: ProfileDecisionView
    created_at: datetime
    updated_at: datetime


class RevokeRequest(BaseModel):
    reason: str = Field(
        min_length=helpdesk.MIN_REASON_CHARS,
        max_length=helpdesk.MAX_REASON_CHARS,
        description="Why; kept in the audit log (`method.revoked`).",
    )


class RevokeResult(BaseModel):
    method_id: str
    type: str
    sessions_ended: int = Field(description="Live sessions that had signed in with the method.")


class GroupSummary(BaseModel):
    id: str
    name: str
    direct_members: int
    children: list[str] = Field(description="Groups nested directly in this one.")
    parents: list[str] = Field(description="Groups this one is directly nested in.")


class GroupList(BaseModel):
    groups: list[GroupSummary]
    total: int
    page: int
    has_next: bool


@router.get(
    "/users",
    response_model=UserList,
    summary="Search users by the start of a username, family name or e-mail address",
    responses=AUTH_ERRORS,
)
def search_users(
    principal: AdminReader,
    registry: RegistryDep,
    q: Annotated[
        str, Query(max_length=256, description="Prefix; `given family` works; `@` searches e-mail")
    ] = "",
    cursor: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    filter: Annotated[
        str, Query(pattern="^(all|enabled|disabled|admins|privileged)$", description="Which users")
    ] = "all",
) -> UserList:
    page = AdminDirectory(registry.database).search_users(
        query=q, filter=filter, cursor=cursor, limit=limit, now=registry.clock.now()
    )
    return UserList(users=[UserSummary.of(u) for u in page.users], next_cursor=page.next_cursor)


@router.get(
    "/users/{username}",
    response_model=UserDocument,
    summary="A user: details, groups, active sign-in methods, role and the profile that applies",
    responses={**AUTH_ERRORS, 404: _problem("No such user")},
)
def get_user(username: str, principal: AdminReader, registry: RegistryDep) -> UserDocument:
    found = registry.directory.get_user(username)
    view = user_view(registry, found.id)
    user = view.user
    return UserDocument(
        id=user.id,
        username=user.username,
        given_name=user.given_name,
        family_name=user.family_name,
        display_name=user.display_name,
        emails=[
            EmailView(address=e.address, primary=e.primary, notify=e.notify) for e in user.emails
        ],
        employee_id=user.employee_id,
        enabled=user.enabled,
        privileged=user.privileged,
        role=view.role,
        groups=list(view.transitive_groups),
        direct_groups=list(user.groups),
        methods=[
            MethodView(
                id=m.id,
                type=m.type,
                label=m.label,
                created_at=m.created_at,
                last_used_at=m.last_used_at,
                expires_at=m.expires_at,
            )
            for m in view.methods
        ],
        profile=ProfileDecisionView(
            profile=view.decision.profile.name if view.decision.profile else None,
            reason=view.decision.reason,
            code=view.decision.code,
        ),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@router.delete(
    "/users/{username}/methods/{method_id}",
    response_model=RevokeResult,
    summary="Revoke a user's sign-in method (with a reason; the user is notified)",
    description=(
        'The reason comes in the JSON body (`{"reason": "..."}`) or the `reason` query '
        "parameter, at least 10 characters. Sessions that signed in with the method end. "
        "An administrator's methods need a token with scope `admin`."
    ),
    responses={
        **AUTH_ERRORS,
        404: _problem("No such user, or no such active method of the user"),
        422: _problem("No reason, or one that is too short or too long"),
    },
)
def revoke_method(
    username: str,
    method_id: str,
    principal: AdminUsersManager,
    registry: RegistryDep,
    request: Request,
    body: Annotated[RevokeRequest | None, Body()] = None,
    reason: Annotated[
        str | None, Query(max_length=helpdesk.MAX_REASON_CHARS, description="Or in the body")
    ] = None,
) -> RevokeResult:
    target = helpdesk.target_of(registry, username=username)
    revoked = helpdesk.revoke_method(
        registry,
        principal,
        target,
        method_id=method_id,
        reason=body.reason if body is not None else reason,
        ip=client_ip(request),
    )
    return RevokeResult(
        method_id=revoked.method_id, type=revoked.type, sessions_ended=revoked.sessions_ended
    )


@router.get(
    "/groups",
    response_model=GroupList,
    summary="Groups by name, with direct member counts and nesting",
    responses=AUTH_ERRORS,
)
def list_groups(
    principal: AdminReader,
    registry: RegistryDep,
    q: Annotated[str, Query(max_length=256, description="Start of the group name")] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> GroupList:
    listing = AdminDirectory(registry.database).list_groups(query=q, page=page, limit=limit)
    return GroupList(
        groups=[
            GroupSummary(
                id=g.id,
                name=g.name,
                direct_members=g.direct_members,
                children=list(g.children),
                parents=list(g.parents),
            )
            for g in listing.groups
        ],
        total=listing.total,
        page=listing.page,
        has_next=listing.has_next,
    )
