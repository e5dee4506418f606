"""Bearer-token authentication for the admin API and SCIM."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from ssar.admin.tokens import TokenPrincipal
from ssar.errors import AuthenticationFailed
from ssar.web.deps import RegistryDep


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


AdminPrincipal = Annotated[TokenPrincipal, Depends(require_scope("admin"))]
ScimPrincipal = Annotated[TokenPrincipal, Depends(require_scope("scim"))]
