"""The demo web wallet pages: listing, CSRF, consent, and a same-device presentation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient

from ssar.credentials.dcql import build_identity_query
from ssar.registry import Registry
from ssar.wallet.routes import get_wallet_http
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.issuer import VCT
from tests.unit.wallet.conftest import Setup


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _override(setup: Setup) -> None:
    def http() -> Iterator[httpx.Client]:
        yield setup.http

    setup.client.app.dependency_overrides[get_wallet_http] = http  # type: ignore[attr-defined]


def test_wallet_pages_are_demo_only(sqlite_url: str, tmp_path: Path) -> None:
    registry = Registry(make_settings(sqlite_url, tmp_path, demo=False))
    with TestClient(create_app(registry)) as client:
        assert client.get("/wallet").status_code == 404
        assert client.get("/openid4vp/transactions/x").status_code == 404  # mounted, unknown id
    registry.close()


def test_wallet_home_lists_credentials(setup: Setup) -> None:
    page = setup.client.get("/wallet")
    assert page.status_code == 200
    assert "urn:ssar:identity:1" in page.text
    assert "<script" not in page.text
    assert "style=" not in page.text
    assert "ssar_wallet_csrf" in page.headers["set-cookie"]


def test_open_link_needs_the_csrf_token(setup: Setup) -> None:
    setup.client.get("/wallet")
    answer = setup.client.post(
        "/wallet/open", data={"link": "openid4vp://?a=b", "csrf": "forged-token-value-xxxxx"}
    )
    assert answer.status_code == 403


def test_same_device_presentation_through_the_pages(setup: Setup) -> None:
    _override(setup)
    request = setup.registry.presentations.create_request(
        dcql=build_identity_query(claims=["given_name", "family_name"], vct_values=[VCT]),
        trust=setup.issuer.trust(),
        response_mode="direct_post.jwt",
        same_device=True,
    )
    home = setup.client.get("/wallet")
    opened = setup.client.post(
        "/wallet/open",
        data={"link": request.link, "csrf": _csrf(home.text)},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    consent = setup.client.get(opened.headers["location"])
    assert consent.status_code == 200
    assert request.client_id in consent.text
    assert "given_name" in consent.text
    assert 'id="unauthenticated"' in consent.text
    shared = setup.client.post(
        "/wallet/authorize",
        data={
            "client_id": request.client_id,
            "request_uri": request.request_uri,
            "csrf": _csrf(consent.text),
            "decision": "share",
        },
        follow_redirects=False,
    )
    assert shared.status_code == 303
    target = shared.headers["location"]
    assert urlsplit(target).path == "/openid4vp/return"
    result = setup.client.get(target)
    assert 'data-status="verified"' in result.text
    assert "Mustermann" in result.text


def test_declining_tells_the_verifier(setup: Setup) -> None:
    _override(setup)
    request = setup.registry.presentations.create_request(
        dcql=build_identity_query(claims=["given_name"], vct_values=[VCT]),
        trust=setup.issuer.trust(),
    )
    consent = setup.client.get(
        "/wallet/authorize",
        params={"client_id": request.client_id, "request_uri": request.request_uri},
    )
    declined = setup.client.post(
        "/wallet/authorize",
        data={
            "client_id": request.client_id,
            "request_uri": request.request_uri,
            "csrf": _csrf(consent.text),
            "decision": "decline",
        },
    )
    assert 'data-status="declined"' in declined.text
    status = setup.registry.presentations.status(transaction_id=request.transaction_id)
    assert status.error_code == "wallet_error"
