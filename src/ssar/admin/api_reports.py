"""Admin API: the recovery funnel report and the cost-savings estimator (the admin center's
numbers, for dashboards and scripts)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ssar.admin import estimator, reports
from ssar.admin.pages.estimator import ACTUALS_DAYS, estimate
from ssar.errors import ValidationFailed
from ssar.web.auth import ADMIN_API_RESPONSES, AdminReader
from ssar.web.deps import RegistryDep

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ADMIN_API_RESPONSES)


# --- funnel --------------------------------------------------------------------------------


class FunnelStage(BaseModel):
    key: str = Field(description="`started`, `verified`, `face_matched`, `validated`, ...")
    label: str
    count: int = Field(description="Flows that reached this step.")
    percent: float = Field(description="Of the flows started, rounded to a tenth.")


class FunnelOutcomes(BaseModel):
    restored: int = Field(description="Accounts recovered (production).")
    evaluated: int = Field(description="Would have recovered (evaluation mode).")
    failed: int = Field(description="Refused by a check.")
    abandoned: int = Field(description="Expired or cancelled before a decision.")
    in_progress: int


class FailureReasonCount(BaseModel):
    reason: str = Field(description="The reason code (`face_check_failed`, `expired`, ...).")
    state: str = Field(description="`failed`, `expired` or `cancelled`.")
    stopped_at: str = Field(description="`verification`, `face`, `validation` or `decision`.")
    label: str
    count: int


class DayCounts(BaseModel):
    day: date = Field(description="The UTC day the flows started.")
    restored: int
    evaluated: int
    failed: int
    abandoned: int
    in_progress: int


class ProfileCounts(BaseModel):
    profile: str | None = Field(description="Null: no profile applied to the account typed.")
    mode: str
    started: int
    verified: int
    face_matched: int
    validated: int
    restored: int
    evaluated: int


class FunnelReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from", description="First UTC day counted.")
    end: date = Field(alias="to", description="Last UTC day counted (included).")
    profile: str | None
    mode: str | None
    stages: list[FunnelStage]
    outcomes: FunnelOutcomes
    failure_reasons: list[FailureReasonCount] = Field(description="Most frequent first.")
    days: list[DayCounts] = Field(description="Every day of the range, oldest first.")
    profiles: list[ProfileCounts]


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        field, message = next(iter(errors.items()))
        raise ValidationFailed(message, field=field)


@router.get(
    "/reports/funnel",
    response_model=FunnelReport,
    response_model_by_alias=True,
    summary="The recovery funnel, failure reasons and outcomes per day",
    description="Counts the recovery flows started in a range of UTC days (default: the last "
    f"{reports.DEFAULT_DAYS}; at most {reports.MAX_DAYS}), optionally for one profile and mode.",
)
def funnel_report(
    principal: AdminReader,
    registry: RegistryDep,
    start: Annotated[date | None, Query(alias="from", description="First day.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (included).")] = None,
    profile: Annotated[str | None, Query(max_length=128)] = None,
    mode: Literal["evaluation", "production"] | None = None,
) -> FunnelReport:
    flt, errors = reports.parse_filter(
        {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "profile": profile,
            "mode": mode,
        },
        today=registry.clock.now().date(),
    )
    _refuse(errors)
    report = reports.funnel(registry.database, flt)
    return FunnelReport(
        start=flt.start,
        end=flt.end,
        profile=flt.profile,
        mode=flt.mode,
        stages=[
            FunnelStage(key=s.key, label=s.label, count=s.count, percent=s.percent)
            for s in report.stages
        ],
        outcomes=FunnelOutcomes(**report.outcomes),
        failure_reasons=[
            FailureReasonCount(
                reason=r.reason, state=r.state, stopped_at=r.stage, label=r.label, count=r.count
            )
            for r in report.reasons
        ],
        days=[DayCounts(day=d.day, **d.counts) for d in report.days],
        profiles=[
            ProfileCounts(profile=p.profile, mode=p.mode, **p.counts) for p in report.profiles
        ],
    )


# --- estimator -----------------------------------------------------------------------------


class EstimatorInputs(BaseModel):
    users: int
    share_percent: float
    helpdesk_cost: float
    helpdesk_minutes: float
    self_service_minutes: float
    check_cost: float
    success_percent: float


class SavingsFigures(BaseModel):
    attempts: float = Field(description="Recovery attempts (per month for the projection).")
    self_served: float = Field(description="Of which recovered without the helpdesk.")
    helpdesk_cost_avoided: float
    verification_cost: float
    net_monthly: float = Field(description="Helpdesk cost avoided − verification cost.")
    net_yearly: float
    hours_regained: float


class EstimatorActuals(BaseModel):
    days: int = Field(description="The period looked back over.")
    started: int
    restored: int
    evaluated: int
    failed: int
    savings: SavingsFigures = Field(description="The same formula over these flows.")


class EstimatorResult(BaseModel):
    inputs: EstimatorInputs = Field(description="The inputs used (defaults filled in).")
    enabled_users: int = Field(description="Enabled users in the directory (default `users`).")
    projection: SavingsFigures
    formula: str = Field(description="The projection's arithmetic with its numbers.")
    actuals: EstimatorActuals | None = Field(
        description=f"The organisation's own flows over the last {ACTUALS_DAYS} days; null "
        "when nobody started a recovery."
    )


def _figures(s: estimator.Savings) -> SavingsFigures:
    return SavingsFigures(
        attempts=float(s.attempts),
        self_served=float(s.self_served),
        helpdesk_cost_avoided=float(s.helpdesk_cost_avoided),
        verification_cost=float(s.verification_cost),
        net_monthly=float(s.net_monthly),
        net_yearly=float(s.net_yearly),
        hours_regained=float(s.hours_regained),
    )


def _limit(name: str, description: str) -> object:
    field = estimator.FIELD_BY_NAME[name]
    return Query(ge=float(field.minimum), le=float(field.maximum), description=description)


@router.get(
    "/estimator",
    response_model=EstimatorResult,
    summary="Cost savings of self-service recovery: projection and actuals",
    description="Every input is optional and takes the admin center's default.",
)
def estimator_result(
    principal: AdminReader,
    registry: RegistryDep,
    users: Annotated[int | None, _limit("users", "Default: enabled users.")] = None,
    share_percent: Annotated[float | None, _limit("share_percent", "Default 2.")] = None,
    helpdesk_cost: Annotated[float | None, _limit("helpdesk_cost", "Default 60.")] = None,
    helpdesk_minutes: Annotated[float | None, _limit("helpdesk_minutes", "Default 60.")] = None,
    self_service_minutes: Annotated[
        float | None, _limit("self_service_minutes", "Default 5.")
    ] = None,
    check_cost: Annotated[float | None, _limit("check_cost", "Default 1.50.")] = None,
    success_percent: Annotated[float | None, _limit("success_percent", "Default 90.")] = None,
) -> EstimatorResult:
    given = {
        "users": users,
        "share_percent": share_percent,
        "helpdesk_cost": helpdesk_cost,
        "helpdesk_minutes": helpdesk_minutes,
        "self_service_minutes": self_service_minutes,
        "check_cost": check_cost,
        "success_percent": success_percent,
    }
    result = estimate(registry, {k: None if v is None else repr(v) for k, v in given.items()})
    _refuse(result.errors)
    i, a = result.inputs, result.actuals
    return EstimatorResult(
        inputs=EstimatorInputs(
            users=i.users,
            share_percent=float(i.share_percent),
            helpdesk_cost=float(i.helpdesk_cost),
            helpdesk_minutes=float(i.helpdesk_minutes),
            self_service_minutes=float(i.self_service_minutes),
            check_cost=float(i.check_cost),
            success_percent=float(i.success_percent),
        ),
        enabled_users=result.enabled_users,
        projection=_figures(result.projection),
        formula=result.formula,
        actuals=EstimatorActuals(
            days=ACTUALS_DAYS,
            started=a.started,
            restored=a.restored,
            evaluated=a.evaluated,
            failed=a.failed,
            savings=_figures(result.actual_savings),
        )
        if result.actual_savings is not None
        else None,
    )
