"""A wallet with an identity credential, and the service app it presents to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ssar.clock import FixedClock
from ssar.registry import Registry
from ssar.wallet.presenter import Presenter
from ssar.wallet.store import Wallet
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.issuer import IdentityIssuer, holder_from
from tests.unit.wallet.bridge import bridge


@dataclass
class Setup:
    registry: Registry
    client: TestClient
    http: httpx.Client
    wallet: Wallet
    issuer: IdentityIssuer
    clock: FixedClock

    def presenter(self, **kwargs: object) -> Presenter:
        return Presenter(wallet=self.wallet, http=self.http, clock=self.clock, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def setup(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Setup]:
    registry = Registry(make_settings(sqlite_url, tmp_path, demo=True), clock=clock)
    wallet = Wallet(tmp_path / "var" / "wallet")
    key = wallet.init()
    issuer = IdentityIssuer()
    wallet.add(
        issuer.issue_text(holder=holder_from(key.private_key), now=clock.now()), now=clock.now()
    )
    with TestClient(create_app(registry)) as client, bridge(client) as http:
        yield Setup(registry, client, http, wallet, issuer, clock)
    registry.close()
