"""``ssar profiles`` through the real command line (CliRunner), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from ssar.cli.main import app
from ssar.registry import Registry
from tests.integration.profiles.conftest import profile

EMPLOYEES_YAML = """\
profiles:
  - name: Employees                      # unique; apply updates the profile with this name
    description: Everyone but executives
    priority: 1
    include_groups: [All Staff]
    exclude_groups: [Executives]
    allow_privileged: false
    provider: reference
    validation:
      match: exact
      claims: {given_name: given_name, family_name: family_name}
      extension: {url: https://hr.example.org/validate, timeout_seconds: 2}
    face_check: {required: true, threshold: 70}
    tap: {lifetime_minutes: 60, one_time: true}
"""


@pytest.fixture
def cli(org: Registry, tmp_path: Path) -> Any:
    env = {
        "SSAR_DATABASE_URL": org.settings.database_url,
        "SSAR_VAR_DIR": str(tmp_path / "var"),
        "SSAR_BASE_URL": "http://localhost:8000",
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["profiles", *args], env=env)

    return run


def write(tmp_path: Path, text: str, name: str = "profiles.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_apply_is_idempotent(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, EMPLOYEES_YAML)
    first = cli("apply", file, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"created": ["Employees"], "updated": [], "unchanged": []}
    again = cli("apply", file, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"created": [], "updated": [], "unchanged": ["Employees"]}
    text = cli("apply", write(tmp_path, EMPLOYEES_YAML.replace("threshold: 70", "threshold: 75")))
    assert text.exit_code == 0
    assert "Updated: Employees" in text.stdout


def test_list_json_round_trips_as_apply_input(cli: Any, tmp_path: Path) -> None:
    cli("apply", write(tmp_path, EMPLOYEES_YAML))
    listed = cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    (employees,) = document["profiles"]
    assert employees["name"] == "Employees"
    assert employees["mode"] == "evaluation"
    assert employees["include_groups"] == ["All Staff"]
    assert employees["validation"]["extension"] == {
        "url": "https://hr.example.org/validate",
        "timeout_seconds": 2.0,
    }
    # what list prints is valid input for apply, and changes nothing
    again = cli("apply", write(tmp_path, yaml.safe_dump(document), "listed.yaml"), "--json")
    assert json.loads(again.stdout)["unchanged"] == ["Employees"]


def test_which_json_contract(cli: Any, tmp_path: Path) -> None:
    cli("apply", write(tmp_path, EMPLOYEES_YAML))
    found = cli("which", "ada", "--json")
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert body["profile"] == "Employees"
    assert "Platform ⊂ Engineering ⊂ All Staff" in body["reason"]
    assert body["trace"][0]["outcome"] == "applies"
    excluded = cli("which", "kate", "--json")
    assert excluded.exit_code == 1
    body = json.loads(excluded.stdout)
    assert body["profile"] is None
    assert body["reason"].startswith('excluded by group "Executives" via Board ⊂ Executives')
    unknown = cli("which", "nobody", "--json")
    assert unknown.exit_code == 1
    assert json.loads(unknown.stdout) == {
        "profile": None,
        "reason": "unknown user",
        "code": "unknown_user",
        "mode": None,
        "provider": None,
        "trace": [],
    }


def test_R9_which_privileged_user_via_cli(cli: Any, tmp_path: Path) -> None:
    cli("apply", write(tmp_path, EMPLOYEES_YAML))
    result = cli("which", "root", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "privileged"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            EMPLOYEES_YAML.replace("threshold: 70", "threshold: 120"),
            "profiles[0] 'Employees': face_check.threshold: Input should be less than or equal to 100 (got 120)",
        ),
        (
            EMPLOYEES_YAML.replace("provider: reference", "provider: magic"),
            "profiles[0] 'Employees': provider: unknown provider 'magic'",
        ),
        (
            EMPLOYEES_YAML.replace(
                "allow_privileged: false", "allow_privileged: false\n    colour: red"
            ),
            "profiles[0] 'Employees': colour: unknown field 'colour'",
        ),
        (
            EMPLOYEES_YAML.replace("[Executives]", "[Executives, Interns]"),
            "profile 'Employees': unknown groups (create them first): 'Interns'",
        ),
        (
            EMPLOYEES_YAML.replace("lifetime_minutes: 60", "lifetime_minutes: 5"),
            "profile 'Employees': tap.lifetime_minutes 5 is outside the tenant TAP policy",
        ),
        ("profiles: [\n  - name: [", "not valid YAML"),
    ],
)
def test_invalid_yaml_exits_2_with_precise_message(
    cli: Any, tmp_path: Path, text: str, expected: str
) -> None:
    result = cli("apply", write(tmp_path, text), "--json")
    assert result.exit_code == 2, result.output
    body = json.loads(result.stdout)
    assert any(expected in line for line in body["problems"]), body
    human = cli("apply", write(tmp_path, text))
    assert human.exit_code == 2
    assert expected in " ".join(human.stderr.split()) or expected in human.stderr


def test_duplicate_priority_is_refused(cli: Any, tmp_path: Path) -> None:
    cli("apply", write(tmp_path, EMPLOYEES_YAML))
    other = {
        "profiles": [
            profile(
                name="Contractors", priority=1, include_groups=["Contractors"], exclude_groups=[]
            )
        ]
    }
    result = cli("apply", write(tmp_path, yaml.safe_dump(other), "b.yaml"), "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["error"] == "duplicate_priority"
    assert "priority 1 is already used by profile 'Employees'" in body["detail"]


def test_missing_file_exits_2(cli: Any, tmp_path: Path) -> None:
    result = cli("apply", str(tmp_path / "absent.yaml"), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "unreadable_file"


def test_set_mode_and_delete(cli: Any, tmp_path: Path, org: Registry) -> None:
    cli("apply", write(tmp_path, EMPLOYEES_YAML))
    result = cli("set-mode", "Employees", "production", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"profile": "Employees", "mode": "production"}
    assert org.profiles.get("Employees").mode == "production"
    bad = cli("set-mode", "Employees", "live", "--json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"] == "validation_failed"
    deleted = cli("delete", "Employees")
    assert deleted.exit_code == 0
    assert org.profiles.list() == ()
    missing = cli("delete", "Employees", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"] == "profile_not_found"
