"""The admin API is fully described in /openapi.json, and schemathesis, generating requests from
that description, finds no server error (issue #7). Every admin operation is called with a
valid ``admin`` token on a seeded directory, so the fuzzing reaches past authentication."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ssar.registry import Registry
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.users import add_user

ADMIN_PREFIX = "/api/admin"
#: generated requests per operation (more with SSAR_FUZZ_EXAMPLES=200 for a deeper run)
EXAMPLES = int(os.environ.get("SSAR_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    registry = Registry(make_settings(f"sqlite:///{tmp}/ssar.db", tmp))
    registry.migrate()
    add_user(registry, "ada", emails=["ada@example.org"])
    registry.directory.add_group(name="All Staff", actor="test")
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Staff",
                    "mode": "evaluation",
                    "priority": 1,
                    "include_groups": ["All Staff"],
                    "provider": "reference",
                }
            ]
        },
        actor="test",
    )
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def token(fuzz_registry: Registry) -> str:
    return fuzz_registry.api_tokens.create(name="fuzz", scopes=["admin"]).token


@pytest.fixture(scope="module")
def api_schema(fuzz_registry: Registry) -> Any:
    app = create_app(fuzz_registry)
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex=f"^{ADMIN_PREFIX}"
    )


def test_every_admin_operation_is_described(fuzz_registry: Registry) -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(fuzz_registry)) as client:
        document = client.get("/openapi.json").json()
    admin_paths = {p: ops for p, ops in document["paths"].items() if p.startswith(ADMIN_PREFIX)}
    assert admin_paths, "no admin operations in /openapi.json"
    for path, operations in admin_paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("security") or _declares_bearer(operation), (
                f"{method.upper()} {path} does not declare its bearer token"
            )
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, f"{method.upper()} {path} documents no success response"
            body = operation["responses"][success[0]].get("content", {})
            for media in body.values():
                assert media.get("schema"), f"{method.upper()} {path}: response without schema"
                assert media["schema"] != {}, f"{method.upper()} {path}: untyped response"


def _declares_bearer(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name", "").lower() == "authorization"
        for p in operation.get("parameters", [])
    )


def test_admin_api_has_no_server_errors(api_schema: Any, token: str) -> None:
    """Each admin operation gets EXAMPLES generated requests with a valid token. (schemathesis's
    pytest plugin does not run on pytest 9, so hypothesis drives its strategies directly.)"""
    headers = {"Authorization": f"Bearer {token}"}
    labels = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (
                f"{case.operation.label}: {response.status_code} {response.text[:500]}\n"
                f"{case.as_curl_command()}"
            )

        call()
    assert len(labels) >= 3, labels
