"""Who gets into the admin center: passkey sessions of users with a role; tokens by scope."""

from __future__ import annotations

import pytest

from ssar.errors import Conflict
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, UserRow
from tests.support.admin import admin_browser, passkey_session
from tests.support.users import add_user
from tests.support.web import page_client, signin_with_tap


def test_admin_center_needs_a_signed_in_admin(registry: Registry) -> None:
    with page_client(registry) as client:
        response = client.get("/admin")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/signin"
        assert "Sign in with a passkey" in client.get("/admin/signin").text


def test_a_tap_session_is_not_enough_even_for_an_admin(registry: Registry) -> None:
    add_user(registry, "root")
    registry.admin_roles.grant("root", "global_admin", actor="test")
    tap = registry.signin.taps.issue(username="root", actor="test").tap
    with page_client(registry) as client:
        signin_with_tap(client, "root", tap)
        response = client.get("/admin")
        assert response.headers["location"] == "/admin/signin"
        assert "needs a sign-in with a passkey" in client.get("/admin/signin").text


def test_a_passkey_user_without_a_role_is_refused(registry: Registry) -> None:
    add_user(registry, "ada")
    with page_client(registry) as client:
        passkey_session(client, registry, "ada")
        response = client.get("/admin", headers={"accept": "text/html"})
        assert response.status_code == 403
        assert "no role in the admin center" in response.text


def test_an_admin_signs_in_with_a_passkey_and_lands_on_the_overview(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin")
        assert page.status_code == 200
        assert "Overview" in page.text
        assert "Global administrator" in page.text
        assert "Start the guided set-up" in page.text  # no profile yet


def test_security_info_links_admins_to_the_admin_center(registry: Registry) -> None:
    add_user(registry, "ada")
    with page_client(registry) as client:
        passkey_session(client, registry, "ada")
        assert "Go to the admin center" not in client.get("/security-info").text
    with admin_browser(registry) as admin:
        assert "Go to the admin center" in admin.client.get("/security-info").text


def test_granting_a_role_makes_the_user_privileged_and_is_audited(registry: Registry) -> None:
    user_id = add_user(registry, "root")
    registry.admin_roles.grant("root", "helpdesk", actor="user:boss")
    with registry.database.transaction() as session:
        user = session.get(UserRow, user_id)
        assert user is not None
        assert user.privileged
        event = session.query(AuditEventRow).filter_by(type="admin.role_granted").one()
        assert event.actor == "user:boss"
        assert event.data == {"role": "helpdesk", "before": None}


def test_the_last_global_admin_cannot_be_removed(registry: Registry) -> None:
    add_user(registry, "root")
    add_user(registry, "second")
    registry.admin_roles.grant("root", "global_admin", actor="test")
    with pytest.raises(Conflict):
        registry.admin_roles.revoke("root", actor="test")
    registry.admin_roles.grant("second", "global_admin", actor="test")
    registry.admin_roles.revoke("root", actor="test")
    assert registry.admin_roles.role_of(user_id="x") is None


@pytest.mark.parametrize(
    ("scope", "read", "write"), [("admin", 200, 201), ("admin:read", 200, 403), ("scim", 403, 403)]
)
def test_api_tokens_act_by_scope(registry: Registry, scope: str, read: int, write: int) -> None:
    add_user(registry, "ada")
    token = registry.api_tokens.create(name="t", scopes=[scope]).token
    headers = {"authorization": f"Bearer {token}"}
    with page_client(registry) as client:
        assert client.get("/api/admin/recovery/cases", headers=headers).status_code == read
        response = client.post("/api/admin/users/ada/tap", json={}, headers=headers)
        assert response.status_code == write


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/admin", "/admin"),
        ("/admin/users?q=a", "/admin/users?q=a"),
        ("/security-info", "/security-info"),
        ("https://evil.example/admin", None),
        ("//evil.example/admin", None),
        ("/admin//evil.example", None),
        ("/admin\\evil", None),
        ("/recover", None),
        (None, None),
    ],
)
def test_sign_in_goes_on_only_to_admin_or_security_info(
    value: str | None, expected: str | None
) -> None:
    from ssar.web.pages import safe_next

    assert safe_next(value) == expected
