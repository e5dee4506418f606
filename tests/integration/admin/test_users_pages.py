"""Admin center users pages: search, a user's page, revoking a method, issuing a TAP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ssar.registry import Registry
from ssar.signin.tap import hash_tap
from ssar.store.tables import AuditEventRow, AuthMethodRow, OutboxRow, SessionRow, UserRow
from tests.support.admin import admin_browser, passkey_session
from tests.support.users import add_user
from tests.support.web import INLINE, page_client

USERNAME = re.compile(r'<code class="username">([^<]+)</code>')
TAP_SHOWN = re.compile(r'<code id="tap">([1-9A-HJ-NP-Za-km-z]+)</code>')


def person(
    registry: Registry,
    username: str,
    *,
    given_name: str = "Ada",
    family_name: str = "Lovelace",
    emails: tuple[str, ...] = (),
    enabled: bool = True,
) -> str:
    """A user made by the directory service (so the namesake index knows the family name)."""
    return registry.directory.add_user(
        username=username,
        given_name=given_name,
        family_name=family_name,
        emails=emails,
        enabled=enabled,
    ).id


def _events(registry: Registry, kind: str) -> list[AuditEventRow]:
    with registry.database.transaction() as session:
        rows = session.execute(
            select(AuditEventRow).where(AuditEventRow.type == kind).order_by(AuditEventRow.seq)
        ).scalars()
        return list(rows)


def _method_ids(registry: Registry, user_id: str, kind: str) -> list[str]:
    with registry.database.transaction() as session:
        return list(
            session.execute(
                select(AuthMethodRow.id).where(
                    AuthMethodRow.user_id == user_id,
                    AuthMethodRow.type == kind,
                    AuthMethodRow.revoked_at.is_(None),
                )
            ).scalars()
        )


def _make_privileged(registry: Registry, user_id: str) -> None:
    with registry.database.transaction() as session:
        row = session.get(UserRow, user_id)
        assert row is not None
        row.privileged = True


# --- the list ---------------------------------------------------------------------------------


def test_users_list_searches_by_username_family_name_given_family_and_email(
    any_registry: Registry,
) -> None:
    registry = any_registry
    person(registry, "ada", given_name="Ada", family_name="Lovelace", emails=("ada@example.org",))
    person(registry, "mmueller", given_name="Marta", family_name="Müller")
    person(
        registry, "zed", given_name="Zed", family_name="Shaw", emails=("z.shaw@contoso.example",)
    )
    registry.directory.add_group("Staff")
    registry.directory.add_member(group="Staff", username="ada")
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/users")
        assert page.status_code == 200
        for name in ("Ada Lovelace", "Marta Müller", "Zed Shaw", "Grace Hopper"):
            assert name in page.text
        assert "Global administrator" in page.text  # the admin's role badge

        def found(q: str) -> set[str]:
            html = admin.client.get("/admin/users", params={"q": q}).text
            return set(re.findall(USERNAME, html))

        assert found("AD") == {"ada"}  # username prefix, any case
        assert found("love") == {"ada"}  # family name prefix
        assert found("mull") == {"mmueller"}  # relaxed: ü as u
        assert found("muell") == {"mmueller"}  # and as ue
        assert found("ada lov") == {"ada"}  # given + family
        assert found("marta lov") == set()
        assert found("z.shaw@contoso") == {"zed"}  # e-mail prefix
        assert found("shaw@") == set()  # e-mails match from their start
        assert found("ovelace") == set()  # prefixes, not substrings
        assert "No user matches" in admin.client.get("/admin/users?q=nobody").text
        assert "Staff" in admin.client.get("/admin/users?q=ada").text  # its groups


def test_users_list_filters_and_paginates_by_cursor(any_registry: Registry) -> None:
    registry = any_registry
    for i in range(60):
        person(registry, f"user{i:02d}", family_name=f"Family{i:02d}", enabled=i % 10 != 0)
    with admin_browser(registry, username="zroot") as admin:
        first = admin.client.get("/admin/users")
        names = re.findall(USERNAME, first.text)
        assert names == [f"user{i:02d}" for i in range(50)]
        next_url = re.search(r'href="(/admin/users\?cursor=[^"]+)"', first.text)
        assert next_url is not None
        second = admin.client.get(next_url.group(1).replace("&amp;", "&"))
        rest = re.findall(USERNAME, second.text)
        assert rest == [f"user{i:02d}" for i in range(50, 60)] + ["zroot"]
        assert "Next →" not in second.text
        disabled = admin.client.get("/admin/users?filter=disabled").text
        assert re.findall(USERNAME, disabled) == [f"user{i:02d}" for i in range(0, 60, 10)]
        admins = admin.client.get("/admin/users?filter=admins").text
        assert re.findall(USERNAME, admins) == ["zroot"]
        searched = admin.client.get("/admin/users?q=family5&filter=enabled").text
        assert re.findall(USERNAME, searched) == [f"user{i:02d}" for i in range(51, 60)]


# --- a user's page ----------------------------------------------------------------------------


def test_user_page_shows_details_groups_profile_methods_and_links(registry: Registry) -> None:
    user_id = add_user(
        registry, "ada", given_name="Ada", family_name="Lovelace", emails=["ada@example.org"]
    )
    registry.directory.add_group("All Staff")
    registry.directory.add_group("Engineering", parent="All Staff")
    registry.directory.add_member(group="Engineering", username="ada")
    registry.signin.taps.issue(username="ada", actor="test", reason="initial onboarding pass")
    with admin_browser(registry) as admin:
        page = admin.client.get(f"/admin/users/{user_id}")
        assert page.status_code == 200
        text = page.text
        assert "Ada Lovelace" in text
        assert "ada@example.org" in text
        assert "All Staff" in text
        assert "Engineering" in text
        assert "No profile applies" in text
        assert "No profiles exist" in text
        assert "Temporary Access Pass" in text
        assert f"/admin/users/{user_id}/methods/" in text  # a revoke form
        assert 'href="/admin/audit?user=ada"' in text
        # every form carries the CSRF token itself (a browser sends only what the form holds)
        fields = re.findall(r'name="csrf_token" value="([^"]*)"', text)
        assert len(fields) >= 3  # sign-out, one revoke, the TAP form
        assert set(fields) == {admin.csrf}
        assert "tap.issued" in text
        assert "initial onboarding pass" in text
        assert admin.client.get("/admin/users/no-such-id").status_code == 404


# --- revoking a method ------------------------------------------------------------------------


def test_revoking_a_passkey_ends_its_sessions_notifies_and_is_audited(
    any_registry: Registry,
) -> None:
    registry = any_registry
    user_id = add_user(registry, "ada", emails=["ada@example.org"])
    with page_client(registry) as ada_client:
        passkey_session(ada_client, registry, "ada")
        assert ada_client.get("/security-info").status_code == 200
        (passkey,) = _method_ids(registry, user_id, "passkey")
        with admin_browser(registry, role="helpdesk") as admin:
            response = admin.post(
                f"/admin/users/{user_id}/methods/{passkey}/revoke",
                {"reason": "Ticket 4711: laptop stolen"},
            )
            assert response.status_code == 303
            assert response.headers["location"] == f"/admin/users/{user_id}?done=method-revoked"
            landing = admin.client.get(response.headers["location"])
            assert "The sign-in method was revoked" in landing.text
        assert _method_ids(registry, user_id, "passkey") == []
        # the session that signed in with the passkey is over
        assert ada_client.get("/security-info").status_code != 200
    (event,) = _events(registry, "method.revoked")
    assert event.actor == "user:root"
    assert event.user_id == user_id
    assert event.data["reason"] == "Ticket 4711: laptop stolen"
    assert event.data["method_id"] == passkey
    assert event.data["type"] == "passkey"
    assert event.data["sessions_ended"] == 1
    with registry.database.transaction() as session:
        mails = session.execute(
            select(OutboxRow).where(
                OutboxRow.user_id == user_id, OutboxRow.kind == "method.revoked"
            )
        ).scalars()
        (mail,) = list(mails)
        assert mail.to_address == "ada@example.org"
        assert "revoked" in mail.subject
        still_live = session.execute(
            select(SessionRow).where(
                SessionRow.method_id == passkey, SessionRow.revoked_at.is_(None)
            )
        ).first()
        assert still_live is None


def test_revoking_needs_a_reason_and_a_manager(registry: Registry) -> None:
    user_id = add_user(registry, "ada")
    registry.signin.taps.issue(username="ada", actor="test")
    (tap,) = _method_ids(registry, user_id, "tap")
    with admin_browser(registry, role="helpdesk") as admin:
        short = admin.post(f"/admin/users/{user_id}/methods/{tap}/revoke", {"reason": "lost"})
        assert short.status_code == 422
        assert "at least 10 characters" in short.text
    assert _method_ids(registry, user_id, "tap") == [tap]
    with admin_browser(registry, username="reader", role="reader") as reader:
        refused = reader.post(
            f"/admin/users/{user_id}/methods/{tap}/revoke", {"reason": "a long enough reason"}
        )
        assert refused.status_code == 403
        page = reader.client.get(f"/admin/users/{user_id}").text
        assert "/revoke" not in page
        assert "Issue the pass" not in page
    assert _method_ids(registry, user_id, "tap") == [tap]
    assert _events(registry, "method.revoked") == []


def test_a_helpdesk_admin_cannot_revoke_an_admins_methods(registry: Registry) -> None:
    boss_id = add_user(registry, "boss")
    registry.admin_roles.grant("boss", "global_admin", actor="test")
    registry.signin.taps.issue(username="boss", actor="test")
    (tap,) = _method_ids(registry, boss_id, "tap")
    with admin_browser(registry, username="desk", role="helpdesk") as desk:
        refused = desk.post(
            f"/admin/users/{boss_id}/methods/{tap}/revoke", {"reason": "trying to lock out"}
        )
        assert refused.status_code == 403
    assert _method_ids(registry, boss_id, "tap") == [tap]


def test_without_csrf_a_revoke_is_refused(registry: Registry) -> None:
    user_id = add_user(registry, "ada")
    registry.signin.taps.issue(username="ada", actor="test")
    (tap,) = _method_ids(registry, user_id, "tap")
    with admin_browser(registry) as admin:
        response = admin.client.post(
            f"/admin/users/{user_id}/methods/{tap}/revoke", data={"reason": "no csrf token here"}
        )
        assert response.status_code == 403
    assert _method_ids(registry, user_id, "tap") == [tap]


# --- issuing a TAP ----------------------------------------------------------------------------


def test_helpdesk_issues_a_tap_shown_once_with_reason_audited(any_registry: Registry) -> None:
    registry = any_registry
    user_id = add_user(registry, "ada")
    with admin_browser(registry, role="helpdesk") as admin:
        response = admin.post(
            f"/admin/users/{user_id}/tap",
            {
                "lifetime_minutes": "90",
                "one_time": "true",
                "reason": "Ticket 4711: phone lost",
                "identity_verified": "true",
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert 'data-copy="#tap"' in response.text
        shown = TAP_SHOWN.search(response.text)
        assert shown is not None
        tap = shown.group(1)
        # the user page never shows it again
        assert tap not in admin.client.get(f"/admin/users/{user_id}").text
    with registry.database.transaction() as session:
        row = session.execute(
            select(AuthMethodRow).where(
                AuthMethodRow.user_id == user_id, AuthMethodRow.type == "tap"
            )
        ).scalar_one()
        assert row.secret_hash == hash_tap(registry.secret_key, tap)
        assert row.one_time is True
        assert row.expires_at == registry.clock.now() + timedelta(minutes=90)
        events = session.execute(select(AuditEventRow)).scalars().all()
        assert all(tap not in str(e.data) for e in events)
    (event,) = _events(registry, "tap.issued")[-1:]
    assert event.actor == "user:root"
    assert event.user_id == user_id
    assert event.data["reason"] == "Ticket 4711: phone lost"
    # the pass works
    with page_client(registry) as client:
        from tests.support.web import signin_with_tap

        signin_with_tap(client, "ada", tap)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reason": "too short"}, "at least 10 characters"),
        ({"identity_verified": ""}, "verified the person"),
        ({"lifetime_minutes": "1"}, "TAP lifetime must be between"),
    ],
)
def test_a_tap_needs_a_reason_an_identity_check_and_a_lifetime_within_policy(
    registry: Registry, form: dict[str, str], message: str
) -> None:
    user_id = add_user(registry, "ada")
    values = {
        "lifetime_minutes": "60",
        "reason": "Ticket 4711: phone lost",
        "identity_verified": "true",
        **form,
    }
    values = {k: v for k, v in values.items() if v}
    with admin_browser(registry, role="helpdesk") as admin:
        response = admin.post(f"/admin/users/{user_id}/tap", values)
        assert response.status_code == 422
        assert message in response.text
        assert TAP_SHOWN.search(response.text) is None
    assert _method_ids(registry, user_id, "tap") == []
    assert [e for e in _events(registry, "tap.issued") if e.user_id == user_id] == []


@pytest.mark.parametrize("kind", ["admin", "privileged"])
def test_helpdesk_cannot_issue_a_tap_to_an_admin_or_privileged_user(
    registry: Registry, kind: str
) -> None:
    target_id = add_user(registry, "boss")
    if kind == "admin":
        registry.admin_roles.grant("boss", "reader", actor="test")
    else:
        _make_privileged(registry, target_id)
    form = {
        "lifetime_minutes": "60",
        "reason": "Ticket 4711: phone lost",
        "identity_verified": "true",
    }
    with admin_browser(registry, username="desk", role="helpdesk") as desk:
        page = desk.client.get(f"/admin/users/{target_id}").text
        assert "Only a global administrator can issue" in page
        refused = desk.post(f"/admin/users/{target_id}/tap", form)
        assert refused.status_code == 403
        assert TAP_SHOWN.search(refused.text) is None
    assert _method_ids(registry, target_id, "tap") == []
    with admin_browser(registry, username="root", role="global_admin") as root:
        allowed = root.post(f"/admin/users/{target_id}/tap", form)
        assert allowed.status_code == 200
        assert TAP_SHOWN.search(allowed.text) is not None
    assert len(_method_ids(registry, target_id, "tap")) == 1


def test_a_reader_cannot_issue_a_tap(registry: Registry) -> None:
    user_id = add_user(registry, "ada")
    with admin_browser(registry, username="reader", role="reader") as reader:
        refused = reader.post(
            f"/admin/users/{user_id}/tap",
            {
                "lifetime_minutes": "60",
                "reason": "a long enough reason",
                "identity_verified": "true",
            },
        )
        assert refused.status_code == 403
    assert _method_ids(registry, user_id, "tap") == []


def test_users_pages_have_no_inline_script_style_or_handlers(registry: Registry) -> None:
    user_id = add_user(registry, "ada", emails=["ada@example.org"])
    registry.signin.taps.issue(username="ada", actor="test")
    with admin_browser(registry) as admin:
        pages = [
            admin.client.get("/admin/users"),
            admin.client.get("/admin/users?q=ada&filter=enabled"),
            admin.client.get(f"/admin/users/{user_id}"),
            admin.post(
                f"/admin/users/{user_id}/tap",
                {"lifetime_minutes": "60", "reason": "Ticket 4711: lost", "identity_verified": "1"},
            ),
        ]
        for page in pages:
            assert page.status_code == 200, page.text
            assert INLINE.search(page.text) is None, page.text
