"""Admin center: groups (read-only here: SCIM, the CSV import and the CLI manage them)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ssar.admin.directory import AdminDirectory
from ssar.admin.web import AdminDep, render
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/admin", include_in_schema=False)

PAGE_SIZE = 50


@router.get("/groups")
def groups(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    q: str = "",
    page: int = 1,
) -> Response:
    query = q.strip()[:256]
    listing = AdminDirectory(registry.database).list_groups(query=query, page=page, limit=PAGE_SIZE)
    base = "/admin/groups" + ("?" + urlencode({"q": query}) if query else "")
    return render(
        request,
        templates,
        admin,
        "admin/groups.html",
        {"listing": listing, "q": query, "base": base},
        section="groups",
    )


@router.get("/groups/{group_id}")
def group(
    group_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    page: int = 1,
) -> Response:
    detail = AdminDirectory(registry.database).group_detail(group_id, page=page, limit=PAGE_SIZE)
    return render(
        request,
        templates,
        admin,
        "admin/group.html",
        {"g": detail, "base": f"/admin/groups/{detail.id}"},
        section="groups",
    )
