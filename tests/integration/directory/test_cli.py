"""``ssar users`` and ``ssar groups`` end to end on a real database (exit codes, JSON output)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, AuthMethodRow


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Any:
    runner = CliRunner()
    env = {"SSAR_DATABASE_URL": db_url, "SSAR_VAR_DIR": str(tmp_path / "var")}

    def invoke(*args: str, expect: int = 0) -> Any:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == expect, (result.output, result.exception)
        return json.loads(result.stdout) if "--json" in args else result.output

    return invoke


def test_users_add_creates_missing_groups_and_show_lists_methods(
    run: Any, any_registry: Registry, clock: Any
) -> None:
    run("groups", "add", "All Staff")
    run("groups", "add", "Engineering", "--parent", "All Staff")
    added = run(
        "users",
        "add",
        "--username",
        "Ada",
        "--given-name",
        "Ada",
        "--family-name",
        "Lovelace",
        "--email",
        "ada@corp.example",
        "--group",
        "Engineering",
        "--group",
        "Analysts",
        "--employee-id",
        "E1",
        "--privileged",
        "--json",
    )
    assert added["groups_created"] == ["Analysts"]
    assert added["privileged"] is True
    with any_registry.database.transaction() as session:
        session.add(
            AuthMethodRow(id="pk1", user_id=added["id"], type="passkey", created_at=clock.now())
        )
        session.add(
            AuthMethodRow(
                id="old",
                user_id=added["id"],
                type="tap",
                created_at=clock.now(),
                revoked_at=clock.now(),
            )
        )
    shown = run("users", "show", "ada", "--json")
    assert shown["methods"] == [
        {
            "type": "passkey",
            "id": "pk1",
            "label": "",
            "created_at": clock.now().isoformat(),
            "last_used_at": None,
        }
    ]
    assert shown["groups"]["direct"] == ["Analysts", "Engineering"]
    assert shown["groups"]["all"] == ["All Staff", "Analysts", "Engineering"]
    assert shown["notification_addresses"] == ["ada@corp.example"]
    listed = run("users", "list", "--group", "All Staff", "--json")
    assert [u["username"] for u in listed["users"]] == ["Ada"]
    groups = run("groups", "list", "--json")
    assert {g["name"]: g["parents"] for g in groups["groups"]}["Engineering"] == ["All Staff"]


def test_cli_exit_codes(run: Any) -> None:
    run("users", "add", "--username", "bob", "--given-name", "B", "--family-name", "B")
    duplicate = run(
        "users",
        "add",
        "--username",
        "BOB",
        "--given-name",
        "B",
        "--family-name",
        "B",
        "--json",
        expect=1,
    )
    assert duplicate["error"] == "username_taken"
    assert run("users", "show", "nobody", "--json", expect=1)["error"] == "not_found"
    invalid = run(
        "users",
        "add",
        "--username",
        "a b",
        "--given-name",
        "B",
        "--family-name",
        "B",
        "--json",
        expect=2,
    )
    assert invalid["error"] == "validation_failed"
    run("groups", "add", "A")
    run("groups", "add", "B", "--parent", "A")
    assert run("groups", "nest", "B", "A", "--json", expect=1)["error"] == "group_cycle"
    assert run("groups", "add-member", "A", "bob", "--json")["added"] is True
    assert run("groups", "add-member", "A", "bob", "--json")["added"] is False


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_import_2000_rows_with_groups_and_bad_rows(
    run: Any, any_registry: Registry, tmp_path: Path
) -> None:
    any_registry.directory.add_user(username="user00007", given_name="Pre", family_name="Existing")
    any_registry.directory.add_group("Staff")
    rows = [
        ["username", "given_name", "family_name", "email", "groups", "employee_id", "privileged"]
    ]
    for i in range(2000):
        groups = "Staff;Team " + str(i % 3)
        rows.append(
            [
                f"user{i:05d}",
                "Given",
                f"Family{i}",
                f"u{i}@corp.example",
                groups,
                f"E{i}",
                "yes" if i == 5 else "",
            ]
        )
    rows.insert(101, ["bad user", "X", "Y", "", "", "", ""])  # line 101: space in username
    rows.insert(202, ["user00010", "Dup", "Dup", "", "", "", ""])  # line 202: same as line 12
    rows.insert(303, ["okname", "X", "Y", "not-an-email", "", "", ""])  # line 303
    source = tmp_path / "users.csv"
    _write_csv(source, rows)

    summary = run("users", "import", str(source), "--json", expect=1)  # 1: some rows rejected
    assert summary["created"] == 1999
    assert summary["skipped"] == 1
    assert sorted(summary["groups_created"]) == ["Team 0", "Team 1", "Team 2"]
    assert [(e["line"], e["username"]) for e in summary["errors"]] == [
        (102, "bad user"),
        (203, "user00010"),
        (304, "okname"),
    ]
    assert "line 12" in summary["errors"][1]["reason"]
    directory = any_registry.directory
    assert directory.get_user("user00007").given_name == "Pre"  # skipped, not overwritten
    assert directory.get_user("user00005").privileged
    assert directory.get_user("user01999").primary_email == "u1999@corp.example"
    assert directory.list_users(group="Staff", limit=0).total == 1999
    assert directory.is_member(username="user00004", group="Team 1")
    with any_registry.database.transaction() as session:
        audited = session.execute(
            select(AuditEventRow.data).where(AuditEventRow.type == "user.imported")
        ).scalars()
        assert sum(len(d["usernames"]) for d in audited) == 1999

    again = run("users", "import", str(source), "--json", expect=1)
    assert (again["created"], again["skipped"]) == (0, 2000)


def test_import_refuses_unusable_file_before_importing(
    run: Any, any_registry: Registry, tmp_path: Path
) -> None:
    source = tmp_path / "bad.csv"
    _write_csv(source, [["username", "given_name", "surname"], ["a", "b", "c"]])
    result = run("users", "import", str(source), "--json", expect=2)
    assert result["error"] == "validation_failed"
    assert "surname" in result["detail"]
    assert any_registry.directory.list_users().total == 0
    assert run("users", "import", str(tmp_path / "missing.csv"), "--json", expect=2)["error"]
