"""SCIM 2.0 wire shapes (RFC 7643): request models, resource representations of directory
results, and the discovery documents. Separate from the table rows and the service results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ssar.directory.filters import CORE_GROUP, CORE_USER, ENTERPRISE_USER, SSAR_USER
from ssar.directory.models import Group, User

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SP_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 1000


# --- requests --------------------------------------------------------------------------------


class _Lenient(BaseModel):
    # clients send attributes we do not keep (phoneNumbers, addresses, ...): ignore them
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ScimName(_Lenient):
    givenName: str | None = None
    familyName: str | None = None
    formatted: str | None = None


class ScimEmail(_Lenient):
    value: str
    type: str | None = "work"
    primary: bool = False


class ScimEnterpriseUser(_Lenient):
    employeeNumber: str | None = None


class ScimSsarUser(_Lenient):
    privileged: bool | None = None
    birthdate: str | None = None


class ScimUserIn(_Lenient):
    userName: str
    externalId: str | None = None
    name: ScimName | None = None
    displayName: str | None = None
    active: bool = True
    emails: list[ScimEmail] = Field(default_factory=list)
    enterprise: ScimEnterpriseUser | None = Field(default=None, alias=ENTERPRISE_USER)
    ssar: ScimSsarUser | None = Field(default=None, alias=SSAR_USER)


class ScimMemberRef(_Lenient):
    value: str
    display: str | None = None
    type: str | None = None


class ScimGroupIn(_Lenient):
    displayName: str
    externalId: str | None = None
    members: list[ScimMemberRef] = Field(default_factory=list)


class ScimPatchOperation(_Lenient):
    op: str
    path: str | None = None
    value: Any = None


class ScimPatchRequest(_Lenient):
    schemas: list[str] = Field(default_factory=lambda: [PATCH_OP])
    Operations: list[ScimPatchOperation]


# attribute names are case-insensitive (RFC 7643 §2.1): spell them the way the models do
_CANONICAL = {
    name.lower(): name
    for name in (
        "schemas",
        "id",
        "meta",
        "userName",
        "externalId",
        "name",
        "givenName",
        "familyName",
        "formatted",
        "displayName",
        "active",
        "emails",
        "value",
        "type",
        "primary",
        "display",
        "members",
        "groups",
        "employeeNumber",
        "privileged",
        "birthdate",
        "op",
        "path",
        "Operations",
        "$ref",
        ENTERPRISE_USER,
        SSAR_USER,
    )
}


def canonical_keys(value: Any) -> Any:
    """Recursively re-spell known attribute names; leave values alone."""
    if isinstance(value, Mapping):
        return {_CANONICAL.get(str(k).lower(), str(k)): canonical_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_keys(v) for v in value]
    return value


# --- representations -------------------------------------------------------------------------


def _meta(resource_type: str, location: str, created: Any, modified: Any) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": created.isoformat(),
        "lastModified": modified.isoformat(),
        "location": location,
    }


def user_resource(user: User, *, base_url: str) -> dict[str, Any]:
    schemas = [CORE_USER, ENTERPRISE_USER, SSAR_USER]
    resource: dict[str, Any] = {
        "schemas": schemas,
        "id": user.id,
        "userName": user.username,
        "name": {
            "givenName": user.given_name,
            "familyName": user.family_name,
            "formatted": f"{user.given_name} {user.family_name}",
        },
        "displayName": user.display_name,
        "active": user.enabled,
        "emails": [{"value": e.address, "type": e.kind, "primary": e.primary} for e in user.emails],
        ENTERPRISE_USER: {"employeeNumber": user.employee_id}
        if user.employee_id is not None
        else {},
        SSAR_USER: {"privileged": user.privileged}
        | ({"birthdate": user.birthdate} if user.birthdate else {}),
        "meta": _meta(
            "User", f"{base_url}/scim/v2/Users/{user.id}", user.created_at, user.updated_at
        ),
    }
    if user.external_id is not None:
        resource["externalId"] = user.external_id
    if not resource[ENTERPRISE_USER]:
        del resource[ENTERPRISE_USER]
        schemas.remove(ENTERPRISE_USER)
    return resource


def group_resource(group: Group, *, base_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [CORE_GROUP],
        "id": group.id,
        "displayName": group.name,
        "meta": _meta(
            "Group", f"{base_url}/scim/v2/Groups/{group.id}", group.created_at, group.updated_at
        ),
    }
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    if group.members is not None:
        resource["members"] = [
            {
                "value": m.id,
                "display": m.display,
                "type": m.type,
                "$ref": f"{base_url}/scim/v2/{m.type}s/{m.id}",
            }
            for m in group.members
        ]
    return resource


def project(
    resource: dict[str, Any], *, attributes: str | None, excluded: str | None
) -> dict[str, Any]:
    """Apply ``attributes`` / ``excludedAttributes`` (top-level names) to one resource."""
    always = {"id", "schemas", "meta"}

    def names(text: str) -> set[str]:
        result = set()
        for part in text.split(","):
            part = part.strip().lower()
            for urn in (CORE_USER.lower() + ":", CORE_GROUP.lower() + ":"):
                part = part.removeprefix(urn)
            if part:
                result.add(part.split(".")[0] if not part.startswith("urn:") else part)
        return result

    if attributes:
        wanted = names(attributes)
        return {k: v for k, v in resource.items() if k in always or k.lower() in wanted}
    if excluded:
        dropped = names(excluded)
        return {k: v for k, v in resource.items() if k in always or k.lower() not in dropped}
    return resource


def list_response(
    resources: Iterable[dict[str, Any]], *, total: int, start_index: int
) -> dict[str, Any]:
    items = list(resources)
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def error_document(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        document["scimType"] = scim_type
    return document


# --- discovery (RFC 7643 §5-7) ---------------------------------------------------------------


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SP_CONFIG],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "An SSAR API token with the scim scope (ssar tokens create).",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/scim/v2/ServiceProviderConfig",
        },
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person in the directory",
            "schema": CORE_USER,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER, "required": False},
                {"schema": SSAR_USER, "required": False},
            ],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/scim/v2/ResourceTypes/User",
            },
        },
        {
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of users and groups (nested membership counts)",
            "schema": CORE_GROUP,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/scim/v2/ResourceTypes/Group",
            },
        },
    ]


def _attr(
    name: str,
    type_: str = "string",
    *,
    required: bool = False,
    multi: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    sub: list[dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description,
        "required": required,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    }
    if type_ in ("string", "reference"):
        attribute["caseExact"] = case_exact
    if sub is not None:
        attribute["subAttributes"] = sub
    return attribute


def schemas(base_url: str) -> list[dict[str, Any]]:
    def schema(urn: str, name: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA],
            "id": urn,
            "name": name,
            "description": f"{name} attributes SSAR keeps",
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base_url}/scim/v2/Schemas/{urn}"},
        }

    user = schema(
        CORE_USER,
        "User",
        [
            _attr("userName", required=True, uniqueness="server", description="Sign-in name"),
            _attr(
                "name",
                "complex",
                sub=[
                    _attr("givenName", required=True),
                    _attr("familyName", required=True),
                    _attr("formatted", mutability="readOnly"),
                ],
            ),
            _attr("displayName"),
            _attr("active", "boolean", description="false disables sign-in"),
            _attr(
                "emails",
                "complex",
                multi=True,
                sub=[_attr("value"), _attr("type"), _attr("primary", "boolean")],
            ),
        ],
    )
    group = schema(
        CORE_GROUP,
        "Group",
        [
            _attr("displayName", required=True, uniqueness="server"),
            _attr(
                "members",
                "complex",
                multi=True,
                sub=[
                    _attr("value", mutability="immutable", case_exact=True),
                    _attr("display", mutability="readOnly"),
                    _attr("type", mutability="immutable", description="User or Group"),
                    _attr("$ref", "reference", mutability="immutable"),
                ],
            ),
        ],
    )
    enterprise = schema(ENTERPRISE_USER, "EnterpriseUser", [_attr("employeeNumber")])
    ssar = schema(
        SSAR_USER,
        "SsarUser",
        [
            _attr("privileged", "boolean", description="Administrators and other privileged users"),
            _attr("birthdate", description="ISO date, matched against identity credentials"),
        ],
    )
    return [user, group, enterprise, ssar]
