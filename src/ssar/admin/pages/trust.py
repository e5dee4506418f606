"""Admin center: trusted issuers across every profile — list, add (JWKS, JWKS URL, X.509
anchors or a DID) and remove. The checks live in ``ssar.admin.trust``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ssar.admin.roles import CONFIG_MANAGE
from ssar.admin.trust import (
    KEY_SOURCES,
    SOURCE_LABELS,
    KeyMaterialRejected,
    NewIssuer,
    iss_from_slug,
    issuer_counts,
    issuer_slug,
    trust_service,
)
from ssar.admin.web import AdminDep, redirect, register_notices, render
from ssar.errors import NotFound, ValidationFailed
from ssar.profiles.schema import ProfileValidationFailed
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)
register_notices(
    {
        "trust_issuer_added": "The issuer is trusted now. Its credentials are accepted by the profile.",
        "trust_issuer_removed": "The issuer was removed from the profile.",
    }
)
FIELDS = ("profile", "iss", "source", "jwks", "jwks_uri", "x5c", "did")


@router.get("/trust")
def trust_page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    profile: str = "",
) -> Response:
    values = {name: "" for name in FIELDS} | {"source": "jwks", "profile": profile}
    return _page(request, registry, templates, admin, values=values, errors={})


@router.post("/trust/issuers")
def add_issuer(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    profile: Annotated[str, Form()] = "",
    iss: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "jwks",
    jwks: Annotated[str, Form()] = "",
    jwks_uri: Annotated[str, Form()] = "",
    x5c: Annotated[str, Form()] = "",
    did: Annotated[str, Form()] = "",
) -> Response:
    admin.require(CONFIG_MANAGE)
    values = {
        "profile": profile,
        "iss": iss,
        "source": source,
        "jwks": jwks,
        "jwks_uri": jwks_uri,
        "x5c": x5c,
        "did": did,
    }
    request_ = NewIssuer(**values)
    errors: dict[str, str] = {}
    try:
        entry = trust_service(registry).add(request_, actor=admin.actor)
    except KeyMaterialRejected as exc:
        errors[exc.field or source] = exc.detail
        if exc.secret and exc.field in values:  # never echo private key material back
            values[exc.field] = ""
    except ProfileValidationFailed as exc:
        errors["form"] = "; ".join(exc.problems)
    except ValidationFailed as exc:
        errors[exc.field or "form"] = exc.detail
    if errors:
        return _page(
            request, registry, templates, admin, values=values, errors=errors, status_code=422
        )
    return redirect(f"/admin/trust/issuers/{entry.slug}?done=trust_issuer_added")


@router.get("/trust/issuers/{slug}")
def issuer_page(
    slug: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    return _issuer_page(request, registry, templates, admin, slug=slug)


@router.post("/trust/issuers/{slug}/remove")
def remove_issuer(
    slug: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    profile: Annotated[str, Form()],
) -> Response:
    admin.require(CONFIG_MANAGE)
    iss = iss_from_slug(slug)
    try:
        trust_service(registry).remove(profile=profile, iss=iss, actor=admin.actor)
    except ValidationFailed as exc:  # the last issuer of a wallet profile, or a stale profile
        detail = "; ".join(exc.problems) if isinstance(exc, ProfileValidationFailed) else exc.detail
        return _issuer_page(
            request, registry, templates, admin, slug=slug, error=detail, status_code=422
        )
    return redirect("/admin/trust?done=trust_issuer_removed")


def _issuer_page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    *,
    slug: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    iss = iss_from_slug(slug)
    entries = [e for e in trust_service(registry).issuers() if e.iss == iss]
    if not entries:
        raise NotFound("no profile trusts this issuer", code="issuer_not_found")
    return render(
        request,
        templates,
        admin,
        "admin/trust_issuer.html",
        {
            "iss": iss,
            "entries": entries,
            "slug": slug,
            "error": error,
            "can_manage": admin.can(CONFIG_MANAGE),
        },
        section="trust",
        status_code=status_code,
    )


def _page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    service = trust_service(registry)
    issuers = service.issuers()
    return render(
        request,
        templates,
        admin,
        "admin/trust.html",
        {
            "issuers": issuers,
            "targets": service.targets(),
            "values": values,
            "errors": errors,
            "sources": [(s, SOURCE_LABELS[s]) for s in KEY_SOURCES],
            "can_manage": admin.can(CONFIG_MANAGE),
            "slug": issuer_slug,
            "counts": issuer_counts(issuers),
        },
        section="trust",
        status_code=status_code,
    )
