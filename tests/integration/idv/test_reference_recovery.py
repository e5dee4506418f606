"""The reference identity verification service end to end, in process: a generated driving
licence (card images) and a live selfie → a credential offered → received by the wallet →
presented to the recovery flow of a ``reference`` profile → face check → account restored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from skimage import data

from ssar.clock import FixedClock
from ssar.idv.pages import verification
from ssar.idv.testdocs import make_licence
from ssar.registry import Registry
from ssar.wallet.presenter import Presenter
from ssar.wallet.receive import Receiver
from ssar.wallet.store import Wallet
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.faces import frames_for
from tests.unit.wallet.bridge import bridge

BASE = "http://localhost:8000"


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Registry, TestClient]]:
    registry = Registry(make_settings(db_url, tmp_path, base_url=BASE, demo=True), clock=clock)
    directory = registry.directory
    directory.add_group(name="All Staff", actor="test")
    directory.add_user(
        username="ada",
        given_name="Ada",
        family_name="Lovelace",
        emails=["ada@example.org"],
        groups=["All Staff"],
    )
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Staff",
                    "mode": "production",
                    "priority": 1,
                    "include_groups": ["All Staff"],
                    "provider": "reference",
                    "validation": {"match": "relaxed"},
                    "face_check": {"required": True, "threshold": 70},
                }
            ]
        },
        actor="test",
    )

    # the verifier fetches the issuer's status list while it handles the wallet's response: in
    # process that cannot re-enter the test client, so the list is read from the issuer itself
    def status_list(request: httpx.Request) -> httpx.Response:
        list_id = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, text=registry.idv_issuance.status_lists.token(list_id))

    registry.__dict__["http"] = httpx.Client(transport=httpx.MockTransport(status_list))
    with TestClient(create_app(registry), base_url=BASE) as client:
        yield registry, client
    registry.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _licence(**overrides: Any) -> tuple[bytes, bytes]:
    values: dict[str, Any] = {
        "given": "Ada",
        "family": "Lovelace",
        "birthdate": date(1990, 12, 10),
        "portrait_rgb": np.ascontiguousarray(data.astronaut()),
        "issued": date(2024, 1, 15),
        "expires": date(2030, 12, 10),
    }
    values.update(overrides)
    front, back, _ = make_licence(**values)
    return front, back


def _verify_at_idv(client: TestClient, registry: Registry, *, seed: int) -> tuple[str, str]:
    """Show the licence, take the selfie; returns the offer link and its PIN."""
    page = client.get("/idv")
    front, back = _licence()
    shown = client.post(
        "/idv/licence",
        data={"csrf_token": _csrf(page.text)},
        files={"front": ("front.png", front, "image/png"), "back": ("back.png", back, "image/png")},
        follow_redirects=False,
    )
    assert shown.status_code == 303, shown.text[-600:]
    assert shown.headers["location"] == "/idv/selfie"
    selfie = client.get("/idv/selfie")
    assert "Check your face" in selfie.text
    challenge = verification(registry).challenge(client.cookies["ssar_idv"])
    frames = frames_for(challenge["poses"], seed=seed)
    answer = client.post(
        "/idv/selfie",
        headers={"x-csrf-token": _csrf(selfie.text)},
        data={"token": challenge["token"]},
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    )
    assert answer.json() == {"redirect": "/idv/offer"}
    offer = client.get("/idv/offer").text
    link = re.search(r'id="offer-link">([^<]+)<', offer)
    pin = re.search(r'id="tx-code" aria-label="PIN"><code>(\d+)<', offer)
    assert link is not None
    assert pin is not None
    return link.group(1).replace("&amp;", "&"), pin.group(1)


def test_reference_verification_issues_a_credential_that_recovers_the_account(
    app: tuple[Registry, TestClient], tmp_path: Path, clock: FixedClock
) -> None:
    registry, client = app
    link, pin = _verify_at_idv(client, registry, seed=41)
    wallet = Wallet(tmp_path / "phone")
    wallet.init()
    with bridge(client) as http:
        received = Receiver(wallet=wallet, http=http, clock=clock).receive(link, tx_code=pin)
        assert set(received.claims) >= {"given_name", "family_name", "birthdate", "portrait"}
        started = client.post("/api/recovery/flows", json={"username": "ada"}).json()
        assert started["verification"]["issuance_url"] == f"{BASE}/idv"
        presenter = Presenter(wallet=wallet, http=http, clock=clock)
        presenter.present(presenter.fetch_request(started["verification"]["link"]))
    flow = client.get(f"/api/recovery/flows/{started['id']}").json()
    assert flow["state"] == "face_checking", flow
    frames = frames_for(flow["next"]["challenge"]["poses"], seed=42)
    done = client.post(
        flow["next"]["submit"],
        data={"token": flow["next"]["challenge"]["token"]},
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    ).json()
    assert done["state"] == "restored", done
    case = registry.recovery.cases()[0]
    assert case["issuer"] == f"{BASE}/idv"
    # no retention: the session keeps the outcome and a keyed hash of the document number
    from sqlalchemy import select

    from ssar.store.tables import IdvSessionRow

    with registry.database.transaction() as session:
        row = session.execute(select(IdvSessionRow)).scalar_one()
        assert row.state == "offered"
        assert row.evidence_sealed is None
        assert row.strength == "STRONG"
        assert len(row.document_hash) == 64


def test_an_expired_licence_is_refused_with_its_reason(
    app: tuple[Registry, TestClient],
) -> None:
    _, client = app
    page = client.get("/idv")
    front, back = _licence(issued=date(2015, 1, 1), expires=date(2020, 1, 1))
    refused = client.post(
        "/idv/licence",
        data={"csrf_token": _csrf(page.text)},
        files={"front": ("front.png", front, "image/png"), "back": ("back.png", back, "image/png")},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'data-code="document_expired"' in refused.text
    assert "This document has expired." in refused.text
