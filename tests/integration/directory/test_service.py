"""The directory service on a real database: users, nested groups, audit, uniqueness."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select

from ssar.audit.log import verify_chain
from ssar.directory.models import EmailAddress
from ssar.errors import Conflict, NotFound, ValidationFailed
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, AuthMethodRow


def _audit_types(registry: Registry) -> list[str]:
    with registry.database.transaction() as session:
        return list(
            session.execute(select(AuditEventRow.type).order_by(AuditEventRow.seq)).scalars()
        )


def test_add_user_returns_user_with_emails_groups_and_audit(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_group("Staff")
    user = d.add_user(
        username="Alice.Martin",
        given_name="Alice",
        family_name="Martin",
        emails=["alice@example.org", EmailAddress("alice@home.example", notify=False)],
        employee_id="E-1",
        birthdate="1990-04-01",
        groups=["staff"],
        actor="test",
    )
    assert user.display_name == "Alice Martin"
    assert user.primary_email == "alice@example.org"
    assert user.groups == ("Staff",)
    assert d.notification_addresses(user.id) == ("alice@example.org",)
    assert d.get_user("alice.martin").id == user.id
    assert d.get_user_by_id(user.id).birthdate == "1990-04-01"
    assert _audit_types(any_registry) == ["group.created", "user.created"]
    with any_registry.database.transaction() as session:
        assert verify_chain(session).intact


def test_duplicate_username_refused_case_insensitive_and_nfc(any_registry: Registry) -> None:
    d = any_registry.directory
    composed = unicodedata.normalize("NFC", "José")
    decomposed = unicodedata.normalize("NFD", "JOSÉ")
    assert composed.casefold() != decomposed.casefold()  # the test would be vacuous otherwise
    d.add_user(username=composed, given_name="José", family_name="Silva")
    with pytest.raises(Conflict):
        d.add_user(username=decomposed, given_name="José", family_name="Silva")
    assert d.get_user(decomposed).username == composed
    assert d.list_users().total == 1


def test_unknown_group_refused_unless_created_on_demand(any_registry: Registry) -> None:
    d = any_registry.directory
    with pytest.raises(NotFound):
        d.add_user(username="bob", given_name="Bob", family_name="B", groups=["Nope"])
    assert d.find_user("bob") is None  # nothing half-written
    user = d.add_user(
        username="bob",
        given_name="Bob",
        family_name="B",
        groups=["Nope"],
        create_missing_groups=True,
    )
    assert user.groups == ("Nope",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "has space"),
        ("username", ""),
        ("given_name", "  "),
        ("emails", ["not-an-email"]),
    ],
)
def test_invalid_input_refused(registry: Registry, field: str, value: object) -> None:
    kwargs: dict[str, object] = {"username": "carol", "given_name": "Carol", "family_name": "C"}
    kwargs[field] = value
    with pytest.raises(ValidationFailed):
        registry.directory.add_user(**kwargs)  # type: ignore[arg-type]


def test_three_level_nesting_counts_transitively(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_group("All Staff")
    d.add_group("Engineering", parent="All Staff")
    d.add_group("Platform", parent="Engineering")
    d.add_group("Executives")
    user = d.add_user(username="dev", given_name="Dee", family_name="Vee", groups=["Platform"])
    assert d.transitive_groups(user.id) == ("All Staff", "Engineering", "Platform")
    assert d.is_member(username="DEV", group="all staff")
    assert not d.is_member(username="dev", group="Executives")
    assert not d.is_member(username="nobody", group="All Staff")
    assert [u.username for u in d.list_users(group="All Staff").users] == ["dev"]
    assert d.list_users(group="All Staff", transitive=False).total == 0
    d.unnest_group(parent="Engineering", child="Platform")
    assert not d.is_member(username="dev", group="All Staff")


def test_nesting_cycle_refused(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_group("A")
    d.add_group("B", parent="A")
    d.add_group("C", parent="B")
    with pytest.raises(Conflict) as caught:
        d.nest_group(parent="C", child="A")
    assert caught.value.code == "group_cycle"
    with pytest.raises(Conflict):
        d.nest_group(parent="A", child="A")
    assert d.get_group("A").parents == ()
    assert d.nest_group(parent="A", child="C") is True  # a shortcut edge is not a cycle
    assert d.nest_group(parent="A", child="C") is False


def test_update_user_changes_and_audits_only_what_changed(any_registry: Registry) -> None:
    d = any_registry.directory
    user = d.add_user(username="erin", given_name="Erin", family_name="E", emails=["e@x.example"])
    d.add_user(username="frank", given_name="Frank", family_name="F")
    updated = d.update_user(user.id, enabled=False, emails=["erin@x.example"], given_name="Erin")
    assert not updated.enabled
    assert updated.emails[0].address == "erin@x.example"
    with pytest.raises(Conflict):
        d.update_user(user.id, username="FRANK")
    renamed = d.update_user(user.id, username="erin.e", employee_id=None)
    assert d.get_user("erin.e").id == renamed.id
    with pytest.raises(NotFound):
        d.get_user("erin")
    with any_registry.database.transaction() as session:
        events = (
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.type == "user.updated")
                .order_by(AuditEventRow.seq)
            )
            .scalars()
            .all()
        )
        assert [e.data["changed"] for e in events] == [["enabled", "emails"], ["username"]]


def test_delete_user_and_group(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_group("G")
    user = d.add_user(username="gone", given_name="G", family_name="One", groups=["G"])
    d.delete_user(user.id)
    assert d.find_user("gone") is None
    assert d.get_group("G").members == ()
    group = d.get_group("G")
    d.delete_group(group.id)
    assert d.find_group("G") is None
    with pytest.raises(NotFound):
        d.delete_user(user.id)
    assert _audit_types(any_registry)[-2:] == ["user.deleted", "group.deleted"]


def test_members_add_remove_and_group_listing(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_group("Team")
    d.add_user(username="hal", given_name="Hal", family_name="H")
    assert d.add_member(group="team", username="hal") is True
    assert d.add_member(group="team", username="hal") is False
    assert [m.display for m in d.get_group("Team").members or ()] == ["hal"]
    assert d.remove_member(group="Team", username="hal") is True
    assert d.get_group("Team").members == ()
    with pytest.raises(NotFound):
        d.add_member(group="Team", username="nobody")
    with pytest.raises(Conflict):
        d.add_group("TEAM")
    assert d.list_groups().total == 1


def test_auth_methods_lists_only_active(any_registry: Registry, clock) -> None:  # type: ignore[no-untyped-def]
    d = any_registry.directory
    user = d.add_user(username="ivy", given_name="Ivy", family_name="I")
    with any_registry.database.transaction() as session:
        session.add(AuthMethodRow(id="m1", user_id=user.id, type="passkey", created_at=clock.now()))
        session.add(
            AuthMethodRow(
                id="m2",
                user_id=user.id,
                type="totp",
                created_at=clock.now(),
                revoked_at=clock.now(),
            )
        )
    methods = d.auth_methods(user.id)
    assert [(m.id, m.type) for m in methods] == [("m1", "passkey")]


def test_list_users_query_and_pagination(any_registry: Registry) -> None:
    d = any_registry.directory
    for i in range(5):
        d.add_user(
            username=f"user{i}", given_name="U", family_name=str(i), emails=[f"u{i}@corp.example"]
        )
    page = d.list_users(limit=2, offset=2)
    assert page.total == 5
    assert [u.username for u in page.users] == ["user2", "user3"]
    assert [u.username for u in d.list_users(query="U4@CORP").users] == ["user4"]
