"""Admin center: the cost-savings estimator (a GET form; the numbers come from
``ssar.admin.estimator`` and the organisation's own flows from ``ssar.admin.reports``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from ssar.admin import estimator, reports
from ssar.admin.web import AdminDep, render
from ssar.registry import Registry
from ssar.store.tables import UserRow
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/admin", include_in_schema=False)

#: the actuals look back this far (the projection is per month)
ACTUALS_DAYS = 30


@dataclass(frozen=True)
class Estimate:
    inputs: estimator.EstimateInputs
    errors: dict[str, str]
    enabled_users: int
    projection: estimator.Savings
    formula: str
    actuals: reports.RecoveryActuals
    actual_savings: estimator.Savings | None


def enabled_users(registry: Registry) -> int:
    with registry.database.transaction() as session:
        return int(
            session.execute(
                select(func.count()).select_from(UserRow).where(UserRow.enabled.is_(True))
            ).scalar_one()
        )


def estimate(registry: Registry, raw: dict[str, str | None]) -> Estimate:
    """The estimator's figures for the raw inputs (page and API share it)."""
    users = enabled_users(registry)
    inputs, errors = estimator.parse_inputs(raw, default_users=users)
    projection = estimator.project(inputs)
    now = registry.clock.now()
    actual = reports.actuals(
        registry.database,
        since=now - timedelta(days=ACTUALS_DAYS),
        until=now + timedelta(seconds=1),
    )
    recovered = actual.restored + actual.evaluated
    actual_savings = (
        estimator.from_actuals(started=actual.started, recovered=recovered, inputs=inputs)
        if actual.started
        else None
    )
    return Estimate(
        inputs=inputs,
        errors=errors,
        enabled_users=users,
        projection=projection,
        formula=estimator.formula(inputs, projection),
        actuals=actual,
        actual_savings=actual_savings,
    )


@router.get("/estimator")
def estimator_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    raw = {f.name: request.query_params.get(f.name) for f in estimator.FIELDS}
    result = estimate(registry, raw)
    shown = {
        f.name: (raw[f.name] or "").strip()
        if f.name in result.errors
        else estimator.field_value(f, getattr(result.inputs, f.name))
        for f in estimator.FIELDS
    }
    return render(
        request,
        templates,
        admin,
        "admin/estimator.html",
        {
            "est": result,
            "fields": estimator.FIELDS,
            "values": shown,
            "actuals_days": ACTUALS_DAYS,
            "dollars": estimator.dollars,
            "hours": estimator.hours,
            "count": estimator.count,
        },
        section="estimator",
        status_code=422 if result.errors else 200,
    )
