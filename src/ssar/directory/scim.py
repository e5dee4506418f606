"""SCIM 2.0 (RFC 7643/7644) endpoints under /scim/v2: Users, Groups and discovery.

Routes only translate HTTP to directory service calls. Errors leave as SCIM error documents
(``application/scim+json``), not as the problem+json of the rest of the service: ``ScimRoute``
catches them inside these routes, including a missing or wrong token. The discovery endpoints
need no token (RFC 7644 §4 allows it); everything else needs the ``scim`` scope.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from ssar import errors
from ssar.directory.filters import FilterError, parse_filter
from ssar.directory.scim_patch import (
    ScimPatchError,
    apply_user_patch,
    compile_group_patch,
    parse_group,
    parse_user,
    user_changes,
)
from ssar.directory.scim_schemas import (
    MAX_RESULTS,
    ScimPatchRequest,
    canonical_keys,
    error_document,
    group_resource,
    list_response,
    project,
    resource_types,
    schemas,
    service_provider_config,
    user_resource,
)
from ssar.web.auth import ScimPrincipal
from ssar.web.deps import RegistryDep

MEDIA_TYPE = "application/scim+json"


class ScimResponse(JSONResponse):
    media_type = MEDIA_TYPE


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response:
    response = ScimResponse(error_document(status, detail, scim_type), status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def error_response(exc: Exception) -> Response | None:
    """The SCIM error for an exception, or None for one that is not ours to translate."""
    if isinstance(exc, ScimPatchError):
        return scim_error(400, exc.detail, exc.scim_type)
    if isinstance(exc, FilterError):
        return scim_error(400, exc.detail, "invalidFilter")
    if isinstance(exc, RequestValidationError):
        return scim_error(400, "the request is not valid JSON of the right shape", "invalidSyntax")
    if isinstance(exc, errors.AuthenticationFailed):
        return scim_error(401, "a valid bearer token is required")
    if isinstance(exc, errors.PermissionDenied):
        return scim_error(403, exc.detail)
    if isinstance(exc, errors.NotFound):
        return scim_error(404, exc.detail)
    if isinstance(exc, errors.Conflict):
        if exc.code == "group_cycle":
            return scim_error(400, exc.detail, "invalidValue")
        return scim_error(409, exc.detail, "uniqueness")
    if isinstance(exc, errors.ValidationFailed):
        return scim_error(400, exc.detail, "invalidValue")
    return None


class ScimRoute(APIRoute):
    """Turns errors raised while solving dependencies or running the route into SCIM errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = error_response(exc)
                if response is None:
                    raise
                return response

        return scim_handler


router = APIRouter(
    prefix="/scim/v2",
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimResponse,
)

FilterQuery = Annotated[str | None, Query(alias="filter")]
StartIndex = Annotated[int, Query(alias="startIndex")]
Count = Annotated[int | None, Query(alias="count")]
Attributes = Annotated[str | None, Query(alias="attributes")]
Excluded = Annotated[str | None, Query(alias="excludedAttributes")]
JsonBody = Annotated[Any, Body()]


