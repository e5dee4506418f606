"""`ssar demo` seeds the demo organisation idempotently and hands the newcomer a working TAP."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.demo import DEMO_USERS, NEWCOMER, seed_demo
from ssar.registry import Registry


def test_seed_is_idempotent_and_nests_groups(any_registry: Registry) -> None:
    first = seed_demo(any_registry)
    again = seed_demo(any_registry)
    assert first.users_created == len(DEMO_USERS)
    assert again.users_created == 0
    assert again.groups_created == 0
    # Platform ⊂ Engineering ⊂ All Staff: membership is transitive
    assert any_registry.directory.is_member(username="ada", group="All Staff")
    assert not any_registry.directory.is_member(username="ada", group="Sales")
    admins = [u for u in DEMO_USERS if u.privileged]
    assert [a.username for a in admins] == ["margaret"]
    margaret = any_registry.directory.get_user("margaret")
    assert margaret.privileged
    assert any_registry.admin_roles.role_of(margaret.id) == "global_admin"


def test_demo_command_prints_a_tap_that_signs_in(tmp_path: Path, sqlite_url: str) -> None:
    env = {
        "SSAR_DATABASE_URL": sqlite_url,
        "SSAR_VAR_DIR": str(tmp_path / "var"),
        "SSAR_BASE_URL": "http://localhost:8000",
    }
    result = CliRunner().invoke(app, ["demo", "--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    assert "Temporary Access Pass:" in result.output
    tap = result.output.split("Temporary Access Pass:")[1].split()[0]
    assert len(tap) == 16
    # the printed pass is the user's one active TAP and redeems once
    from ssar.config import Settings

    registry = Registry(Settings(database_url=sqlite_url, var_dir=tmp_path / "var"))
    try:
        signed_in = registry.signin.signin_with_tap(username=NEWCOMER, tap=tap, ip="127.0.0.1")
        assert signed_in.method_type == "tap"
        assert signed_in.must_register_passkey
        admin_tap = result.output.split("as margaret with")[1].split()[3]
        assert registry.signin.signin_with_tap(username="margaret", tap=admin_tap, ip=None)
    finally:
        registry.close()
