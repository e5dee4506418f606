"""Bearer-token authentication for the admin API and SCIM.

Admin API tokens carry the scope ``admin`` (acts as a global administrator) or ``admin:read``
(a reports reader); each route names the permission it needs (``ssar.admin.roles``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from ssar.admin import roles
from ssar.admin.tokens import TokenPrincipal
from ssar.errors import AuthenticationFailed
from ssar.web.deps import RegistryDep

ADMIN_SCOPES = frozenset(roles.TOKEN_SCOPE_ROLES)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("a bearer token is required")
    return token.strip()


def require_scope(scope: str) -> Callable[..., TokenPrincipal]:
    def dependency(request: Request, registry: RegistryDep) -> TokenPrincipal:
        return registry.api_tokens.authenticate(bearer_token(request), required_scope=scope)

    return dependency


def admin_api(permission: str) -> Callable[..., roles.AdminPrincipal]:
    """An admin API token whose scope grants ``permission``."""

    def dependency(request: Request, registry: RegistryDep) -> roles.AdminPrincipal:
        token = registry.api_tokens.authenticate(bearer_token(request), required_scope=ADMIN_SCOPES)
        role = "global_admin" if "admin" in token.scopes else "reader"
        principal = roles.AdminPrincipal(actor=token.actor, role=role, display_name=token.name)
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
