"""The identity verification profile pages of the admin center: list, which-tester, create and
edit through the form (errors per field, values kept), mode switch with confirmation, delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.support.admin import AdminBrowser, admin_browser
from tests.support.users import add_user
from tests.support.web import INLINE


def _directory(registry: Registry) -> None:
    """All Staff ⊃ Engineering ⊃ Platform; Executives ⊃ Board; ada in Platform, kate in Board."""
    directory = registry.directory
    for name in ("All Staff", "Engineering", "Platform", "Executives", "Board"):
        directory.add_group(name, actor="test")
    directory.nest_group(parent="All Staff", child="Engineering")
    directory.nest_group(parent="Engineering", child="Platform")
    directory.nest_group(parent="All Staff", child="Executives")
    directory.nest_group(parent="Executives", child="Board")
    add_user(registry, "ada", given_name="Ada", family_name="Lovelace")
    add_user(registry, "kate", given_name="Kate", family_name="Bush")
    directory.add_member(group="Platform", username="ada")
    directory.add_member(group="Board", username="kate")


def _employees(registry: Registry, **overrides: Any) -> None:
    profile = {
        "name": "Employees",
        "priority": 10,
        "include_groups": ["All Staff"],
        "exclude_groups": ["Executives"],
        "provider": "reference",
        **overrides,
    }
    registry.profiles.apply({"profiles": [profile]}, actor="test")


def _form(**overrides: str | list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Contractors",
        "description": "External staff",
        "priority": "20",
        "mode": "evaluation",
        "include_groups": ["Engineering"],
        "exclude_groups": [],
        "provider": "reference",
        "credential_types": "",
        "match": "relaxed",
        "claim_given_name": "given_name",
        "claim_family_name": "family_name",
        "claim_birthdate": "birthdate",
        "face_required": "1",
        "face_threshold": "75",
        "tap_lifetime": "30",
        "tap_one_time": "1",
    }
    data.update(overrides)
    return data


def _post(admin: AdminBrowser, url: str, data: dict[str, Any]) -> Any:
    return admin.client.post(url, data={**data, "csrf_token": admin.csrf})


def _events(registry: Registry, kind: str) -> list[AuditEventRow]:
    with registry.database.transaction() as session:
        rows = session.execute(select(AuditEventRow).where(AuditEventRow.type == kind)).scalars()
        return list(rows)


def test_the_list_shows_profiles_in_priority_order(registry: Registry) -> None:
    _directory(registry)
    _employees(registry)
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Executives",
                    "priority": 5,
                    "include_groups": ["Executives"],
                    "provider": "reference",
                    "face_check": {"required": True, "threshold": 85},
                    "tap": {"lifetime_minutes": 20},
                }
            ]
        },
        actor="test",
    )
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/profiles")
    assert page.status_code == 200
    text = page.text
    assert text.index("Executives</strong>") < text.index("Employees</strong>")
    assert "threshold 85</span>" in text
    assert '20 min<br><span class="muted small">one-time' in text
    assert 'chip chip-exclude">Executives' in text
    assert "New profile" in text
    assert "/admin/profiles/" in text


def test_which_tester_explains_the_decision_with_the_nested_path(registry: Registry) -> None:
    _directory(registry)
    _employees(registry)
    with admin_browser(registry) as admin:
        ada = admin.client.get("/admin/profiles", params={"user": "ada"}).text
        kate = admin.client.get("/admin/profiles", params={"user": "kate"}).text
        nobody = admin.client.get("/admin/profiles", params={"user": "ghost"}).text
    assert "profile <a" in ada
    assert "Employees" in ada
    assert "via Platform ⊂ Engineering ⊂ All Staff" in ada
    assert "no profile applies" in kate
    assert "excluded by group &#34;Executives&#34; via Board ⊂ Executives" in kate or (
        "excluded by group &quot;Executives&quot; via Board ⊂ Executives" in kate
    )
    assert "unknown user" in nobody


def test_create_a_profile_through_the_form(any_registry: Registry) -> None:
    registry = any_registry
    _directory(registry)
    with admin_browser(registry) as admin:
        form = admin.client.get("/admin/profiles/new")
        assert form.status_code == 200
        assert 'value="10"' in form.text  # the next free priority is proposed
        response = _post(admin, "/admin/profiles/new", _form())
        assert response.status_code == 303, response.text
        profile = registry.profiles.get("Contractors")
        assert response.headers["location"] == f"/admin/profiles/{profile.id}?done=profile_created"
        shown = admin.client.get(response.headers["location"])
    assert "Profile created in evaluation mode" in shown.text
    assert profile.mode == "evaluation"
    assert profile.priority == 20
    assert [g.name for g in profile.include_groups] == ["Engineering"]
    assert profile.description == "External staff"
    assert profile.validation.match == "relaxed"
    assert {(c.claim, c.attribute) for c in profile.validation.claims} == {
        ("given_name", "given_name"),
        ("family_name", "family_name"),
        ("birthdate", "birthdate"),
    }
    assert (profile.face_check.required, profile.face_check.threshold) == (True, 75)
    assert (profile.tap.lifetime_minutes, profile.tap.one_time) == (30, True)
    (event,) = _events(registry, "profile.created")
    assert event.actor == "user:root"
    assert event.data["name"] == "Contractors"
    assert registry.profiles.which("ada").profile == profile


def test_form_errors_are_shown_per_field_with_the_values_kept(registry: Registry) -> None:
    _directory(registry)
    _employees(registry)
    with admin_browser(registry) as admin:
        response = _post(
            admin,
            "/admin/profiles/new",
            _form(
                name="employees",
                priority="10",
                include_groups=["Engineering", "Nope"],
                face_threshold="101",
                description="keep me",
            ),
        )
    assert response.status_code == 422
    text = response.text
    assert "The profile was not saved" in text
    assert (
        'href="#priority">Priority</a>: priority 10 is already used by profile “Employees”' in text
    )
    assert 'id="include_groups-error">not in the directory: Nope' in text
    assert 'id="name-error">a profile named “employees” exists already' in text
    assert 'id="face_threshold-error">must be from 50 to 100 (got 101)' in text
    assert text.count("field-invalid") >= 3
    assert 'value="keep me"' in text
    assert 'value="101"' in text
    assert "Nope</textarea>" in text  # the unknown group stays in the form
    assert re.search(r'value="Engineering" checked', text)
    assert registry.profiles.list()[0].name == "Employees"
    assert len(registry.profiles.list()) == 1
    assert [e.actor for e in _events(registry, "profile.created")] == ["test"]


def test_a_wallet_profile_needs_types_and_an_issuer(registry: Registry) -> None:
    _directory(registry)
    with admin_browser(registry) as admin:
        missing = _post(admin, "/admin/profiles/new", _form(provider="openid4vp"))
        assert missing.status_code == 422
        assert 'id="credential_types-error"' in missing.text
        assert 'id="issuer_iss-error">a wallet profile needs a trusted issuer' in missing.text
        done = _post(
            admin,
            "/admin/profiles/new",
            _form(
                provider="openid4vp",
                credential_types="urn:eudi:pid:1\norg.iso.18013.5.1.mDL",
                issuer_iss="https://pid.example.eu",
                issuer_jwks_uri="https://pid.example.eu/jwks.json",
            ),
        )
        assert done.status_code == 303, done.text
    profile = registry.profiles.get("Contractors")
    assert profile.credentials is not None
    assert profile.credentials.types == ("urn:eudi:pid:1", "org.iso.18013.5.1.mDL")
    assert [i.iss for i in profile.credentials.issuers] == ["https://pid.example.eu"]


def test_tap_lifetime_must_lie_within_the_tap_policy(registry: Registry) -> None:
    _directory(registry)
    policy = registry.signin.taps.policy
    with admin_browser(registry) as admin:
        response = _post(
            admin, "/admin/profiles/new", _form(tap_lifetime=str(policy.max_lifetime_minutes + 1))
        )
    assert response.status_code == 422
    assert (
        f"must lie within the TAP policy: {policy.min_lifetime_minutes} to "
        f"{policy.max_lifetime_minutes} minutes"
    ) in response.text


def test_edit_keeps_the_name_and_mode_and_records_the_change(registry: Registry) -> None:
    _directory(registry)
    _employees(registry, mode="production")
    profile = registry.profiles.get("Employees")
    with admin_browser(registry) as admin:
        form = admin.client.get(f"/admin/profiles/{profile.id}/edit")
        assert form.status_code == 200
        assert 'value="Employees" readonly' in form.text
        response = _post(
            admin,
            f"/admin/profiles/{profile.id}/edit",
            _form(
                name="Renamed",
                priority="10",
                include_groups=["All Staff"],
                exclude_groups=["Executives", "Board"],
                mode="evaluation",
                face_threshold="80",
            ),
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/admin/profiles/{profile.id}?done=profile_updated"
    after = registry.profiles.get("Employees")
    assert after.id == profile.id
    assert after.mode == "production"  # the mode switches on its own page
    assert after.face_check.threshold == 80
    assert [g.name for g in after.exclude_groups] == ["Executives", "Board"]
    (event,) = _events(registry, "profile.updated")
    assert event.actor == "user:root"
    assert "settings" in event.data["changed"]
    assert "exclude_groups" in event.data["changed"]


def test_switching_mode_needs_the_confirmation_checkbox(any_registry: Registry) -> None:
    registry = any_registry
    _directory(registry)
    _employees(registry)
    profile = registry.profiles.get("Employees")
    url = f"/admin/profiles/{profile.id}/mode"
    with admin_browser(registry) as admin:
        page = admin.client.get(url)
        assert page.status_code == 200
        assert "revokes every sign-in method of the person and issues a" in page.text
        refused = _post(admin, url, {"mode": "production"})
        assert refused.status_code == 422
        assert "Tick “I understand”" in refused.text
        assert registry.profiles.get("Employees").mode == "evaluation"
        done = _post(admin, url, {"mode": "production", "confirm": "1"})
        assert done.status_code == 303
        assert done.headers["location"] == "/admin/profiles?done=profile_production"
        assert registry.profiles.get("Employees").mode == "production"
        back = admin.client.get(url)
        assert "back to evaluation" in back.text
        stale = _post(admin, url, {"mode": "production", "confirm": "1"})
        assert stale.status_code == 422  # already in production: the page is shown again
        _post(admin, url, {"mode": "evaluation", "confirm": "1"})
    assert registry.profiles.get("Employees").mode == "evaluation"
    events = _events(registry, "profile.mode_changed")
    assert [(e.data["from"], e.data["to"], e.actor) for e in events] == [
        ("evaluation", "production", "user:root"),
        ("production", "evaluation", "user:root"),
    ]


def test_delete_asks_first_then_deletes(registry: Registry) -> None:
    _directory(registry)
    _employees(registry)
    profile = registry.profiles.get("Employees")
    with admin_browser(registry) as admin:
        confirm = admin.client.get(f"/admin/profiles/{profile.id}/delete")
        assert confirm.status_code == 200
        assert "This cannot be undone" in confirm.text
        assert registry.profiles.list()  # showing the page deleted nothing
        response = _post(admin, f"/admin/profiles/{profile.id}/delete", {})
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/profiles?done=profile_deleted"
    assert registry.profiles.list() == ()
    (event,) = _events(registry, "profile.deleted")
    assert event.actor == "user:root"


def test_a_reader_sees_the_profiles_but_changes_nothing(registry: Registry) -> None:
    _directory(registry)
    _employees(registry)
    profile = registry.profiles.get("Employees")
    with admin_browser(registry, role="reader") as admin:
        assert admin.client.get("/admin/profiles").status_code == 200
        assert admin.client.get(f"/admin/profiles/{profile.id}").status_code == 200
        assert "New profile" not in admin.client.get("/admin/profiles").text
        assert admin.client.get("/admin/profiles/new").status_code == 403
        for url, data in (
            ("/admin/profiles/new", _form()),
            (f"/admin/profiles/{profile.id}/edit", _form()),
            (f"/admin/profiles/{profile.id}/mode", {"mode": "production", "confirm": "1"}),
            (f"/admin/profiles/{profile.id}/delete", {}),
        ):
            assert _post(admin, url, data).status_code == 403, url
    assert [(p.name, p.mode) for p in registry.profiles.list()] == [("Employees", "evaluation")]
    assert _events(registry, "profile.deleted") == []


def test_a_post_without_csrf_is_refused(registry: Registry) -> None:
    _directory(registry)
    with admin_browser(registry) as admin:
        response = admin.client.post("/admin/profiles/new", data=_form())
    assert response.status_code == 403
    assert registry.profiles.list() == ()


@pytest.mark.parametrize("many", [False, True])
def test_profile_pages_have_no_inline_script_or_style(registry: Registry, many: bool) -> None:
    _directory(registry)
    if many:  # a big directory: the form offers a text field with suggestions
        for index in range(45):
            registry.directory.add_group(f"Team {index:02}", actor="test")
    _employees(registry)
    profile = registry.profiles.get("Employees")
    with admin_browser(registry) as admin:
        pages = [
            admin.client.get("/admin/profiles", params={"user": "ada"}),
            admin.client.get("/admin/profiles/new"),
            admin.client.get(f"/admin/profiles/{profile.id}"),
            admin.client.get(f"/admin/profiles/{profile.id}/edit"),
            admin.client.get(f"/admin/profiles/{profile.id}/mode"),
            admin.client.get(f"/admin/profiles/{profile.id}/delete"),
            _post(admin, "/admin/profiles/new", _form(priority="x", include_groups=["Nope"])),
        ]
    for page in pages:
        assert page.status_code in (200, 422), page.text
        assert INLINE.search(page.text) is None, page.text
        assert 'name="csrf_token" value=""' not in page.text  # forms carry a real token
    assert ('list="group-names"' in pages[1].text) is many
    assert ('type="checkbox" name="include_groups"' in pages[1].text) is not many
