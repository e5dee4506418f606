"""``ssar users import`` by ``COPY`` on PostgreSQL (batched INSERTs on SQLite): the same rows,
addresses, memberships, name keys and ``user.imported`` events either way; existing usernames
skipped and counted; a username a concurrent writer creates mid-batch retried and skipped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from ssar.directory.importer import ImportRow
from ssar.directory.models import EmailAddress
from ssar.directory.repository import DirectoryRepository
from ssar.directory.service import DirectoryService
from ssar.registry import Registry
from ssar.store.tables import (
    AuditEventRow,
    GroupMemberRow,
    UserEmailRow,
    UserNameKeyRow,
    UserRow,
)


def rows(count: int, *, start: int = 0) -> list[ImportRow]:
    return [
        ImportRow(
            line=i + 2,
            username=f"Imp{i}",
            given_name="Zoé",
            family_name="Jäger-Groß" if i % 2 else "Müller",
            display_name=f"Zoé {i}",
            emails=(
                EmailAddress(f"imp{i}@example.org", primary=True),
                EmailAddress(f"imp{i}@home.example", notify=False, kind="home"),
            ),
            groups=("Staff", "Night shift") if i % 3 == 0 else ("Staff",),
            employee_id=f"E{i}",
            birthdate="1990-02-03" if i % 4 == 0 else None,
            privileged=i == 5,
            enabled=i != 6,
        )
        for i in range(start, start + count)
    ]


def count(registry: Registry, column: Any) -> int:
    with registry.database.transaction() as session:
        return int(session.execute(select(func.count(column))).scalar_one())


def test_import_writes_rows_addresses_memberships_name_keys_and_events(
    any_registry: Registry,
) -> None:
    service = DirectoryService(
        database=any_registry.database, clock=any_registry.clock, import_batch_size=10
    )
    any_registry.directory.add_user(username="imp3", given_name="Old", family_name="Timer")
    progress: list[tuple[int, int]] = []
    result = service.import_users(
        rows(25), actor="admin:ada", progress=lambda d, t: progress.append((d, t))
    )
    assert (result.created, result.skipped) == (24, 1)  # "Imp3" is "imp3": skipped
    assert result.groups_created == ("Staff", "Night shift")
    assert progress == [(0, 25), (10, 25), (20, 25), (25, 25)]

    user = any_registry.directory.get_user("imp9")
    assert (user.username, user.given_name, user.family_name) == ("Imp9", "Zoé", "Jäger-Groß")
    assert (user.display_name, user.employee_id, user.birthdate) == ("Zoé 9", "E9", None)
    assert user.emails == (
        EmailAddress("imp9@example.org", primary=True),
        EmailAddress("imp9@home.example", notify=False, kind="home"),
    )
    assert user.notification_addresses == ("imp9@example.org",)
    assert set(user.groups) == {"Staff", "Night shift"}
    assert any_registry.directory.get_user("imp5").privileged
    assert not any_registry.directory.get_user("imp6").enabled
    assert any_registry.directory.get_user("imp8").birthdate == "1990-02-03"
    assert any_registry.directory.get_user("imp3").given_name == "Old"  # untouched
    assert user.created_at == any_registry.clock.now()
    assert any_registry.directory.is_member(username="imp0", group="Night shift")

    assert count(any_registry, UserRow.id) == 25
    assert count(any_registry, UserEmailRow.id) == 48
    assert count(any_registry, GroupMemberRow.user_id) == 24 + 8  # 8 of the 24 in both groups
    # Müller -> "muller", "mueller"; Jäger-Groß -> "jagergross", "jaegergross"; Timer -> 1
    assert count(any_registry, UserNameKeyRow.user_id) == 48 + 1

    found = any_registry.directory.find_namesakes(
        given="Zoe", family="Jaeger Gross", rule="relaxed"
    )
    assert {u.username for u in found} == {f"Imp{i}" for i in range(1, 25, 2) if i != 3}
    exact = any_registry.directory.find_namesakes(given="Zoé", family="Müller", rule="exact")
    assert {u.username for u in exact} == {f"Imp{i}" for i in range(0, 25, 2)}

    with any_registry.database.transaction() as session:
        events = list(
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.type == "user.imported")
                .order_by(AuditEventRow.seq)
            ).scalars()
        )
    assert [e.actor for e in events] == ["admin:ada"] * 3
    assert [e.data["count"] for e in events] == [9, 10, 5]
    assert events[0].data["usernames"] == [f"Imp{i}" for i in range(10) if i != 3]
    assert [n for e in events for n in e.data["usernames"]] == [
        f"Imp{i}" for i in range(25) if i != 3
    ]

    again = service.import_users(rows(30), actor="admin:ada")  # a re-run skips what exists
    assert (again.created, again.skipped) == (5, 25)
    assert count(any_registry, UserRow.id) == 30
    assert count(any_registry, UserNameKeyRow.user_id) == 49 + 10


def test_a_username_created_concurrently_is_retried_and_skipped(
    any_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any_registry.database.dialect != "postgresql":
        pytest.skip("SQLite serialises writers: no other writer can come between")
    service = DirectoryService(
        database=any_registry.database, clock=any_registry.clock, import_batch_size=50
    )

    real = DirectoryRepository.existing_username_keys
    calls: list[int] = []

    def racing(self: DirectoryRepository, keys: Any) -> set[str]:
        calls.append(len(keys))
        if len(calls) == 1:  # another writer creates imp7 right after our check
            any_registry.directory.add_user(username="imp7", given_name="A", family_name="B")
            return real(self, [k for k in keys if k != "imp7"])
        return real(self, keys)

    monkeypatch.setattr(DirectoryRepository, "existing_username_keys", racing)
    result = service.import_users(rows(20))
    assert (result.created, result.skipped) == (19, 1)
    assert len(calls) == 2
    assert count(any_registry, UserRow.id) == 20
    assert any_registry.directory.get_user("imp7").given_name == "A"
