"""``which`` caches the built profiles per process against a version token read in its own
transaction: a change committed by another process (another registry on the same database) is
seen by the next call, whatever the clock says (the tests' clock is fixed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from ssar.clock import FixedClock
from ssar.registry import Registry
from tests.conftest import make_settings
from tests.integration.profiles.conftest import profile


@pytest.fixture
def other(org: Registry, db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Registry]:
    """A second process: its own registry, engine and profile cache, on the same database."""
    registry = Registry(make_settings(db_url, tmp_path / "other"), clock=clock)
    yield registry
    registry.close()


def statements(registry: Registry, call: object) -> list[str]:
    """The statements ``call`` sends, transaction control (SQLite's BEGIN) left out."""
    sent: list[str] = []

    def record(_c: object, _cu: object, statement: str, *_: object) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    event.listen(registry.database.engine, "before_cursor_execute", record)
    try:
        call()  # type: ignore[operator]
    finally:
        event.remove(registry.database.engine, "before_cursor_execute", record)
    return sent


def test_a_cached_which_sends_one_statement(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="t")
    assert org.profiles.which("ada").code == "applies"  # builds the cache
    sent = statements(org, lambda: org.profiles.which("grace"))
    assert len(sent) == 1, sent  # user, group paths and version token together
    assert org.profiles.which("grace").profile is not None


def test_changes_in_one_process_are_seen_by_the_next_which_of_another(
    org: Registry, other: Registry
) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="t")
    assert other.profiles.which("ada").profile.name == "Employees"  # type: ignore[union-attr]
    assert other.profiles.which("kate").code == "excluded"

    # an update (same clock, same number of rows): exclusion dropped
    org.profiles.apply({"profiles": [profile(exclude_groups=[])]}, actor="t")
    assert other.profiles.which("kate").code == "applies"

    # a mode switch, then a rename of a group the profile names
    org.profiles.set_mode("Employees", "production", actor="t")
    assert other.profiles.which("ada").profile.mode == "production"  # type: ignore[union-attr]
    staff = org.directory.get_group("All Staff", with_members=False)
    org.directory.update_group(staff.id, name="Everyone")
    decision = other.profiles.which("ada")
    assert decision.profile.include_groups[0].name == "Everyone"  # type: ignore[union-attr]
    assert "Everyone" in decision.reason

    # a delete and a create under the same name and priority (same clock): new groups apply
    org.profiles.delete("Employees", actor="t")
    assert other.profiles.which("ada").reason == "no profiles exist"
    org.profiles.apply(
        {"profiles": [profile(include_groups=["Contractors"], exclude_groups=[])]}, actor="t"
    )
    assert other.profiles.which("ada").code == "not_included"
    assert other.profiles.which("carl").code == "applies"

    # deleting a group a profile names drops it from the profile everywhere
    contractors = org.directory.get_group("Contractors", with_members=False)
    org.directory.delete_group(contractors.id)
    assert other.profiles.which("carl").code == "not_included"
    assert other.profiles.get("Employees").include_groups == ()


def test_an_unchanged_apply_keeps_the_version(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="t")
    org.profiles.which("ada")
    org.profiles.apply({"profiles": [profile()]}, actor="t")  # all unchanged
    assert len(statements(org, lambda: org.profiles.which("ada"))) == 1
