"""Admin REST API for identity verification profiles. Routes only translate HTTP to
``ProfileService`` calls; the request body is the same schema as one profile of the YAML."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ssar.profiles.models import Profile, ProfileDecision
from ssar.profiles.schema import ProfileFields
from ssar.web.auth import ADMIN_API_RESPONSES, AdminPrincipal, AdminReader
from ssar.web.deps import RegistryDep

router = APIRouter(
    prefix="/api/admin/profiles", tags=["admin", "profiles"], responses=ADMIN_API_RESPONSES
)


class IssuerView(BaseModel):
    iss: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    x5c: list[str] | None = None


class CredentialsView(BaseModel):
    types: list[str]
    issuers: list[IssuerView]


class ExtensionView(BaseModel):
    url: str
    timeout_seconds: float


class ValidationView(BaseModel):
    match: Literal["exact", "relaxed"]
    claims: dict[str, str] = Field(description="credential claim → user attribute")
    extension: ExtensionView | None = None


class FaceCheckView(BaseModel):
    required: bool
    threshold: int


class TapView(BaseModel):
    lifetime_minutes: int
    one_time: bool


class ProfileView(BaseModel):
    """A stored profile with every default filled in; groups by their current names."""

    id: str
    name: str
    description: str
    mode: Literal["evaluation", "production"]
    priority: int
    include_groups: list[str]
    exclude_groups: list[str]
    allow_privileged: bool
    provider: str
    credentials: CredentialsView | None = None
    validation: ValidationView
    face_check: FaceCheckView
    tap: TapView
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, profile: Profile) -> ProfileView:
        return cls.model_validate(
            {
                **profile.to_document(),
                "id": profile.id,
                "created_at": profile.created_at,
                "updated_at": profile.updated_at,
            }
        )


class ProfileList(BaseModel):
    profiles: list[ProfileView] = Field(description="In priority order.")


class ModeRequest(BaseModel):
    mode: Literal["evaluation", "production"]


class TraceStepView(BaseModel):
    profile: str
    priority: int
    outcome: Literal["applies", "excluded", "not_included", "privileged"]
    detail: str


class DecisionView(BaseModel):
    """Which profile applies to a user, and why (``code`` is stable for programs)."""

    profile: str | None
    reason: str
    code: Literal["applies", "unknown_user", "disabled", "privileged", "excluded", "not_included"]
    mode: Literal["evaluation", "production"] | None = None
    provider: str | None = None
    trace: list[TraceStepView]

    @classmethod
    def of(cls, decision: ProfileDecision) -> DecisionView:
        profile = decision.profile
        return cls.model_validate(
            {
                "profile": profile.name if profile else None,
                "reason": decision.reason,
                "code": decision.code,
                "mode": profile.mode if profile else None,
                "provider": profile.provider if profile else None,
                "trace": [
                    {
                        "profile": s.profile,
                        "priority": s.priority,
                        "outcome": s.outcome,
                        "detail": s.detail,
                    }
                    for s in decision.trace
                ],
            }
        )


@router.get("", response_model=ProfileList, summary="List profiles in priority order")
def list_profiles(principal: AdminReader, registry: RegistryDep) -> ProfileList:
    return ProfileList(profiles=[ProfileView.of(p) for p in registry.profiles.list()])


@router.get(
    "/which/{username}",
    response_model=DecisionView,
    summary="The profile that applies to a user, and why",
)
def which_profile(username: str, principal: AdminReader, registry: RegistryDep) -> DecisionView:
    return DecisionView.of(registry.profiles.which(username))


@router.get("/{name}", response_model=ProfileView, summary="Get a profile")
def get_profile(name: str, principal: AdminReader, registry: RegistryDep) -> ProfileView:
    return ProfileView.of(registry.profiles.get(name))


@router.put(
    "/{name}",
    response_model=ProfileView,
    summary="Create (201) or update (200) a profile by name",
    responses={201: {"model": ProfileView, "description": "Created"}},
)
def put_profile(
    name: str,
    body: ProfileFields,
    principal: AdminPrincipal,
    registry: RegistryDep,
    response: Response,
) -> ProfileView:
    result = registry.profiles.put(name=name, fields=body, actor=principal.actor)
    response.status_code = 201 if result.outcome == "created" else 200
    return ProfileView.of(result.profile)


@router.delete("/{name}", status_code=204, summary="Delete a profile")
def delete_profile(name: str, principal: AdminPrincipal, registry: RegistryDep) -> Response:
    registry.profiles.delete(name, actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/{name}/mode", response_model=ProfileView, summary="Switch evaluation / production mode"
)
def set_profile_mode(
    name: str, body: ModeRequest, principal: AdminPrincipal, registry: RegistryDep
) -> ProfileView:
    return ProfileView.of(registry.profiles.set_mode(name, body.mode, actor=principal.actor))
