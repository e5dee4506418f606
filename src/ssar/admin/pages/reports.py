"""Admin center: recovery reports (funnel, failure reasons, outcomes per day), their charts and
each recovery case's full check-by-check record."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ssar.admin import reports
from ssar.admin.charts import CHARTS, SVG_CSP
from ssar.admin.web import AdminDep, render
from ssar.errors import NotFound
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/admin", include_in_schema=False)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or "1"), 100_000))
    except ValueError:
        return 1


@router.get("/reports")
def reports_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    params = request.query_params
    flt, errors = reports.parse_filter(params, today=registry.clock.now().date())
    outcome = params.get("outcome") or None
    if outcome is not None and outcome not in reports.OUTCOME_KEYS:
        errors["outcome"] = "Choose one of the outcomes."
        outcome = None
    page = _page_number(params.get("page"))
    report = reports.funnel(registry.database, flt)
    cases, has_next = reports.case_list(registry.database, flt, outcome=outcome, page=page)
    configured = [p.name for p in registry.profiles.list()]
    return render(
        request,
        templates,
        admin,
        "admin/reports.html",
        {
            "filter": flt,
            "errors": errors,
            "outcome": outcome,
            "report": report,
            "cases": cases,
            "page": page,
            "has_next": has_next,
            "pager_base": "/admin/reports?" + flt.query(outcome=outcome),
            "chart_query": flt.query(),
            "profile_names": reports.profile_names(registry.database, configured),
            "outcomes": reports.OUTCOMES,
            "outcome_labels": dict(reports.OUTCOMES),
            "stage_labels": dict(reports.STAGES),
            "modes": reports.MODES,
        },
        section="reports",
    )


@router.get("/reports/charts/{name}.svg")
def report_chart(name: str, request: Request, registry: RegistryDep, admin: AdminDep) -> Response:
    draw = CHARTS.get(name)
    if draw is None:
        raise NotFound("no such chart")
    flt, _ = reports.parse_filter(request.query_params, today=registry.clock.now().date())
    return Response(
        draw(reports.funnel(registry.database, flt)),
        media_type="image/svg+xml",
        headers={"content-security-policy": SVG_CSP, "cache-control": "private, no-store"},
    )


@router.get("/reports/cases/{case_id}")
def case_page(
    case_id: str, request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    case = reports.case_detail(registry.database, case_id[:36])
    return render(
        request,
        templates,
        admin,
        "admin/case.html",
        {"case": case, "outcome_labels": dict(reports.OUTCOMES)},
        section="reports",
    )
