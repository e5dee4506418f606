"""The admin center's page plumbing: who is signed in, what they may do, and one renderer.

Every admin page depends on ``AdminDep``: a browser session that signed in **with a passkey**
(a TAP or TOTP session is sent to ``/admin/signin``) of a user holding an admin role
(``ssar.admin.roles``). State-changing pages also take ``Csrf`` from ``ssar.web.pages`` and call
``admin.require(permission)``. Every change is made through a service with
``actor=admin.actor`` so the audit log records who did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from ssar.admin.roles import AdminPrincipal
from ssar.errors import AuthenticationFailed, PermissionDenied
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import BrowserDep, safe_next

__all__ = ["AdminContext", "AdminDep", "redirect", "register_notices", "render", "safe_next"]

#: the side navigation: (group, [(section, title, href)])
NAV: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("", (("overview", "Overview", "/admin"),)),
    ("Directory", (("users", "Users", "/admin/users"), ("groups", "Groups", "/admin/groups"))),
    (
        "Recovery",
        (
            ("profiles", "Verification profiles", "/admin/profiles"),
            ("providers", "Verification providers", "/admin/providers"),
            ("trust", "Trusted issuers", "/admin/trust"),
            ("tap-policy", "Temporary Access Pass", "/admin/tap-policy"),
        ),
    ),
    (
        "Insights",
        (
            ("reports", "Recovery reports", "/admin/reports"),
            ("estimator", "Cost savings", "/admin/estimator"),
            ("audit", "Audit log", "/admin/audit"),
        ),
    ),
    ("System", (("settings", "Settings", "/admin/settings"),)),
)


#: confirmation banners by code: a page redirects to ``...?done=<code>`` after a change. Codes,
#: not text, travel in the URL, so a crafted link cannot put words in the admin center's mouth.
NOTICES: dict[str, str] = {}


def register_notices(notices: dict[str, str]) -> None:
    NOTICES.update(notices)


class AdminSignInRequired(AuthenticationFailed):
    """No passkey session: the browser goes to ``/admin/signin`` (handled in ``app.py``)."""

    code = "admin_signin_required"


@dataclass(frozen=True)
class AdminContext:
    principal: AdminPrincipal
    csrf_token: str
    session_display_name: str

    @property
    def actor(self) -> str:
        return self.principal.actor

    def can(self, permission: str) -> bool:
        return self.principal.can(permission)

    def require(self, permission: str) -> None:
        self.principal.require(permission)


def admin_context(request: Request, registry: RegistryDep, browser: BrowserDep) -> AdminContext:
    session = browser.session
    if session is None:
        raise AdminSignInRequired("sign in to use the admin center")
    if session.method_type != "passkey":
        raise AdminSignInRequired("the admin center needs a sign-in with a passkey")
    role = registry.admin_roles.role_of(session.user_id)
    if role is None:
        raise PermissionDenied("your account has no role in the admin center")
    principal = AdminPrincipal(
        actor=f"user:{session.username}",
        role=role,
        display_name=session.display_name,
        user_id=session.user_id,
    )
    csrf = registry.signin.sessions.csrf_token(binding_token=browser.binding_token)
    return AdminContext(
        principal=principal, csrf_token=csrf, session_display_name=session.display_name
    )


AdminDep = Annotated[AdminContext, Depends(admin_context)]


def render(
    request: Request,
    templates: TemplatesDep,
    admin: AdminContext,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    section: str,
    status_code: int = 200,
) -> Response:
    """Render an admin template (one that extends ``admin/base.html``)."""
    values = {
        "admin": admin.principal,
        "csrf_token": admin.csrf_token,
        "section": section,
        "nav": NAV,
        "notice": NOTICES.get(request.query_params.get("done") or ""),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303 to ``url`` (add ``?done=<code>`` for a registered confirmation)."""
    return RedirectResponse(url, status_code=303)
