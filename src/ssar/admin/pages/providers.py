"""Admin center: the verification providers of this deployment (OpenID4VP wallets, the
reference verification service, OpenID providers with identity assurance) and a reachability
check for the latter. The facts come from ``ssar.admin.providers``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ssar.admin.providers import CheckResult, check_oidc_ida, overview
from ssar.admin.roles import READ
from ssar.admin.web import AdminDep, render
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/providers")
def providers_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    return _page(request, registry, templates, admin, check=None)


@router.post("/providers/oidc_ida/{name}/check")
def check_provider(
    name: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
) -> Response:
    """Fetch the provider's discovery document now; the page shows the answer (nothing is
    stored, so the result is rendered, not redirected to)."""
    admin.require(READ)
    return _page(request, registry, templates, admin, check=check_oidc_ida(registry, name))


def _page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    *,
    check: CheckResult | None,
) -> Response:
    return render(
        request,
        templates,
        admin,
        "admin/providers.html",
        {"providers": overview(registry), "check": check},
        section="providers",
    )
