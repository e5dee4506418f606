"""``ssar groups import``: nested groups from a name,parent CSV, parents in any order, cycles
refused, batched, idempotent."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.directory.group_import import acyclic_nestings, parents_first
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, GroupNestingRow, GroupRow

# children before their parents; Board in two parents
ORG = """name,parent
Platform,Engineering
Board,Executives
Engineering,All Staff
Board,All Staff
Executives,All Staff
All Staff,
Contractors,
"""


def audit_types(registry: Registry) -> list[str]:
    with registry.database.transaction() as session:
        return list(
            session.execute(select(AuditEventRow.type).order_by(AuditEventRow.seq)).scalars()
        )


def count(registry: Registry, table: Any) -> int:
    with registry.database.transaction() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def test_import_resolves_parents_that_come_later(any_registry: Registry) -> None:
    directory = any_registry.directory
    result = directory.import_groups_csv(io.StringIO(ORG), actor="alice")
    assert (result.created, result.nested, result.rejected) == (6, 5, 0)
    assert directory.get_group("Platform").parents == ("Engineering",)
    assert set(directory.get_group("Board").parents) == {"All Staff", "Executives"}
    assert directory.get_group("All Staff").parents == ()
    directory.add_user(
        username="ada", given_name="Ada", family_name="Lovelace", groups=["Platform"]
    )
    user = directory.get_user("ada")
    assert set(directory.transitive_groups(user.id)) == {"Platform", "Engineering", "All Staff"}
    # one event per batch, not one per group
    assert audit_types(any_registry)[:2] == ["group.imported", "group.nestings_imported"]


def test_import_is_idempotent_and_batched(any_registry: Registry) -> None:
    directory = any_registry.directory
    directory._batch = 2  # several batches even at this size
    done: list[tuple[int, int]] = []
    first = directory.import_groups_csv(io.StringIO(ORG), progress=lambda d, t: done.append((d, t)))
    assert first.created == 6
    assert done[-1] == (11, 11)
    assert audit_types(any_registry).count("group.imported") == 3
    again = directory.import_groups_csv(io.StringIO(ORG))
    assert (again.created, again.existing, again.nested, again.already_nested) == (0, 6, 0, 5)
    assert count(any_registry, GroupRow) == 6
    assert count(any_registry, GroupNestingRow) == 5
    assert audit_types(any_registry).count("group.imported") == 3


def test_import_refuses_the_row_that_closes_a_cycle(any_registry: Registry) -> None:
    directory = any_registry.directory
    text = ORG + "All Staff,Platform\nContractors,Contractors\n"
    result = directory.import_groups_csv(io.StringIO(text))
    assert [e.line for e in result.errors] == [9, 10]
    assert "cycle" in result.errors[0].reason
    assert directory.get_group("All Staff").parents == ()
    # against the nesting already stored as well
    later = directory.import_groups_csv(io.StringIO("name,parent\nEngineering,Platform\n"))
    assert later.rejected == 1
    assert later.nested == 0
    assert directory.get_group("Engineering").parents == ("All Staff",)


def test_bad_rows_are_reported_and_a_bad_header_refuses_the_file(any_registry: Registry) -> None:
    from ssar.errors import ValidationFailed

    result = any_registry.directory.import_groups_csv(io.StringIO("name,parent\n,Top\nA,B,C\n"))
    assert [e.line for e in result.errors] == [2, 3]
    with pytest.raises(ValidationFailed):
        any_registry.directory.import_groups_csv(io.StringIO("group,inside\nA,B\n"))


def test_cli_import_exit_codes(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"SSAR_DATABASE_URL": db_url, "SSAR_VAR_DIR": str(tmp_path / "var")}
    good = tmp_path / "groups.csv"
    good.write_text(ORG, encoding="utf-8")
    result = runner.invoke(app, ["groups", "import", str(good), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 6
    bad = tmp_path / "cycle.csv"
    bad.write_text("name,parent\nAll Staff,Board\n", encoding="utf-8")
    result = runner.invoke(app, ["groups", "import", str(bad), "--json"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["line"] == 2


def test_ordering_helpers() -> None:
    assert parents_first(["c", "b", "a"], [("a", "b"), ("b", "c")]) == ["a", "b", "c"]
    with pytest.raises(ValueError):
        parents_first(["a", "b"], [("a", "b"), ("b", "a")])
    kept, refused = acyclic_nestings([("a", "b")], [(2, "b", "c"), (3, "c", "a"), (4, "a", "c")])
    assert [k[0] for k in kept] == [2, 4]
    assert refused == [3]
