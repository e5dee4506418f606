"""SCIM 2.0 /scim/v2 against a real database: create, filter, paginate, PATCH, PUT, DELETE,
SCIM errors and token scopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from ssar.web.app import create_app

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def scim(any_registry: Registry) -> Iterator[TestClient]:
    token = any_registry.api_tokens.create(name="hr", scopes=["scim"]).token
    with TestClient(create_app(any_registry)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _user(username: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": username,
        "name": {"givenName": "Given", "familyName": username.title()},
        "emails": [{"value": f"{username}@corp.example", "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def _assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body["scimType"] == scim_type


def test_create_user_returns_201_location_and_meta(
    scim: TestClient, any_registry: Registry
) -> None:
    response = scim.post(
        "/scim/v2/Users",
        json=_user("ada", externalId="hr-1", **{ENTERPRISE: {"employeeNumber": "E7"}}),
        headers={"Content-Type": "application/scim+json"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert body["meta"]["resourceType"] == "User"
    assert body[ENTERPRISE] == {"employeeNumber": "E7"}
    user = any_registry.directory.get_user("ADA")
    assert (user.external_id, user.employee_id, user.given_name) == ("hr-1", "E7", "Given")
    with any_registry.database.transaction() as session:
        event = session.execute(
            select(AuditEventRow).where(AuditEventRow.type == "user.created")
        ).scalar_one()
    assert event.actor == "token:hr"
    assert scim.get(f"/scim/v2/Users/{body['id']}").json()["userName"] == "ada"


def test_duplicate_username_is_409_uniqueness(scim: TestClient) -> None:
    assert scim.post("/scim/v2/Users", json=_user("bob")).status_code == 201
    _assert_scim_error(scim.post("/scim/v2/Users", json=_user("BOB")), 409, "uniqueness")


def test_invalid_user_bodies_are_400(scim: TestClient) -> None:
    _assert_scim_error(scim.post("/scim/v2/Users", json={"name": {}}), 400, "invalidValue")
    _assert_scim_error(scim.post("/scim/v2/Users", json=_user("has space")), 400, "invalidValue")
    response = scim.post(
        "/scim/v2/Users", content=b"{not json", headers={"Content-Type": "application/scim+json"}
    )
    _assert_scim_error(response, 400, "invalidSyntax")


def test_filter_by_username_external_id_and_bad_filter(scim: TestClient) -> None:
    scim.post("/scim/v2/Users", json=_user("carol", externalId="x-1"))
    scim.post("/scim/v2/Users", json=_user("dave", externalId="x-2"))
    found = scim.get("/scim/v2/Users", params={"filter": 'userName eq "CAROL"'}).json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "carol"
    assert found["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    by_external = scim.get("/scim/v2/Users", params={"filter": 'externalId eq "x-2"'}).json()
    assert [r["userName"] for r in by_external["Resources"]] == ["dave"]
    none = scim.get("/scim/v2/Users", params={"filter": 'userName eq "nobody"'}).json()
    assert none["totalResults"] == 0
    assert none["Resources"] == []
    _assert_scim_error(
        scim.get("/scim/v2/Users", params={"filter": "userName eq"}), 400, "invalidFilter"
    )
    _assert_scim_error(
        scim.get("/scim/v2/Users", params={"filter": 'password eq "x"'}), 400, "invalidFilter"
    )


def test_pagination_with_start_index_and_count(scim: TestClient) -> None:
    for i in range(5):
        assert scim.post("/scim/v2/Users", json=_user(f"user{i}")).status_code == 201
    page = scim.get("/scim/v2/Users", params={"startIndex": 2, "count": 2}).json()
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["user1", "user2"]
    only_total = scim.get("/scim/v2/Users", params={"count": 0}).json()
    assert (only_total["totalResults"], only_total["Resources"]) == (5, [])
    projected = scim.get("/scim/v2/Users", params={"attributes": "userName", "count": 1}).json()
    assert set(projected["Resources"][0]) == {"id", "schemas", "meta", "userName"}


def test_patch_user_active_names_emails_and_enterprise(
    scim: TestClient, any_registry: Registry
) -> None:
    user_id = scim.post("/scim/v2/Users", json=_user("erin")).json()["id"]
    operations = [
        {"op": "replace", "path": "active", "value": "False"},  # Entra ID sends strings
        {"op": "Replace", "path": "name.givenName", "value": "Erin"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "erin.e@corp.example"},
        {"op": "add", "path": f"{ENTERPRISE}:employeeNumber", "value": "E42"},
        {"op": "add", "value": {"displayName": "Erin E.", "externalId": "hr-9"}},
    ]
    response = scim.patch(
        f"/scim/v2/Users/{user_id}", json={"schemas": [PATCH], "Operations": operations}
    )
    assert response.status_code == 200, response.text
    user = any_registry.directory.get_user_by_id(user_id)
    assert not user.enabled
    assert user.given_name == "Erin"
    assert [e.address for e in user.emails] == ["erin.e@corp.example"]
    assert (user.employee_id, user.display_name, user.external_id) == ("E42", "Erin E.", "hr-9")
    remove = [
        {"op": "remove", "path": "externalId"},
        {"op": "remove", "path": 'emails[value eq "erin.e@corp.example"]'},
    ]
    scim.patch(f"/scim/v2/Users/{user_id}", json={"schemas": [PATCH], "Operations": remove})
    user = any_registry.directory.get_user_by_id(user_id)
    assert (user.external_id, user.emails) == (None, ())


def test_patch_user_errors(scim: TestClient) -> None:
    user_id = scim.post("/scim/v2/Users", json=_user("fay")).json()["id"]
    bad_op = {"schemas": [PATCH], "Operations": [{"op": "move", "path": "active"}]}
    _assert_scim_error(scim.patch(f"/scim/v2/Users/{user_id}", json=bad_op), 400, "invalidSyntax")
    read_only = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}
    _assert_scim_error(scim.patch(f"/scim/v2/Users/{user_id}", json=read_only), 400, "mutability")
    missing = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": True}],
    }
    _assert_scim_error(scim.patch("/scim/v2/Users/no-such-id", json=missing), 404)


def test_put_replaces_user_but_keeps_privileged(scim: TestClient, any_registry: Registry) -> None:
    any_registry.directory.add_user(
        username="gil", given_name="Gil", family_name="G", privileged=True
    )
    user_id = any_registry.directory.get_user("gil").id
    body = _user("gil.new", displayName="Gil New")
    del body["emails"]
    response = scim.put(f"/scim/v2/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    user = any_registry.directory.get_user_by_id(user_id)
    assert (user.username, user.display_name, user.emails) == ("gil.new", "Gil New", ())
    assert user.privileged  # an HR system that does not know the flag cannot clear it


def test_delete_user_then_404(scim: TestClient, any_registry: Registry) -> None:
    user_id = scim.post("/scim/v2/Users", json=_user("hal")).json()["id"]
    assert scim.delete(f"/scim/v2/Users/{user_id}").status_code == 204
    assert any_registry.directory.find_user("hal") is None
    _assert_scim_error(scim.get(f"/scim/v2/Users/{user_id}"), 404)
    _assert_scim_error(scim.delete(f"/scim/v2/Users/{user_id}"), 404)


def test_groups_create_filter_patch_members_put_delete(
    scim: TestClient, any_registry: Registry
) -> None:
    ids = [scim.post("/scim/v2/Users", json=_user(n)).json()["id"] for n in ("ivy", "jon", "kim")]
    parent = scim.post("/scim/v2/Groups", json={"displayName": "All Staff"}).json()
    response = scim.post(
        "/scim/v2/Groups",
        json={"displayName": "Engineering", "externalId": "g-1", "members": [{"value": ids[0]}]},
    )
    assert response.status_code == 201, response.text
    group = response.json()
    assert response.headers["Location"].endswith(f"/scim/v2/Groups/{group['id']}")
    assert [m["value"] for m in group["members"]] == [ids[0]]
    _assert_scim_error(
        scim.post("/scim/v2/Groups", json={"displayName": "engineering"}), 409, "uniqueness"
    )

    found = scim.get("/scim/v2/Groups", params={"filter": 'displayName eq "ENGINEERING"'}).json()
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    slim = scim.get("/scim/v2/Groups", params={"excludedAttributes": "members"}).json()
    assert slim["totalResults"] == 2
    assert all("members" not in g for g in slim["Resources"])

    ops = [
        {"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]},
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        {"op": "replace", "path": "displayName", "value": "Eng"},
    ]
    patched = scim.patch(
        f"/scim/v2/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": ops}
    )
    assert patched.status_code == 204, patched.text
    members = scim.get(f"/scim/v2/Groups/{group['id']}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(ids[1:])
    assert any_registry.directory.find_group("Eng") is not None

    # a group as a member nests it: members of Eng count as members of All Staff
    nest = [{"op": "add", "path": "members", "value": [{"value": group["id"]}]}]
    assert (
        scim.patch(
            f"/scim/v2/Groups/{parent['id']}", json={"schemas": [PATCH], "Operations": nest}
        ).status_code
        == 204
    )
    assert any_registry.directory.is_member(username="jon", group="All Staff")
    cycle = [{"op": "add", "path": "members", "value": [{"value": parent["id"]}]}]
    _assert_scim_error(
        scim.patch(
            f"/scim/v2/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": cycle}
        ),
        400,
        "invalidValue",
    )
    unknown = [{"op": "add", "path": "members", "value": [{"value": "no-such-id"}]}]
    _assert_scim_error(
        scim.patch(
            f"/scim/v2/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": unknown}
        ),
        400,
        "invalidValue",
    )

    put = scim.put(
        f"/scim/v2/Groups/{group['id']}",
        json={"displayName": "Eng", "members": [{"value": ids[0]}]},
    )
    assert put.status_code == 200, put.text
    assert [m["value"] for m in put.json()["members"]] == [ids[0]]
    assert "externalId" not in put.json()

    assert scim.delete(f"/scim/v2/Groups/{group['id']}").status_code == 204
    _assert_scim_error(scim.get(f"/scim/v2/Groups/{group['id']}"), 404)
    assert not any_registry.directory.is_member(username="ivy", group="All Staff")


def test_missing_wrong_and_wrong_scope_tokens(scim: TestClient, any_registry: Registry) -> None:
    response = scim.get("/scim/v2/Users", headers={"Authorization": ""})
    _assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _assert_scim_error(
        scim.get("/scim/v2/Users", headers={"Authorization": "Bearer ssar_nope"}), 401
    )
    admin = any_registry.api_tokens.create(name="ops", scopes=["admin"]).token
    _assert_scim_error(
        scim.post(
            "/scim/v2/Users", json=_user("zed"), headers={"Authorization": f"Bearer {admin}"}
        ),
        403,
    )
    assert any_registry.directory.find_user("zed") is None


def test_discovery_documents(scim: TestClient) -> None:
    config = scim.get("/scim/v2/ServiceProviderConfig", headers={"Authorization": ""}).json()
    assert config["patch"]["supported"] is True
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.get("/scim/v2/ResourceTypes").json()
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
    schemas = scim.get("/scim/v2/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in ids
    assert ENTERPRISE in ids
    user_schema = scim.get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert any(
        a["name"] == "userName" and a["uniqueness"] == "server" for a in user_schema["attributes"]
    )
    _assert_scim_error(scim.get("/scim/v2/ResourceTypes/Printer"), 404)
