"""The HTTP face of the verifier: media types, the response endpoint's JSON and problems."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ssar.credentials.jose import b64url_decode
from ssar.registry import Registry
from ssar.web.app import create_app
from tests.unit.openid4vp.conftest import Verifier


@pytest.fixture
def client(registry: Registry) -> Iterator[TestClient]:
    with TestClient(create_app(registry)) as test_client:
        yield test_client


def test_request_uri_get_and_post(client: TestClient, verifier: Verifier) -> None:
    started = verifier.start()
    path = f"/openid4vp/request/{started.request.request_id}"
    got = client.get(path)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/oauth-authz-req+jwt"
    assert got.headers["cache-control"] == "no-store"
    posted = client.post(path, data={"wallet_nonce": "abc123"})
    assert posted.status_code == 200
    payload = json.loads(b64url_decode(posted.text.split(".")[1]))
    assert payload["wallet_nonce"] == "abc123"
    assert client.get("/openid4vp/request/unknown").status_code == 404


def test_qr_svg(client: TestClient, verifier: Verifier) -> None:
    started = verifier.start()
    answer = client.get(f"/openid4vp/request/{started.request.request_id}/qr.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.text.startswith("<svg")


def test_response_endpoint_json_and_replay_problem(client: TestClient, verifier: Verifier) -> None:
    started = verifier.start(same_device=True)
    form = verifier.form(started, {"identity": [verifier.presentation(started)]})
    accepted = client.post("/openid4vp/response", data=form)
    assert accepted.status_code == 200
    assert accepted.headers["content-type"] == "application/json"
    assert accepted.json()["redirect_uri"].startswith("http://localhost:8000/openid4vp/return?")
    replay = client.post("/openid4vp/response", data=form)
    assert replay.status_code == 400
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["code"] == "response_replayed"
    status = client.get(f"/openid4vp/transactions/{started.request.transaction_id}")
    assert status.json()["status"] == "verified"


def test_R12_rejection_over_http(client: TestClient, verifier: Verifier) -> None:
    started = verifier.start()
    wrong = verifier.presentation(started, nonce="another-nonce")
    answer = client.post("/openid4vp/response", data=verifier.form(started, {"identity": [wrong]}))
    assert answer.status_code == 400
    assert answer.json()["code"] == "nonce_mismatch"
