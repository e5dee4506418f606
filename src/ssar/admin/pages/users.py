"""Admin center: users — search, a user's page, revoking a method and issuing a TAP (the helpdesk
path: a reason, an identity check out of band, the audit log)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ssar.admin import helpdesk
from ssar.admin.directory import USER_FILTERS, AdminDirectory, user_view
from ssar.admin.roles import ROLE_TITLES, USERS_MANAGE
from ssar.admin.web import AdminContext, AdminDep, redirect, register_notices, render
from ssar.errors import ValidationFailed
from ssar.registry import Registry
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)

register_notices(
    {
        "method-revoked": "The sign-in method was revoked. The user was notified, and any "
        "session that signed in with it has ended.",
    }
)

PAGE_SIZE = 50


@router.get("/users")
def users(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    q: str = "",
    filter: str = "all",
    cursor: str = "",
) -> Response:
    filters = dict(USER_FILTERS)
    chosen = filter if filter in filters else "all"
    query = q.strip()[:256]
    page = AdminDirectory(registry.database).search_users(
        query=query, filter=chosen, cursor=cursor or None, limit=PAGE_SIZE, now=registry.clock.now()
    )
    params = {k: v for k, v in (("q", query), ("filter", chosen)) if v and v != "all"}
    next_url = (
        "/admin/users?" + urlencode({**params, "cursor": page.next_cursor})
        if page.next_cursor
        else None
    )
    first_url = "/admin/users" + ("?" + urlencode(params) if params else "")
    return render(
        request,
        templates,
        admin,
        "admin/users.html",
        {
            "page": page,
            "q": query,
            "filter": chosen,
            "filters": USER_FILTERS,
            "paged": bool(cursor),
            "next_url": next_url,
            "first_url": first_url,
            "role_titles": ROLE_TITLES,
        },
        section="users",
    )


@router.get("/users/{user_id}")
def user(
    user_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    return _user_page(request, registry, templates, admin, user_id)


@router.post("/users/{user_id}/methods/{method_id}/revoke")
def revoke_method(
    user_id: str,
    method_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    admin.require(USERS_MANAGE)
    target = helpdesk.target_of(registry, user_id=user_id)
    try:
        helpdesk.revoke_method(
            registry,
            admin.principal,
            target,
            method_id=method_id,
            reason=reason,
            ip=client_ip(request),
        )
    except ValidationFailed as exc:
        return _user_page(
            request,
            registry,
            templates,
            admin,
            user_id,
            {"revoke_error": exc.detail, "revoke_method": method_id, "revoke_reason": reason},
            status_code=422,
        )
    return redirect(f"/admin/users/{target.user_id}?done=method-revoked")


@router.post("/users/{user_id}/tap")
def issue_tap(
    user_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    lifetime_minutes: Annotated[int, Form(ge=1, le=100_000)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    one_time: Annotated[bool, Form()] = False,
    identity_verified: Annotated[bool, Form()] = False,
) -> Response:
    admin.require(USERS_MANAGE)
    target = helpdesk.target_of(registry, user_id=user_id)
    try:
        issued = helpdesk.issue_tap(
            registry,
            admin.principal,
            target,
            lifetime_minutes=lifetime_minutes,
            one_time=one_time,
            reason=reason,
            identity_verified=identity_verified,
            ip=client_ip(request),
        )
    except ValidationFailed as exc:
        form = {
            "lifetime_minutes": lifetime_minutes,
            "one_time": one_time,
            "reason": reason,
            "identity_verified": identity_verified,
        }
        return _user_page(
            request,
            registry,
            templates,
            admin,
            user_id,
            {"tap_error": exc.detail, "tap_field": exc.field, "tap_form": form},
            status_code=422,
        )
    response = render(
        request,
        templates,
        admin,
        "admin/user_tap.html",
        {"target": target, "issued": issued},
        section="users",
    )
    response.headers["cache-control"] = "no-store"
    response.headers["pragma"] = "no-cache"
    return response


def _user_page(
    request: Request,
    registry: Registry,
    templates: TemplatesDep,
    admin: AdminContext,
    user_id: str,
    extra: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    view = user_view(registry, user_id)
    target = helpdesk.Target(
        user_id=view.user.id,
        username=view.user.username,
        privileged=view.user.privileged,
        role=view.role,
    )
    policy = view.tap_policy
    context: dict[str, Any] = {
        "view": view,
        "u": view.user,
        "role_titles": ROLE_TITLES,
        "may_revoke": helpdesk.may_revoke(admin.principal, target),
        "may_issue_tap": helpdesk.may_issue_tap(admin.principal, target),
        "can_manage": admin.can(USERS_MANAGE),
        "outranks_helpdesk": target.outranks_helpdesk,
        "min_reason": helpdesk.MIN_REASON_CHARS,
        "tap_form": {
            "lifetime_minutes": policy.lifetime_minutes,
            "one_time": policy.one_time,
            "reason": "",
            "identity_verified": False,
        },
        **(extra or {}),
    }
    return render(
        request,
        templates,
        admin,
        "admin/user.html",
        context,
        section="users",
        status_code=status_code,
    )
