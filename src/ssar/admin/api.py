"""Admin REST API (bearer tokens with scopes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ssar.web.auth import ADMIN_API_RESPONSES, AdminReader, AdminUsersManager, Problem
from ssar.web.deps import RegistryDep, client_ip

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ADMIN_API_RESPONSES)


class TapIssueRequest(BaseModel):
    """Both fields default to the tenant's TAP policy."""

    lifetime_minutes: int | None = Field(
        default=None, description="Within the policy's minimum and maximum lifetime."
    )
    one_time: bool | None = Field(default=None, description="False issues a reusable TAP.")
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why (e.g. the helpdesk ticket); kept in the `tap.issued` audit event.",
    )


class TapIssueResponse(BaseModel):
    tap: str = Field(description="The Temporary Access Pass; shown once, never stored.")
    expires_at: datetime
    one_time: bool


@router.post(
    "/users/{username}/tap",
    status_code=201,
    response_model=TapIssueResponse,
    summary="Issue a Temporary Access Pass (replaces the user's active one)",
)
def issue_tap(
    username: str,
    body: TapIssueRequest,
    principal: AdminUsersManager,
    registry: RegistryDep,
    request: Request,
) -> TapIssueResponse:
    issued = registry.signin.taps.issue(
        username=username,
        actor=principal.actor,
        lifetime_minutes=body.lifetime_minutes,
        one_time=body.one_time,
        ip=client_ip(request),
        reason=(body.reason or "").strip() or None,
    )
    return TapIssueResponse(tap=issued.tap, expires_at=issued.expires_at, one_time=issued.one_time)


class RecoveryCase(BaseModel):
    """One recovery attempt's case record: never the person's claims or images."""

    id: str
    account: str = Field(description="The username as the person typed it.")
    user_id: str | None = Field(description="The matched directory user, if any.")
    eligibility: str = Field(description="`applies`, `unknown_user`, `excluded`, ...")
    profile: str | None
    mode: str = Field(description="`evaluation` or `production`.")
    provider: str
    state: str = Field(description="The flow's state (ARCHITECTURE.md).")
    reason: str | None = Field(description="Why the flow failed (admins only).")
    issuer: str | None
    credential_type: str | None
    face_attempts: int
    face_score: float | None
    checks: list[dict[str, Any]] = Field(
        description="Every check in order: `check`, `outcome` and details such as `score`."
    )
    ip: str | None
    created_at: datetime
    finished_at: datetime | None
    disputed_at: datetime | None


class RecoveryCaseList(BaseModel):
    cases: list[RecoveryCase]


@router.get(
    "/recovery/cases",
    summary="Recent recovery cases, newest first",
    response_model=RecoveryCaseList,
)
def recovery_cases(
    principal: AdminReader,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RecoveryCaseList:
    cases = registry.recovery.cases(limit=limit)
    return RecoveryCaseList(cases=[RecoveryCase.model_validate(c) for c in cases])


@router.get(
    "/recovery/cases/{case_id}",
    summary="One recovery case with every check's outcome",
    response_model=RecoveryCase,
    responses={404: {"model": Problem, "description": "No such case."}},
)
def recovery_case(case_id: str, principal: AdminReader, registry: RegistryDep) -> RecoveryCase:
    return RecoveryCase.model_validate(registry.recovery.case(case_id))
