"""Admin API for users and groups: search, a user's document, revoking a method, groups, the
TAP's reason; every route described in /openapi.json."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, AuthMethodRow, OutboxRow
from tests.support.web import page_client


def _token(registry: Registry, scope: str) -> dict[str, str]:
    token = registry.api_tokens.create(name=f"t-{scope}", scopes=[scope]).token
    return {"authorization": f"Bearer {token}"}


def _seed(registry: Registry) -> str:
    registry.directory.add_group("Staff")
    ada = registry.directory.add_user(
        username="ada",
        given_name="Ada",
        family_name="Lovelace",
        emails=["ada@example.org"],
        groups=["Staff"],
    )
    registry.directory.add_user(username="alan", given_name="Alan", family_name="Turing")
    registry.directory.add_user(username="grace", given_name="Grace", family_name="Hopper")
    return ada.id


def test_search_users_pages_with_a_cursor(any_registry: Registry) -> None:
    registry = any_registry
    _seed(registry)
    headers = _token(registry, "admin:read")
    with page_client(registry) as client:
        first = client.get("/api/admin/users", params={"limit": 2}, headers=headers)
        assert first.status_code == 200
        body = first.json()
        assert [u["username"] for u in body["users"]] == ["ada", "alan"]
        assert body["users"][0]["groups"] == ["Staff"]
        assert body["users"][0]["email"] == "ada@example.org"
        rest = client.get(
            "/api/admin/users", params={"limit": 2, "cursor": body["next_cursor"]}, headers=headers
        ).json()
        assert [u["username"] for u in rest["users"]] == ["grace"]
        assert rest["next_cursor"] is None
        found = client.get("/api/admin/users", params={"q": "tur"}, headers=headers).json()
        assert [u["username"] for u in found["users"]] == ["alan"]
        assert (
            client.get("/api/admin/users", params={"limit": 0}, headers=headers).status_code == 422
        )


def test_get_user_has_methods_without_secrets_and_the_profile_decision(
    registry: Registry,
) -> None:
    _seed(registry)
    registry.signin.taps.issue(username="ada", actor="test")
    headers = _token(registry, "admin:read")
    with page_client(registry) as client:
        response = client.get("/api/admin/users/ADA", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["username"] == "ada"
        assert body["groups"] == ["Staff"]
        assert body["role"] is None
        assert body["profile"] == {
            "profile": None,
            "reason": "no profiles exist",
            "code": "not_included",
        }
        (method,) = body["methods"]
        assert method["type"] == "tap"
        assert set(method) == {"id", "type", "label", "created_at", "last_used_at", "expires_at"}
        missing = client.get("/api/admin/users/nobody", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"


def test_delete_method_needs_users_manage_and_a_reason(any_registry: Registry) -> None:
    registry = any_registry
    ada = _seed(registry)
    registry.signin.taps.issue(username="ada", actor="test")
    with registry.database.transaction() as session:
        method_id = session.execute(
            select(AuthMethodRow.id).where(AuthMethodRow.user_id == ada)
        ).scalar_one()
    url = f"/api/admin/users/ada/methods/{method_id}"
    with page_client(registry) as client:
        reader = _token(registry, "admin:read")
        refused = client.request(
            "DELETE", url, json={"reason": "a long enough reason"}, headers=reader
        )
        assert refused.status_code == 403
        admin = _token(registry, "admin")
        assert client.request("DELETE", url, headers=admin).status_code == 422  # no reason
        short = client.request("DELETE", url, params={"reason": "short"}, headers=admin)
        assert short.status_code == 422
        done = client.request(
            "DELETE", url, json={"reason": "Ticket 99: device lost"}, headers=admin
        )
        assert done.status_code == 200, done.text
        assert done.json() == {"method_id": method_id, "type": "tap", "sessions_ended": 0}
        again = client.request("DELETE", url, params={"reason": "Ticket 99: again"}, headers=admin)
        assert again.status_code == 404
    with registry.database.transaction() as session:
        (event,) = session.execute(
            select(AuditEventRow).where(AuditEventRow.type == "method.revoked")
        ).scalars()
        assert event.actor == "token:t-admin"
        assert event.data["reason"] == "Ticket 99: device lost"
        assert session.execute(
            select(OutboxRow).where(OutboxRow.kind == "method.revoked", OutboxRow.user_id == ada)
        ).first()


def test_list_groups(registry: Registry) -> None:
    _seed(registry)
    registry.directory.add_group("Engineering", parent="Staff")
    with page_client(registry) as client:
        body = client.get(
            "/api/admin/groups", params={"q": "st"}, headers=_token(registry, "admin:read")
        ).json()
        assert body["total"] == 1
        (staff,) = body["groups"]
        assert staff["name"] == "Staff"
        assert staff["direct_members"] == 1
        assert staff["children"] == ["Engineering"]
        assert client.get("/api/admin/groups").status_code == 401


def test_tap_api_keeps_the_reason_in_the_audit_log(registry: Registry) -> None:
    _seed(registry)
    with page_client(registry) as client:
        response = client.post(
            "/api/admin/users/ada/tap",
            json={"reason": "  Ticket 12: new phone  "},
            headers=_token(registry, "admin"),
        )
        assert response.status_code == 201
        tap = response.json()["tap"]
    with registry.database.transaction() as session:
        (event,) = session.execute(
            select(AuditEventRow).where(AuditEventRow.type == "tap.issued")
        ).scalars()
        assert event.data["reason"] == "Ticket 12: new phone"
        assert tap not in str(event.data)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/admin/users", "get"),
        ("/api/admin/users/{username}", "get"),
        ("/api/admin/users/{username}/methods/{method_id}", "delete"),
        ("/api/admin/groups", "get"),
    ],
)
def test_routes_are_described_in_openapi(registry: Registry, path: str, method: str) -> None:
    with page_client(registry) as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"][path][method]
    assert operation["summary"]
    assert "admin" in operation["tags"]
    responses = operation["responses"]
    assert "$ref" in str(responses["200"]["content"]["application/json"]["schema"])
    for status in ("401", "403"):
        assert status in responses
    tap = document["components"]["schemas"]["TapIssueRequest"]["properties"]
    assert "reason" in tap
