"""A recovery harness: the service app in process, a directory, a profile, a test issuer and
wallets that present to the app through a bridge (the wallet's HTTP goes into the app)."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ssar.clock import FixedClock
from ssar.credentials.jose import b64url_encode
from ssar.registry import Registry
from ssar.wallet.presenter import Presenter
from ssar.wallet.store import Wallet
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.faces import portrait_data_uri
from tests.support.issuer import VCT, IdentityIssuer, holder_from
from tests.unit.credentials.factory import Issuer, sign_jwt

BASE = "http://localhost:8000"


def profile_doc(issuer: IdentityIssuer, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Employees",
        "description": "Everyone but executives",
        "mode": "production",
        "priority": 1,
        "include_groups": ["All Staff"],
        "exclude_groups": ["Executives"],
        "allow_privileged": False,
        "provider": "openid4vp",
        "credentials": {
            "types": [VCT],
            "issuers": [{"iss": issuer.iss, "jwks": {"keys": [issuer.key.jwk]}}],
        },
        "validation": {
            "match": "exact",
            "claims": {"given_name": "given_name", "family_name": "family_name"},
        },
        "face_check": {"required": False, "threshold": 70},
        "tap": {"lifetime_minutes": 60, "one_time": True},
    }
    doc.update(overrides)
    return doc


Handler = Callable[[httpx.Request], httpx.Response]
STATUS_URI = "https://status.test/lists/1"


@dataclass
class Harness:
    registry: Registry
    client: TestClient
    http: httpx.Client
    issuer: IdentityIssuer
    clock: FixedClock
    tmp_path: Path
    #: other hosts the service calls out to (extension endpoints, status lists), by host name
    external: dict[str, Handler] = field(default_factory=dict)
    _wallets: Iterator[int] = field(default_factory=itertools.count)

    def serve_status_list(
        self, statuses: list[int], *, issuer: IdentityIssuer | None = None
    ) -> None:
        """Publish a 2-bit Token Status List at :data:`STATUS_URI`, signed by the issuer."""
        token = _status_list_token(issuer or self.issuer, statuses, self.clock)
        self.external["status.test"] = lambda request: httpx.Response(
            200, content=token, headers={"content-type": "application/statuslist+jwt"}
        )

    def user(
        self,
        username: str,
        given: str,
        family: str,
        *,
        groups: tuple[str, ...] = ("Platform",),
        emails: tuple[str, ...] = (),
        birthdate: str | None = None,
        privileged: bool = False,
    ) -> str:
        user = self.registry.directory.add_user(
            username=username,
            given_name=given,
            family_name=family,
            emails=emails or (f"{username}@example.org",),
            birthdate=birthdate,
            privileged=privileged,
        )
        for group in groups:
            self.registry.directory.add_member(group=group, username=username)
        return user.id

    def profile(self, **overrides: Any) -> None:
        self.registry.profiles.apply(
            {"profiles": [profile_doc(self.issuer, **overrides)]}, actor="test"
        )

    def wallet(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        issuer: IdentityIssuer | None = None,
        lifetime_seconds: int = 3600,
        status_index: int | None = None,
    ) -> Wallet:
        """A wallet holding one identity credential (default: Erika Mustermann + portrait)."""
        wallet = Wallet(self.tmp_path / f"wallet-{next(self._wallets)}")
        key = wallet.init()
        values = (
            dict(claims)
            if claims is not None
            else {
                "given_name": "Erika",
                "family_name": "Mustermann",
                "birthdate": "1984-01-26",
                "portrait": portrait_data_uri(),
            }
        )
        by = issuer or self.issuer
        t = int(self.clock.now().timestamp())
        payload: dict[str, Any] = {"iat": t - 60, "exp": t + lifetime_seconds, "vct": by.vct}
        if status_index is not None:
            payload["status"] = {"status_list": {"idx": status_index, "uri": STATUS_URI}}
        jwt, disclosures = Issuer(key=by.key, iss=by.iss).sd_jwt(
            disclosed=values, holder=holder_from(key.private_key), payload=payload
        )
        wallet.add("~".join([jwt, *disclosures]) + "~", now=self.clock.now())
        return wallet

    def start(self, username: str, *, ip: str = "testclient") -> httpx.Response:
        return self.client.post("/api/recovery/flows", json={"username": username})

    def present(self, wallet: Wallet, link: str) -> None:
        presenter = Presenter(wallet=wallet, http=self.http, clock=self.clock)
        presenter.present(presenter.fetch_request(link))

    def flow(self, flow_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/recovery/flows/{flow_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def methods(self, username: str) -> list[tuple[str, bool]]:
        """(type, active) of every method of the user."""
        from sqlalchemy import select

        from ssar.store.tables import AuthMethodRow, UserRow

        with self.registry.database.transaction() as session:
            rows = session.execute(
                select(AuthMethodRow.type, AuthMethodRow.revoked_at)
                .join(UserRow, UserRow.id == AuthMethodRow.user_id)
                .where(UserRow.username == username)
                .order_by(AuthMethodRow.created_at, AuthMethodRow.type)
            ).all()
        return [(t, revoked is None) for t, revoked in rows]


def _seed_groups(registry: Registry) -> None:
    directory = registry.directory
    for name, parent in (
        ("All Staff", None),
        ("Engineering", "All Staff"),
        ("Platform", "Engineering"),
        ("Executives", None),
    ):
        directory.add_group(name=name, parent=parent, actor="test")


def _status_list_token(issuer: IdentityIssuer, statuses: list[int], clock: FixedClock) -> str:
    bits = 2
    data = bytearray((len(statuses) * bits + 7) // 8)
    for i, value in enumerate(statuses):
        data[i * bits // 8] |= value << (i * bits % 8)
    t = int(clock.now().timestamp())
    payload = {
        "iss": issuer.iss,
        "sub": STATUS_URI,
        "iat": t - 60,
        "exp": t + 3600,
        "ttl": 300,
        "status_list": {"bits": bits, "lst": b64url_encode(zlib.compress(bytes(data), 9))},
    }
    return sign_jwt({"typ": "statuslist+jwt", "alg": "ES256"}, payload, issuer.key)


def _router(client: TestClient, external: dict[str, Handler]) -> httpx.Client:
    """The service's and the wallets' HTTP: the app for its own host, ``external`` for others
    (anything else fails like an unreachable host)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "localhost":
            answer = client.request(
                request.method,
                str(request.url),
                content=request.content,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                follow_redirects=False,
            )
            return httpx.Response(
                answer.status_code,
                headers=list(answer.headers.multi_items()),
                content=answer.content,
            )
        serve = external.get(request.url.host)
        if serve is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return serve(request)

    return httpx.Client(transport=httpx.MockTransport(handler), timeout=5.0)


@pytest.fixture
def harness(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Harness]:
    registry = Registry(make_settings(db_url, tmp_path, base_url=BASE, demo=True), clock=clock)
    _seed_groups(registry)
    external: dict[str, Handler] = {}
    with (
        TestClient(create_app(registry), base_url=BASE) as client,
        _router(client, external) as http,
    ):
        registry.__dict__["http"] = http
        yield Harness(registry, client, http, IdentityIssuer(), clock, tmp_path, external)
    registry.close()
