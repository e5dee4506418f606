"""Admin REST API (bearer tokens with scopes)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ssar.web.auth import AdminReader, AdminUsersManager
from ssar.web.deps import RegistryDep, client_ip

router = APIRouter(prefix="/api/admin", tags=["admin"])


class TapIssueRequest(BaseModel):
    """Both fields default to the tenant's TAP policy."""

    lifetime_minutes: int | None = Field(
        default=None, description="Within the policy's minimum and maximum lifetime."
    )
    one_time: bool | None = Field(default=None, description="False issues a reusable TAP.")


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
    )
    return TapIssueResponse(tap=issued.tap, expires_at=issued.expires_at, one_time=issued.one_time)


@router.get("/recovery/cases", summary="Recent recovery cases, newest first")
def recovery_cases(
    principal: AdminReader, registry: RegistryDep, limit: int = 100
) -> dict[str, object]:
    return {"cases": registry.recovery.cases(limit=max(1, min(limit, 1000)))}


@router.get("/recovery/cases/{case_id}", summary="One recovery case with every check's outcome")
def recovery_case(case_id: str, principal: AdminReader, registry: RegistryDep) -> dict[str, object]:
    return registry.recovery.case(case_id)
