"""Admin center: the audit log (R30) — filter and page through events, one event with its
hashes, a JSON-lines export of the same selection, and a recorded chain verification."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from ssar.admin.roles import READ
from ssar.admin.web import AdminDep, redirect, register_notices, render
from ssar.audit import query
from ssar.errors import NotFound
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)
register_notices({"audit_verified": "The audit chain was verified; the result is below."})

#: the filter form's fields, as they travel in the query string
FILTER_FIELDS = ("type", "actor", "user", "since", "until")


def _filter(request: Request) -> tuple[query.AuditFilter, dict[str, str], dict[str, str]]:
    """The filter from the query string, the raw values (to refill the form) and errors."""
    raw = {name: (request.query_params.get(name) or "").strip() for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name in bounds:
        try:
            bounds[name] = query.parse_day(raw[name], end=name == "until")
        except ValueError:
            errors[name] = "Use a date such as 2026-11-23."
    flt = query.AuditFilter(
        type=raw["type"],
        actor=raw["actor"],
        user=raw["user"],
        since=bounds["since"],
        until=bounds["until"],
    )
    return flt, raw, errors


def _seq(request: Request, name: str) -> int | None:
    value = request.query_params.get(name) or ""
    return int(value) if value.isdigit() and len(value) <= 19 else None


@router.get("/audit")
def audit_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    flt, raw, errors = _filter(request)
    with registry.database.transaction() as session:
        page = query.search(
            session, flt, before_seq=_seq(request, "before"), after_seq=_seq(request, "after")
        )
        types = query.event_types(session)
        status = query.chain_status(session)
    filters = {k: v for k, v in raw.items() if v}
    qs = urlencode(filters)
    return render(
        request,
        templates,
        admin,
        "admin/audit.html",
        {
            "page": page,
            "values": raw,
            "errors": errors,
            "filtered": flt.active,
            "type_choices": query.type_choices(types),
            "status": status,
            "tone": query.tone,
            "query": qs,
            "export_href": "/admin/audit/export.jsonl" + (f"?{qs}" if qs else ""),
        },
        section="audit",
    )


@router.get("/audit/export.jsonl")
def audit_export(request: Request, registry: RegistryDep, admin: AdminDep) -> Response:
    flt, _, errors = _filter(request)
    if errors:
        return redirect("/admin/audit?" + urlencode(request.query_params))
    stamp = registry.clock.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        query.export_lines(registry.database, flt),
        media_type="application/x-ndjson",
        headers={
            "content-disposition": f'attachment; filename="ssar-audit-{stamp}.jsonl"',
            "cache-control": "no-store",
        },
    )


@router.get("/audit/events/{seq}")
def audit_event(
    seq: int, request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    with registry.database.transaction() as session:
        event = query.get_event(session, seq)
        if event is None:
            raise NotFound(f"there is no audit event {seq}")
        check = query.check_event(session, event)
        has_next = query.get_event(session, seq + 1) is not None
    return render(
        request,
        templates,
        admin,
        "admin/audit_event.html",
        {
            "event": event,
            "check": check,
            "has_next": has_next,
            "data_json": json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False),
            "tone": query.tone,
        },
        section="audit",
    )


@router.post("/audit/verify")
def audit_verify(request: Request, registry: RegistryDep, admin: AdminDep, _csrf: Csrf) -> Response:
    admin.require(READ)  # reading the log is all it takes; the check is recorded with who asked
    query.verify_and_record(
        registry.database, clock=registry.clock, actor=admin.actor, ip=client_ip(request)
    )
    return redirect("/admin/audit?done=audit_verified#chain")
