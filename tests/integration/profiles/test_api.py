"""The admin API for profiles (bearer token with the admin scope), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssar.registry import Registry
from ssar.web.app import create_app
from tests.integration.profiles.conftest import profile


@pytest.fixture
def client(org: Registry) -> TestClient:
    token = org.api_tokens.create(name="ops", scopes=["admin"]).token
    return TestClient(create_app(org), headers={"Authorization": f"Bearer {token}"})


def body(**overrides: Any) -> dict[str, Any]:
    document = profile(**overrides)
    del document["name"]
    return document


def test_put_creates_then_updates_then_unchanged(client: TestClient, org: Registry) -> None:
    created = client.put("/api/admin/profiles/Employees", json=body())
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == "Employees"
    assert view["mode"] == "evaluation"
    assert view["face_check"] == {"required": True, "threshold": 70}
    assert view["include_groups"] == ["All Staff"]
    updated = client.put("/api/admin/profiles/Employees", json=body(face_check={"threshold": 85}))
    assert updated.status_code == 200
    assert updated.json()["face_check"]["threshold"] == 85
    assert org.profiles.get("Employees").face_check.threshold == 85
    same = client.put("/api/admin/profiles/Employees", json=body(face_check={"threshold": 85}))
    assert same.status_code == 200
    assert same.json()["updated_at"] == updated.json()["updated_at"]


def test_list_get_which_mode_delete(client: TestClient) -> None:
    client.put("/api/admin/profiles/Employees", json=body())
    engineers = body(priority=5, include_groups=["Engineering"], exclude_groups=[])
    assert client.put("/api/admin/profiles/Engineers", json=engineers).status_code == 201
    listed = client.get("/api/admin/profiles")
    assert [p["name"] for p in listed.json()["profiles"]] == ["Engineers", "Employees"]
    assert client.get("/api/admin/profiles/engineers").json()["priority"] == 5
    which = client.get("/api/admin/profiles/which/ada").json()
    assert which["profile"] == "Engineers"
    assert which["reason"] == (
        "included by group \"Engineering\" via Platform ⊂ Engineering in profile 'Engineers'"
    )
    assert client.get("/api/admin/profiles/which/kate").json()["code"] == "excluded"
    moded = client.post("/api/admin/profiles/Engineers/mode", json={"mode": "production"})
    assert moded.status_code == 200
    assert moded.json()["mode"] == "production"
    assert client.delete("/api/admin/profiles/Engineers").status_code == 204
    assert client.get("/api/admin/profiles/Engineers").status_code == 404
    assert client.get("/api/admin/profiles/which/ada").json()["profile"] == "Employees"


def test_invalid_bodies_are_problems(client: TestClient) -> None:
    extra = client.put("/api/admin/profiles/Employees", json=body(colour="red"))
    assert extra.status_code == 422
    assert extra.headers["content-type"].startswith("application/problem+json")
    assert any(e["loc"][-1] == "colour" for e in extra.json()["errors"])
    threshold = client.put("/api/admin/profiles/Employees", json=body(face_check={"threshold": 30}))
    assert threshold.status_code == 422
    unknown_group = client.put("/api/admin/profiles/Employees", json=body(include_groups=["Nope"]))
    assert unknown_group.status_code == 422
    assert unknown_group.json()["code"] == "unknown_group"
    assert "'Nope'" in unknown_group.json()["detail"]
    bad_name = client.put("/api/admin/profiles/%20", json=body())
    assert bad_name.status_code == 422
    client.put("/api/admin/profiles/Employees", json=body())
    duplicate = client.put(
        "/api/admin/profiles/Other", json=body(include_groups=["Contractors"], exclude_groups=[])
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["code"] == "duplicate_priority"
    assert (
        client.post("/api/admin/profiles/Employees/mode", json={"mode": "live"}).status_code == 422
    )
    assert (
        client.post("/api/admin/profiles/Absent/mode", json={"mode": "production"}).status_code
        == 404
    )


def test_needs_an_admin_token(org: Registry) -> None:
    app = create_app(org)
    assert TestClient(app).get("/api/admin/profiles").status_code == 401
    scim = org.api_tokens.create(name="hr", scopes=["scim"]).token
    response = TestClient(app).get(
        "/api/admin/profiles", headers={"Authorization": f"Bearer {scim}"}
    )
    assert response.status_code == 403


def test_schemas_appear_in_openapi(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/api/admin/profiles/{name}"]) == {"get", "put", "delete"}
    assert "/api/admin/profiles/which/{username}" in paths
    assert "/api/admin/profiles/{name}/mode" in paths
    schemas = document["components"]["schemas"]
    for name in ("ProfileFields", "ProfileView", "DecisionView", "ModeRequest"):
        assert name in schemas
    assert schemas["FaceCheckSpec"]["properties"]["threshold"]["maximum"] == 100
