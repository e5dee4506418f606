"""Bearer-token authentication for the admin API and SCIM.

Admin API tokens carry the scope ``admin`` (acts as a global administrator) or ``admin:read``
(a reports reader); each route names the permission it needs (``ssar.admin.roles``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ssar.admin import roles
from ssar.admin.tokens import TokenPrincipal
from ssar.errors import AuthenticationFailed
from ssar.web.deps import RegistryDep

ADMIN_SCOPES = frozenset(roles.TOKEN_SCOPE_ROLES)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiToken",
    description="An API token from `ssar tokens create` or the admin center's settings page.",
)


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials.strip():
        raise AuthenticationFailed("a bearer token is required")
    return credentials.credentials.strip()


class Problem(BaseModel):
    """An RFC 9457 problem response (``application/problem+json``)."""

    type: str = Field(description="A URI naming the kind of problem.")
    code: str = Field(description="The stable code, e.g. `not_found`, `validation_failed`.")
    title: str
    status: int
    detail: str


def _problem(description: str) -> dict[str, object]:
    return {"model": Problem, "description": description}


#: the error responses every admin API operation may give (for ``APIRouter(responses=...)``)
ADMIN_API_RESPONSES: dict[int | str, dict[str, object]] = {
    401: _problem("No token, or an invalid or revoked one."),
    403: _problem("The token's scope does not allow this."),
    422: _problem("The request breaks a rule; `detail` says which."),
}


BearerToken = Annotated[str, Depends(bearer_token)]


def require_scope(scope: str) -> Callable[..., TokenPrincipal]:
    def dependency(token: BearerToken, registry: RegistryDep) -> TokenPrincipal:
        return registry.api_tokens.authenticate(token, required_scope=scope)

    return dependency


def admin_api(permission: str) -> Callable[..., roles.AdminPrincipal]:
    """An admin API token whose scope grants ``permission``."""

    def dependency(token: BearerToken, registry: RegistryDep) -> roles.AdminPrincipal:
        principal_token = registry.api_tokens.authenticate(token, required_scope=ADMIN_SCOPES)
        role = "global_admin" if "admin" in principal_token.scopes else "reader"
        principal = roles.AdminPrincipal(
            actor=principal_token.actor, role=role, display_name=principal_token.name
        )
        principal.require(permission)
        return principal

    return dependency


#: may change configuration (profiles, trust, policy): scope ``admin``
AdminPrincipal = Annotated[roles.AdminPrincipal, Depends(admin_api(roles.CONFIG_MANAGE))]
#: may revoke methods and issue TAPs: scope ``admin``
AdminUsersManager = Annotated[roles.AdminPrincipal, Depends(admin_api(roles.USERS_MANAGE))]
#: may read reports, cases and the audit log: scope ``admin`` or ``admin:read``
AdminReader = Annotated[roles.AdminPrincipal, Depends(admin_api(roles.READ))]
ScimPrincipal = Annotated[TokenPrincipal, Depends(require_scope("scim"))]
