"""The guided first-run set-up: an empty directory, a users CSV, who, how, review → a profile
in evaluation mode that the recovery flow selects; every step's refusals; permissions."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.support.admin import AdminBrowser, admin_browser
from tests.support.web import INLINE

CSV = (
    "username,given_name,family_name,email,groups\n"
    "ada,Ada,Lovelace,ada@example.org,All Staff;Engineering\n"
    "grace,Grace,Hopper,grace@example.org,All Staff\n"
    "kate,Kate,Bush,kate@example.org,All Staff;Executives\n"
)


def _upload(admin: AdminBrowser, content: str, filename: str = "users.csv") -> Any:
    return admin.client.post(
        "/admin/setup/import",
        data={"csrf_token": admin.csrf},
        files={"users": (filename, content.encode(), "text/csv")},
    )


def _create(admin: AdminBrowser, pairs: list[tuple[str, str]]) -> Any:
    """POST the review form (fields given as pairs; a name may repeat)."""
    data: dict[str, list[str]] = {"csrf_token": [admin.csrf]}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return admin.client.post("/admin/setup/create", data=data)


def _hidden(html: str) -> list[tuple[str, str]]:
    """The hidden fields of a page's form, to carry the wizard's state as a browser would."""
    return [
        (m.group(1), m.group(2).replace("&#34;", '"').replace("&amp;", "&"))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
        if m.group(1) != "csrf_token"
    ]


def test_the_whole_wizard_from_an_empty_directory(any_registry: Registry) -> None:
    registry = any_registry
    with admin_browser(registry) as admin:
        overview = admin.client.get("/admin")
        assert 'href="/admin/setup"' in overview.text

        # 1. directory: no groups yet → the CSV upload is the way on
        start = admin.client.get("/admin/setup")
        assert start.status_code == 200
        assert "Your directory has no groups yet" in start.text
        assert 'class="wizard-steps"' in start.text
        imported = _upload(admin, CSV)
        assert imported.status_code == 303, imported.text
        step1 = admin.client.get(imported.headers["location"])
        assert "Imported 3 users and created 3 groups" in step1.text
        assert 'href="/admin/setup/who"' in step1.text

        # 2. who: include All Staff, exclude Executives
        who = admin.client.get("/admin/setup/who")
        assert who.status_code == 200
        assert 'value="All Staff" checked' in who.text  # the group everyone is in is proposed
        assert 'value="Engineering">' in who.text
        assert "privileged accounts are excluded anyway" in who.text
        how = admin.client.get(
            "/admin/setup/how",
            params=[("who_done", "1"), ("include", "All Staff"), ("exclude", "Executives")],
        )
        assert how.status_code == 200, how.text

        # 3. how: the built-in reference service, face check on (the defaults)
        assert re.search(r'value="reference" checked', how.text)
        assert re.search(r'name="face" value="on" checked', how.text)
        review = admin.client.get(
            "/admin/setup/review",
            params=[*_hidden(how.text), ("provider", "reference"), ("face", "on")],
        )
        assert review.status_code == 200, review.text
        assert "Create the profile in evaluation mode" in review.text

        # 4. review → create
        created = _create(admin, [*_hidden(review.text), ("name", "Staff")])
        assert created.status_code == 303, created.text
        done = admin.client.get(created.headers["location"])
        assert done.status_code == 200
        assert "What to do next" in done.text
        assert 'href="/recover"' in done.text
        assert 'href="/admin/reports"' in done.text

    profile = registry.profiles.get("Staff")
    assert profile.mode == "evaluation"
    assert profile.provider == "reference"
    assert [g.name for g in profile.include_groups] == ["All Staff"]
    assert [g.name for g in profile.exclude_groups] == ["Executives"]
    assert (profile.face_check.required, profile.face_check.threshold) == (True, 70)
    assert not profile.allow_privileged
    decision = registry.profiles.which("ada")
    assert decision.profile is not None
    assert decision.profile.id == profile.id
    assert registry.profiles.which("kate").code == "excluded"
    with registry.database.transaction() as session:
        events = session.execute(
            select(AuditEventRow.type, AuditEventRow.actor).where(
                AuditEventRow.type.in_(["profile.created", "user.imported"])
            )
        ).all()
    assert ("profile.created", "user:root") in events
    assert ("user.imported", "user:root") in events


def test_a_wallet_choice_needs_its_issuer_and_goes_on_to_the_trust_page(
    registry: Registry,
) -> None:
    registry.directory.add_group("All Staff", actor="test")
    with admin_browser(registry) as admin:
        base = [("who_done", "1"), ("include", "All Staff"), ("how_done", "1")]
        missing = admin.client.get(
            "/admin/setup/review",
            params=[*base, ("provider", "openid4vp"), ("credential_type", "urn:eudi:pid:1")],
        )
        assert missing.status_code == 422
        assert "3. How do people prove who they are?" in missing.text
        assert "a wallet profile needs a trusted issuer" in missing.text
        review = admin.client.get(
            "/admin/setup/review",
            params=[
                *base,
                ("provider", "openid4vp"),
                ("credential_type", "urn:eudi:pid:1"),
                ("issuer_iss", "https://pid.example.eu"),
                ("issuer_jwks_uri", "https://pid.example.eu/jwks.json"),
                ("face", "off"),
            ],
        )
        assert review.status_code == 200, review.text
        created = _create(admin, _hidden(review.text))
        assert created.status_code == 303, created.text
        done = admin.client.get(created.headers["location"]).text
    assert 'href="/admin/trust"' in done
    profile = registry.profiles.get("Everyone")
    assert profile.provider == "openid4vp"
    assert profile.credentials is not None
    assert [i.iss for i in profile.credentials.issuers] == ["https://pid.example.eu"]
    assert not profile.face_check.required


def test_who_needs_a_group_that_exists(registry: Registry) -> None:
    registry.directory.add_group("All Staff", actor="test")
    with admin_browser(registry) as admin:
        none = admin.client.get("/admin/setup/how", params={"who_done": "1"})
        unknown = admin.client.get(
            "/admin/setup/how", params=[("who_done", "1"), ("include", "Ghosts")]
        )
    assert none.status_code == 422
    assert "choose at least one group" in none.text
    assert unknown.status_code == 422
    assert "not in the directory: Ghosts" in unknown.text
    assert "2. Who can recover their account?" in unknown.text


def test_a_taken_name_is_refused_at_review_and_nothing_is_created(registry: Registry) -> None:
    registry.directory.add_group("All Staff", actor="test")
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Everyone",
                    "priority": 10,
                    "include_groups": ["All Staff"],
                    "provider": "reference",
                }
            ]
        },
        actor="test",
    )
    with admin_browser(registry) as admin:
        response = _create(
            admin,
            [
                ("who_done", "1"),
                ("include", "All Staff"),
                ("how_done", "1"),
                ("provider", "reference"),
                ("face", "on"),
                ("name", "everyone"),
            ],
        )
    assert response.status_code == 422
    assert "exists already" in response.text
    assert [p.name for p in registry.profiles.list()] == ["Everyone"]


def test_a_csv_with_bad_rows_reports_them(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        response = _upload(admin, CSV + "x y,,Nobody,,\n")
        wrong = _upload(admin, "name,colour\nada,red\n")
        empty = admin.client.post("/admin/setup/import", data={"csrf_token": admin.csrf})
    assert response.status_code == 200
    assert "1 row refused" in response.text
    assert '<td class="num">5</td>' in response.text
    assert wrong.status_code == 422
    assert empty.status_code == 422
    assert "Choose a CSV file" in empty.text


def test_a_reader_cannot_run_the_set_up(registry: Registry) -> None:
    with admin_browser(registry, role="reader") as admin:
        assert admin.client.get("/admin/setup").status_code == 403
        assert _upload(admin, CSV).status_code == 403
        response = _create(admin, [("include", "All Staff"), ("name", "X")])
        assert response.status_code == 403
    assert registry.profiles.list() == ()
    assert registry.directory.find_user("ada") is None


def test_set_up_pages_have_no_inline_script_or_style(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        pages = [admin.client.get("/admin/setup")]
        _upload(admin, CSV)
        query = [("who_done", "1"), ("include", "All Staff")]
        pages += [
            admin.client.get("/admin/setup"),
            admin.client.get("/admin/setup/who"),
            admin.client.get("/admin/setup/how", params=query),
            admin.client.get("/admin/setup/review", params=[*query, ("how_done", "1")]),
        ]
        created = _create(admin, [*query, ("how_done", "1")])
        pages.append(admin.client.get(created.headers["location"]))
    for page in pages:
        assert page.status_code == 200, page.text
        assert INLINE.search(page.text) is None, page.text
        assert 'name="csrf_token" value=""' not in page.text  # forms carry a real token
