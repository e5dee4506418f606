"""Issuing TAPs with ``ssar tap issue`` and the admin API (CONTRACTS.md shapes)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.registry import Registry
from tests.support.users import add_user
from tests.support.web import page_client


def _cli(registry: Registry, tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    env = {
        "SSAR_DATABASE_URL": registry.settings.database_url,
        "SSAR_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(app, ["tap", "issue", *args, "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def test_R25_cli_issues_exactly_the_contract_document(
    any_registry: Registry, ada: str, tmp_path: Path
) -> None:
    code, document = _cli(any_registry, tmp_path, "ada")
    assert code == 0
    assert set(document) == {"tap", "expires_at", "one_time"}
    assert document["one_time"] is True
    assert isinstance(document["tap"], str)
    assert len(document["tap"]) == 16
    expires = datetime.fromisoformat(str(document["expires_at"]))
    assert expires.tzinfo is not None
    # the CLI's TAP works (on a registry with the same secret key file)
    assert any_registry.signin.signin_with_tap(username="ada", tap=str(document["tap"]))


def test_R25_cli_reusable_lifetime_and_refusals(
    any_registry: Registry, ada: str, tmp_path: Path
) -> None:
    code, document = _cli(any_registry, tmp_path, "ada", "--lifetime-minutes", "30", "--reusable")
    assert code == 0
    assert document["one_time"] is False
    code, document = _cli(any_registry, tmp_path, "ada", "--lifetime-minutes", "5")
    assert code == 2
    assert document["error"] == "validation_failed"
    code, document = _cli(any_registry, tmp_path, "ada", "--length", "10")
    assert code == 2
    assert "at least 11 characters" in str(document["detail"])
    code, document = _cli(any_registry, tmp_path, "nobody")
    assert code == 1
    assert document["error"] == "not_found"


def test_R25_admin_api_issues_a_tap(registry: Registry) -> None:
    add_user(registry, "ada")
    token = registry.api_tokens.create(name="test", scopes=["admin"]).token
    scim_only = registry.api_tokens.create(name="scim", scopes=["scim"]).token
    with page_client(registry) as client:
        response = client.post(
            "/api/admin/users/ada/tap",
            json={"lifetime_minutes": 20, "one_time": True},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"tap", "expires_at", "one_time"}
        assert body["one_time"] is True
        expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        assert expires == registry.clock.now() + timedelta(minutes=20)

        assert client.post("/api/admin/users/ada/tap", json={}).status_code == 401
        forbidden = client.post(
            "/api/admin/users/ada/tap", json={}, headers={"authorization": f"Bearer {scim_only}"}
        )
        assert forbidden.status_code == 403
        missing = client.post(
            "/api/admin/users/ghost/tap", json={}, headers={"authorization": f"Bearer {token}"}
        )
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        too_long = client.post(
            "/api/admin/users/ada/tap",
            json={"lifetime_minutes": 100000},
            headers={"authorization": f"Bearer {token}"},
        )
        assert too_long.status_code == 422

        openapi = client.get("/openapi.json").json()
    operation = openapi["paths"]["/api/admin/users/{username}/tap"]["post"]
    assert "201" in operation["responses"]
    assert {"TapIssueRequest", "TapIssueResponse"} <= set(openapi["components"]["schemas"])
    assert registry.signin.signin_with_tap(username="ada", tap=body["tap"])
