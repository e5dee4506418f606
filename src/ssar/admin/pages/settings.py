"""Admin center: settings — the deployment's configuration, admin roles and API tokens."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ssar.admin.roles import CONFIG_MANAGE, ROLE_TITLES, ROLES
from ssar.admin.tokens import SCOPES
from ssar.admin.web import AdminDep, redirect, register_notices, render
from ssar.errors import Conflict, NotFound, ValidationFailed
from ssar.registry import Registry
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)
register_notices(
    {
        "role_granted": "The role was granted.",
        "role_revoked": "The role was removed.",
        "token_revoked": "The token was revoked.",
    }
)


def deployment(registry: Registry) -> list[tuple[str, str]]:
    """What an admin may see of the configuration: no secrets, no passwords, no key material."""
    settings = registry.settings
    database = urlsplit(settings.database_url)
    mail = urlsplit(settings.smtp_url) if settings.smtp_url else None
    return [
        ("Public address", settings.base_url),
        ("Passkey relying party", settings.rp_id),
        ("Database", f"{database.scheme.split('+')[0]} {database.hostname or ''}".strip()),
        ("Outgoing mail", f"{mail.hostname}:{mail.port or 25}" if mail else "not configured"),
        ("Service signing key", registry.signing_key.public_jwk().get("kid", "—")),
        (
            "Sessions",
            f"{settings.session_idle_minutes} min idle, {settings.session_absolute_hours} h at most",
        ),
        ("Recent sign-in for changes", f"{settings.recent_auth_minutes} minutes"),
        (
            "Recovery limits",
            f"{settings.recovery.account_flows_per_day} per account per day, "
            f"{settings.recovery.address_flows_per_hour} per address per hour, "
            f"{settings.recovery.max_face_failures} face attempts, "
            f"flows expire after {settings.recovery.flow_minutes} minutes",
        ),
        ("Demo mode", "on (demo wallet and mail outbox pages)" if settings.demo else "off"),
    ]


def _page(
    request: Request,
    registry: Registry,
    templates: TemplatesDep,
    admin: AdminDep,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        templates,
        admin,
        "admin/settings.html",
        {
            "deployment": deployment(registry),
            "admins": registry.admin_roles.list(),
            "tokens": registry.api_tokens.list(),
            "roles": [(r, ROLE_TITLES[r]) for r in ROLES],
            "scopes": sorted(SCOPES),
            "errors": {},
            "values": {},
            **(extra or {}),
        },
        section="settings",
        status_code=status_code,
    )


@router.get("/settings")
def settings_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    return _page(request, registry, templates, admin)


@router.post("/settings/admins")
def grant_role(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    username: Annotated[str, Form(max_length=256)],
    role: Annotated[str, Form(max_length=32)],
) -> Response:
    admin.require(CONFIG_MANAGE)
    try:
        registry.admin_roles.grant(username.strip(), role, actor=admin.actor, ip=client_ip(request))
    except (NotFound, ValidationFailed) as exc:
        return _page(
            request,
            registry,
            templates,
            admin,
            {"errors": {"grant": exc.detail}, "values": {"username": username, "role": role}},
            status_code=422,
        )
    return redirect("/admin/settings?done=role_granted")


@router.post("/settings/admins/{username}/revoke")
def revoke_role(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    username: str,
) -> Response:
    admin.require(CONFIG_MANAGE)
    try:
        registry.admin_roles.revoke(username, actor=admin.actor, ip=client_ip(request))
    except (NotFound, Conflict) as exc:
        return _page(request, registry, templates, admin, {"errors": {"admins": exc.detail}}, 409)
    return redirect("/admin/settings?done=role_revoked")


@router.post("/settings/tokens")
def create_token(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    name: Annotated[str, Form(max_length=128)],
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    admin.require(CONFIG_MANAGE)
    try:
        issued = registry.api_tokens.create(name=name, scopes=scope or [], actor=admin.actor)
    except ValidationFailed as exc:
        return _page(
            request,
            registry,
            templates,
            admin,
            {"errors": {"token": exc.detail}, "values": {"name": name}},
            status_code=422,
        )
    response = _page(request, registry, templates, admin, {"issued": issued})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(registry: RegistryDep, admin: AdminDep, _csrf: Csrf, token_id: str) -> Response:
    admin.require(CONFIG_MANAGE)
    registry.api_tokens.revoke(token_id, actor=admin.actor)
    return redirect("/admin/settings?done=token_revoked")
