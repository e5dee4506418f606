"""The reference wallet receiving from the reference issuer (OpenID4VCI, in process through the
bridge), then presenting what it received to the OpenID4VP verifier; the CLI command and the
web wallet's receive page."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ssar.clock import FixedClock, SystemClock
from ssar.credentials.dcql import build_identity_query
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.idv.oid4vci import IssuanceService, Offer
from ssar.idv.routes import get_issuance
from ssar.idv.routes import router as idv_router
from ssar.registry import Registry
from ssar.wallet.presenter import PresentationRefused, Presenter
from ssar.wallet.receive import ReceiveError, Receiver, well_known
from ssar.wallet.routes import get_wallet_http
from ssar.wallet.store import Wallet
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.issuer import PORTRAIT
from tests.unit.wallet.bridge import bridge

BASE = "https://ssar.test"
ISSUER = BASE + "/idv"
VCT = "urn:ssar:identity:1"
JPEG = base64.b64decode(PORTRAIT.split(",", 1)[1])
IDENTITY: dict[str, Any] = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-01-26",
    "verification": {"document_type": "passport", "issuing_country": "DE", "strength": "STRONG"},
}


@dataclass
class World:
    registry: Registry
    client: TestClient
    http: httpx.Client
    issuance: IssuanceService
    wallet: Wallet
    clock: FixedClock

    def offer(self) -> Offer:
        return self.issuance.create_offer(IDENTITY, JPEG)

    def receiver(self) -> Receiver:
        return Receiver(wallet=self.wallet, http=self.http, clock=self.clock)

    def trust(self) -> TrustConfig:
        return TrustConfig(issuers=(TrustedIssuer(iss=ISSUER, jwks=self.issuance.jwks()),))


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[World]:
    registry = Registry(make_settings(sqlite_url, tmp_path, base_url=BASE, demo=True), clock=clock)
    clients: list[httpx.Client] = []

    def outbound(request: httpx.Request) -> httpx.Response:
        return clients[0].send(request)

    # the verifier fetches status lists in process too (set before anything builds it)
    registry.__dict__["http"] = httpx.Client(transport=httpx.MockTransport(outbound))
    app = create_app(registry)
    app.include_router(idv_router)
    wallet = Wallet(tmp_path / "var" / "wallet")
    wallet.init()
    with TestClient(app, base_url=BASE) as client, bridge(client) as http:
        clients.append(http)
        yield World(registry, client, http, get_issuance(registry), wallet, clock)
    registry.close()


def _wrong(pin: str | None) -> str:
    return "000000" if pin != "000000" else "111111"


def test_well_known_is_inserted_before_the_path_then_appended() -> None:
    assert well_known("https://a.test/idv", "openid-credential-issuer") == [
        "https://a.test/.well-known/openid-credential-issuer/idv",
        "https://a.test/idv/.well-known/openid-credential-issuer",
    ]
    assert well_known("https://a.test", "jwt-vc-issuer") == [
        "https://a.test/.well-known/jwt-vc-issuer"
    ]


def test_receive_then_present_to_the_verifier(world: World) -> None:
    offer = world.offer()
    received = world.receiver().receive(offer.link, tx_code=offer.tx_code)
    assert received.stored.credential_type == VCT
    assert received.stored.issuer == ISSUER
    assert received.claims["family_name"] == "Mustermann"
    assert received.claims["portrait"] == PORTRAIT
    (stored,) = world.wallet.credentials()
    assert stored.id == received.stored.id
    request = world.registry.presentations.create_request(
        dcql=build_identity_query(
            claims=["given_name", "family_name", "birthdate", "portrait"], vct_values=[VCT]
        ),
        trust=world.trust(),
    )
    presenter = Presenter(wallet=world.wallet, http=world.http, clock=world.clock)
    presenter.present_link(request.link)
    result = world.registry.presentations.take_result(transaction_id=request.transaction_id)
    (credential,) = result.credentials
    assert credential.issuer == ISSUER
    assert credential.key_binding is True
    assert credential.claims["given_name"] == "Erika"
    assert credential.claims["birthdate"] == "1984-01-26"
    assert credential.claims["portrait"] == PORTRAIT
    assert "verification" not in credential.claims  # not asked for, not disclosed


def test_R16_revoked_credential_is_refused_by_the_verifier(world: World) -> None:
    offer = world.offer()
    world.receiver().receive(offer.link, tx_code=offer.tx_code)
    credential_id = world.issuance.offer_status(offer.id).credential_id
    assert credential_id is not None
    world.issuance.status_lists.revoke(credential_id)
    # the verifier may cache a status list for its ttl; wait that out
    world.clock.advance(world.issuance.status_lists.ttl + timedelta(seconds=1))
    request = world.registry.presentations.create_request(
        dcql=build_identity_query(claims=["given_name"], vct_values=[VCT]), trust=world.trust()
    )
    presenter = Presenter(wallet=world.wallet, http=world.http, clock=world.clock)
    with pytest.raises(PresentationRefused):
        presenter.present_link(request.link)
    status = world.registry.presentations.status(transaction_id=request.transaction_id)
    assert status.error_code == "revoked"


def test_offer_by_value_link(world: World) -> None:
    offer = world.offer()
    received = world.receiver().receive(offer.link_by_value, tx_code=offer.tx_code)
    assert received.stored.credential_type == VCT


def test_wrong_pin_is_the_issuers_invalid_grant_and_stores_nothing(world: World) -> None:
    offer = world.offer()
    with pytest.raises(ReceiveError) as refused:
        world.receiver().receive(offer.link, tx_code=_wrong(offer.tx_code))
    assert refused.value.code == "invalid_grant"
    assert world.wallet.credentials() == []
    world.receiver().receive(offer.link, tx_code=offer.tx_code)
    assert len(world.wallet.credentials()) == 1


@pytest.mark.parametrize("pin", [None, "12ab56", "1234"])
def test_missing_or_malformed_pin_is_refused_before_asking_the_issuer(
    world: World, pin: str | None
) -> None:
    offer = world.offer()
    with pytest.raises(ReceiveError) as refused:
        world.receiver().receive(offer.link, tx_code=pin)
    assert refused.value.code == "tx_code_required"
    world.receiver().receive(offer.link, tx_code=offer.tx_code)  # no attempt was used


def test_used_offer_cannot_be_received_again(world: World) -> None:
    offer = world.offer()
    world.receiver().receive(offer.link, tx_code=offer.tx_code)
    with pytest.raises(ReceiveError) as refused:
        world.receiver().receive(offer.link, tx_code=offer.tx_code)
    assert refused.value.code == "issuer_unavailable"  # the offer URI is gone (404)
    with pytest.raises(ReceiveError) as again:
        world.receiver().receive(offer.link_by_value, tx_code=offer.tx_code)
    assert again.value.code == "invalid_grant"


@pytest.mark.parametrize(
    "link",
    [
        "",
        "openid4vp://?client_id=x&request_uri=https://a.test/r",
        "openid-credential-offer://?credential_offer_uri=http://evil.example/offer",
        "openid-credential-offer://?credential_offer={not json",
        "openid-credential-offer://?credential_offer_uri=https://a.test/1&credential_offer={}",
        'openid-credential-offer://?credential_offer={"credential_issuer":"https://a.test"}',
    ],
)
def test_malformed_offer_links_are_invalid_offer(world: World, link: str) -> None:
    with pytest.raises(ReceiveError) as refused:
        world.receiver().receive(link, tx_code="123456")
    assert refused.value.code == "invalid_offer"


def test_a_credential_that_does_not_verify_is_not_stored(world: World) -> None:
    """An issuer whose credential endpoint returns something its published keys did not sign."""
    offer = world.offer()

    def tamper(request: httpx.Request) -> httpx.Response:
        answer = world.http.send(request)
        if request.url.path.endswith("/credential") and answer.status_code == 200:
            text = answer.json()["credentials"][0]["credential"]
            jwt, rest = text.split("~", 1)
            header, payload, signature = jwt.split(".")
            forged = f"{header}.{payload}.{signature[::-1]}~{rest}"
            return httpx.Response(200, json={"credentials": [{"credential": forged}]})
        return answer

    with httpx.Client(transport=httpx.MockTransport(tamper)) as http:
        receiver = Receiver(wallet=world.wallet, http=http, clock=world.clock)
        with pytest.raises(ReceiveError) as refused:
            receiver.receive(offer.link, tx_code=offer.tx_code)
    assert refused.value.code == "invalid_credential"
    assert world.wallet.credentials() == []


# --- the CLI --------------------------------------------------------------------------------


def test_cli_receive(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ssar.cli import wallet as wallet_cli
    from ssar.cli.main import app

    monkeypatch.setattr(wallet_cli, "_receive_http", lambda timeout: bridge(world.client))
    # the command runs on the system clock: so does the issuer for this test
    world.clock.set(SystemClock().now())
    runner = CliRunner()
    directory = tmp_path / "cli-wallet"
    offer = world.offer()
    wrong = runner.invoke(
        app,
        ["wallet", "receive", offer.link, "--tx-code", _wrong(offer.tx_code), "--json"],
        env={"SSAR_WALLET_DIR": str(directory)},
    )
    assert wrong.exit_code == 1, wrong.output
    assert json.loads(wrong.stdout)["error"] == "invalid_grant"
    assert offer.tx_code is not None
    result = runner.invoke(
        app,
        ["wallet", "receive", offer.link, "--tx-code", offer.tx_code, "--json"],
        env={"SSAR_WALLET_DIR": str(directory)},
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["received"] is True
    assert document["credential_type"] == VCT
    assert document["issuer"] == ISSUER
    assert "credential" not in document
    assert set(document["claims"]) >= {"given_name", "family_name", "birthdate", "portrait"}
    assert len(Wallet(directory).credentials()) == 1


# --- the web wallet ------------------------------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


@pytest.fixture
def web(world: World) -> World:
    def http() -> Iterator[httpx.Client]:
        yield world.http

    world.client.app.dependency_overrides[get_wallet_http] = http  # type: ignore[attr-defined]
    return world


def test_web_wallet_receive_page(web: World) -> None:
    offer = web.offer()
    form = web.client.get("/wallet/receive", params={"offer": offer.link})
    assert form.status_code == 200
    assert "<script" not in form.text
    assert offer.link.replace("&", "&amp;") in form.text
    wrong = web.client.post(
        "/wallet/receive",
        data={"offer": offer.link, "tx_code": _wrong(offer.tx_code), "csrf": _csrf(form.text)},
    )
    assert wrong.status_code == 400
    assert 'data-code="invalid_grant"' in wrong.text
    received = web.client.post(
        "/wallet/receive",
        data={"offer": offer.link, "tx_code": offer.tx_code or "", "csrf": _csrf(wrong.text)},
    )
    assert received.status_code == 200
    assert 'data-status="received"' in received.text
    holds = received.text.split("It holds:")[1].split("</p>")[0]
    assert {"given name", "family name", "date of birth"} <= {
        n.strip(" .") for n in holds.split(",")
    }
    assert "cnf" not in received.text.split("It holds:")[1].split("</p>")[0]
    assert "base64" not in received.text  # the portrait is not echoed
    assert VCT in web.client.get("/wallet").text


def test_web_wallet_receive_needs_the_csrf_token(web: World) -> None:
    offer = web.offer()
    web.client.get("/wallet/receive")
    answer = web.client.post(
        "/wallet/receive",
        data={"offer": offer.link, "tx_code": offer.tx_code or "", "csrf": "forged-token-xxxxxxxx"},
    )
    assert answer.status_code == 403
    assert web.wallet.credentials() == []
