"""/healthz, /readyz, JWKS, OpenAPI and the security headers of R31."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ssar.registry import Registry
from ssar.store.db import Database
from ssar.web.app import create_app


def test_health_ready_jwks_openapi(any_registry: Registry) -> None:
    with TestClient(create_app(any_registry)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        keys = client.get("/.well-known/jwks.json").json()["keys"]
        assert len(keys) == 1
        assert keys[0]["kty"] == "EC"
        assert "d" not in keys[0]
        assert client.get("/openapi.json").json()["info"]["title"] == "SSAR"


def test_readyz_503_when_database_unreachable(any_registry: Registry) -> None:
    any_registry.__dict__["database"] = Database("postgresql://nobody@127.0.0.1:1/none")
    with TestClient(create_app(any_registry)) as client:
        assert client.get("/readyz").status_code == 503


def test_signing_key_survives_restart(registry: Registry) -> None:
    first = registry.signing_key.public_jwk()
    registry.__dict__.pop("signing_key")
    assert registry.signing_key.public_jwk() == first


def test_R31_security_headers_on_every_response(registry: Registry) -> None:
    with TestClient(create_app(registry)) as client:
        for path in ["/healthz", "/.well-known/jwks.json", "/no-such-page"]:
            response = client.get(path)
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_api_path_is_problem_json(registry: Registry) -> None:
    with TestClient(create_app(registry)) as client:
        response = client.get("/api/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