def _page(start_index: int, count: int | None) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex below 1 means 1; count is capped and never negative."""
    start = max(start_index, 1)
    size = MAX_RESULTS if count is None else min(max(count, 0), MAX_RESULTS)
    return start, size


def _created(resource: dict[str, Any]) -> Response:
    return ScimResponse(
        resource, status_code=201, headers={"Location": resource["meta"]["location"]}
    )


# --- discovery -------------------------------------------------------------------------------


@router.get("/ServiceProviderConfig")
def get_service_provider_config(registry: RegistryDep) -> Response:
    return ScimResponse(service_provider_config(registry.settings.base_url))


@router.get("/ResourceTypes")
def list_resource_types(registry: RegistryDep) -> Response:
    types = resource_types(registry.settings.base_url)
    return ScimResponse(list_response(types, total=len(types), start_index=1))


@router.get("/ResourceTypes/{name}")
def get_resource_type(name: str, registry: RegistryDep) -> Response:
    for resource_type in resource_types(registry.settings.base_url):
        if resource_type["id"].lower() == name.lower():
            return ScimResponse(resource_type)
    return scim_error(404, f"no resource type {name!r}")


@router.get("/Schemas")
def list_schemas(registry: RegistryDep) -> Response:
    found = schemas(registry.settings.base_url)
    return ScimResponse(list_response(found, total=len(found), start_index=1))


@router.get("/Schemas/{urn}")
def get_schema(urn: str, registry: RegistryDep) -> Response:
    for schema in schemas(registry.settings.base_url):
        if schema["id"].lower() == urn.lower():
            return ScimResponse(schema)
    return scim_error(404, f"no schema {urn!r}")


# --- users -----------------------------------------------------------------------------------


@router.post("/Users")
def create_user(body: JsonBody, registry: RegistryDep, principal: ScimPrincipal) -> Response:
    values = user_changes(parse_user(body), for_create=True)
    user = registry.directory.add_user(**values, actor=principal.actor)
    return _created(user_resource(user, base_url=registry.settings.base_url))


@router.get("/Users")
def list_users(
    registry: RegistryDep,
    principal: ScimPrincipal,
    filter: FilterQuery = None,
    start_index: StartIndex = 1,
    count: Count = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    start, size = _page(start_index, count)
    parsed = parse_filter(filter) if filter else None
    page = registry.directory.list_users(filter=parsed, limit=size, offset=start - 1)
    base = registry.settings.base_url
    resources = (
        project(user_resource(u, base_url=base), attributes=attributes, excluded=excluded)
        for u in page.users
    )
    return ScimResponse(list_response(resources, total=page.total, start_index=start))


@router.get("/Users/{user_id}")
def get_user(
    user_id: str,
    registry: RegistryDep,
    principal: ScimPrincipal,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    user = registry.directory.get_user_by_id(user_id)
    resource = user_resource(user, base_url=registry.settings.base_url)
    return ScimResponse(project(resource, attributes=attributes, excluded=excluded))


@router.put("/Users/{user_id}")
def replace_user(
    user_id: str, body: JsonBody, registry: RegistryDep, principal: ScimPrincipal
) -> Response:
    values = user_changes(parse_user(body), for_create=False)
    user = registry.directory.update_user(user_id, **values, actor=principal.actor)
    return ScimResponse(user_resource(user, base_url=registry.settings.base_url))


@router.patch("/Users/{user_id}")
def patch_user(
    user_id: str, body: JsonBody, registry: RegistryDep, principal: ScimPrincipal
) -> Response:
    request = _patch_request(body)
    base = registry.settings.base_url
    current = user_resource(registry.directory.get_user_by_id(user_id), base_url=base)
    patched = parse_user(apply_user_patch(current, request.Operations))
    values = user_changes(patched, for_create=False)
    user = registry.directory.update_user(user_id, **values, actor=principal.actor)
    return ScimResponse(user_resource(user, base_url=base))


@router.delete("/Users/{user_id}")
def delete_user(user_id: str, registry: RegistryDep, principal: ScimPrincipal) -> Response:
    registry.directory.delete_user(user_id, actor=principal.actor)
    return Response(status_code=204)


def _patch_request(body: Any) -> ScimPatchRequest:
    if not isinstance(body, dict):
        raise ScimPatchError("the body must be a PatchOp object", scim_type="invalidSyntax")
    try:
        return ScimPatchRequest.model_validate(canonical_keys(body))
    except ValueError as exc:
        raise ScimPatchError(
            "a PatchOp needs Operations with op", scim_type="invalidSyntax"
        ) from exc


# --- groups ----------------------------------------------------------------------------------


def _wants_members(attributes: str | None, excluded: str | None) -> bool:
    if attributes:
        return "members" in attributes.lower()
    return not (excluded and "members" in excluded.lower())


@router.post("/Groups")
def create_group(body: JsonBody, registry: RegistryDep, principal: ScimPrincipal) -> Response:
    group_in = parse_group(body)
    group = registry.directory.add_group(
        group_in.displayName,
        external_id=group_in.externalId,
        members=[m.value for m in group_in.members],
        actor=principal.actor,
    )
    return _created(group_resource(group, base_url=registry.settings.base_url))


@router.get("/Groups")
def list_groups(
    registry: RegistryDep,
    principal: ScimPrincipal,
    filter: FilterQuery = None,
    start_index: StartIndex = 1,
    count: Count = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    start, size = _page(start_index, count)
    parsed = parse_filter(filter) if filter else None
    page = registry.directory.list_groups(
        filter=parsed,
        limit=size,
        offset=start - 1,
        with_members=_wants_members(attributes, excluded),
    )
    base = registry.settings.base_url
    resources = (
        project(group_resource(g, base_url=base), attributes=attributes, excluded=excluded)
        for g in page.groups
    )
    return ScimResponse(list_response(resources, total=page.total, start_index=start))


@router.get("/Groups/{group_id}")
def get_group(
    group_id: str,
    registry: RegistryDep,
    principal: ScimPrincipal,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    group = registry.directory.get_group_by_id(
        group_id, with_members=_wants_members(attributes, excluded)
    )
    resource = group_resource(group, base_url=registry.settings.base_url)
    return ScimResponse(project(resource, attributes=attributes, excluded=excluded))


@router.put("/Groups/{group_id}")
def replace_group(
    group_id: str, body: JsonBody, registry: RegistryDep, principal: ScimPrincipal
) -> Response:
    group_in = parse_group(body)
    group = registry.directory.update_group(
        group_id,
        name=group_in.displayName,
        external_id=group_in.externalId,
        replace_members=[m.value for m in group_in.members],
        actor=principal.actor,
    )
    return ScimResponse(group_resource(group, base_url=registry.settings.base_url))


@router.patch("/Groups/{group_id}")
def patch_group(
    group_id: str, body: JsonBody, registry: RegistryDep, principal: ScimPrincipal
) -> Response:
    """Answers 204 (RFC 7644 §3.5.2 allows it): echoing a group of every user is no use."""
    changes = compile_group_patch(_patch_request(body).Operations)
    registry.directory.update_group(
        group_id,
        name=changes.name,
        external_id=changes.external_id,
        add_members=changes.add,
        remove_members=changes.remove,
        replace_members=changes.replace,
        actor=principal.actor,
    )
    return Response(status_code=204)


@router.delete("/Groups/{group_id}")
def delete_group(group_id: str, registry: RegistryDep, principal: ScimPrincipal) -> Response:
    registry.directory.delete_group(group_id, actor=principal.actor)
    return Response(status_code=204)
