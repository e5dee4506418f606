"""The TAP policy page and the settings page (roles, API tokens, deployment facts)."""

from __future__ import annotations

import re

from sqlalchemy import select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.support.admin import admin_browser
from tests.support.users import add_user
from tests.support.web import INLINE

POLICY = {
    "length": "20",
    "lifetime_minutes": "30",
    "min_lifetime_minutes": "15",
    "max_lifetime_minutes": "120",
}


def _events(registry: Registry, kind: str) -> list[AuditEventRow]:
    with registry.database.transaction() as session:
        rows = session.execute(select(AuditEventRow).where(AuditEventRow.type == kind)).scalars()
        return list(rows)


def test_R25_tap_policy_saved_in_the_admin_center_applies_to_new_taps(
    any_registry: Registry,
) -> None:
    add_user(any_registry, "ada")
    with admin_browser(any_registry) as admin:
        page = admin.client.get("/admin/tap-policy")
        assert page.status_code == 200
        assert 'value="16"' in page.text  # the environment's default length
        response = admin.post("/admin/tap-policy", POLICY)  # one_time unchecked → reusable
        assert response.status_code == 303
        assert "saved" in admin.client.get(response.headers["location"]).text
    policy = any_registry.signin.taps.policy
    assert (policy.length, policy.lifetime_minutes, policy.one_time) == (20, 30, False)
    issued = any_registry.signin.taps.issue(username="ada", actor="test")
    assert len(issued.tap) == 20
    assert not issued.one_time
    assert (issued.expires_at - any_registry.clock.now()).total_seconds() == 30 * 60
    (event,) = _events(any_registry, "tap_policy.updated")
    assert event.actor == "user:root"
    assert event.data["after"]["length"] == 20


def test_R25_tap_policy_page_refuses_short_taps_and_inconsistent_lifetimes(
    registry: Registry,
) -> None:
    with admin_browser(registry) as admin:
        short = admin.post("/admin/tap-policy", {**POLICY, "length": "10"})
        assert short.status_code == 422
        assert "at least 11 characters" in short.text
        assert 'value="10"' in short.text  # the typed value is kept
        lifetimes = admin.post("/admin/tap-policy", {**POLICY, "lifetime_minutes": "500"})
        assert lifetimes.status_code == 422
        assert "between the minimum and maximum" in lifetimes.text
    assert registry.signin.taps.policy.length == 16
    assert _events(registry, "tap_policy.updated") == []


def test_a_reader_sees_the_policy_but_cannot_change_it(registry: Registry) -> None:
    with admin_browser(registry, role="reader") as admin:
        page = admin.client.get("/admin/tap-policy")
        assert page.status_code == 200
        assert "cannot" in page.text or "not change" in page.text
        response = admin.client.post(
            "/admin/tap-policy",
            data={**POLICY, "csrf_token": admin.csrf},
            headers={"accept": "text/html"},
        )
        assert response.status_code == 403
    assert registry.signin.taps.policy.length == 16


def test_settings_grant_and_revoke_roles(registry: Registry) -> None:
    add_user(registry, "grace")
    with admin_browser(registry) as admin:
        assert (
            admin.post(
                "/admin/settings/admins", {"username": "grace", "role": "helpdesk"}
            ).status_code
            == 303
        )
        assert registry.admin_roles.role_of(registry.directory.get_user("grace").id) == "helpdesk"
        unknown = admin.post("/admin/settings/admins", {"username": "nobody", "role": "reader"})
        assert unknown.status_code == 422
        assert "no user named" in unknown.text
        assert admin.post("/admin/settings/admins/grace/revoke").status_code == 303
        last = admin.post("/admin/settings/admins/root/revoke")
        assert last.status_code == 409
        assert "last global administrator" in last.text
    assert [e.actor for e in _events(registry, "admin.role_granted")][-1] == "user:root"
    assert len(_events(registry, "admin.role_revoked")) == 1


def test_settings_create_a_token_shown_once_then_revoke_it(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        page = admin.post("/admin/settings/tokens", {"name": "HR sync", "scope": "admin:read"})
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        token = re.search(r'<code id="new-token" class="secret">(ssar_[^<]+)</code>', page.text)
        assert token
        headers = {"authorization": f"Bearer {token.group(1)}"}
        assert admin.client.get("/api/admin/recovery/cases", headers=headers).status_code == 200
        listing = admin.client.get("/admin/settings").text
        assert token.group(1) not in listing
        (info,) = registry.api_tokens.list()
        assert admin.post(f"/admin/settings/tokens/{info.id}/revoke").status_code == 303
        assert admin.client.get("/api/admin/recovery/cases", headers=headers).status_code == 401
        none = admin.post("/admin/settings/tokens", {"name": "x"})
        assert none.status_code == 422
    (created,) = _events(registry, "api_token.created")
    assert created.actor == "user:root"
    assert created.data["scopes"] == ["admin:read"]
    assert _events(registry, "api_token.revoked")[0].actor == "user:root"


def test_settings_show_no_secrets(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/settings").text
    assert "Public address" in page
    assert registry.settings.base_url in page
    assert "BEGIN" not in page


def test_R31_admin_pages_so_far_have_no_inline_script_or_style(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        for url in ("/admin", "/admin/tap-policy", "/admin/settings", "/admin/signin"):
            page = admin.client.get(url)
            assert page.status_code == 200, url
            assert INLINE.search(page.text) is None, url
            assert "script-src 'self'" in page.headers["content-security-policy"]
