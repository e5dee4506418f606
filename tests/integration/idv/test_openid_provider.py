"""The reference verification service as an OpenID provider (OIDC4IDA): a recovery profile
with ``provider: oidc_ida:reference`` sends the person to it; they show a licence and take a
live selfie; SSAR's ``oidc_ida`` adapter redeems the code (PKCE), checks the ID token and reads
``verified_claims`` — the adapter against a real counterpart, in process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from ssar.clock import FixedClock
from ssar.idv.pages import verification
from ssar.registry import Registry
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.integration.idv.test_reference_recovery import BASE, _csrf, _licence
from tests.support.faces import frames_for
from tests.unit.wallet.bridge import bridge


@pytest.fixture
def op_app(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Registry, TestClient]]:
    providers = tmp_path / "oidc_ida.yaml"
    providers.write_text(
        yaml.safe_dump(
            {
                "providers": [
                    {
                        "name": "reference",
                        "issuer": f"{BASE}/idv",
                        "client_id": "ssar-recovery",
                        "trust_frameworks": ["ssar_reference"],
                    }
                ]
            }
        )
    )
    clients = tmp_path / "idv_clients.yaml"
    clients.write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {"client_id": "ssar-recovery", "redirect_uris": [f"{BASE}/recover/callback"]}
                ]
            }
        )
    )
    settings = make_settings(
        db_url,
        tmp_path,
        base_url=BASE,
        demo=True,
        oidc_ida_providers_file=providers,
        idv_oidc_clients_file=clients,
    )
    registry = Registry(settings, clock=clock)
    registry.directory.add_group(name="All Staff", actor="test")
    registry.directory.add_user(
        username="ada", given_name="Ada", family_name="Lovelace", groups=["All Staff"]
    )
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Staff",
                    "mode": "production",
                    "priority": 1,
                    "include_groups": ["All Staff"],
                    "provider": "oidc_ida:reference",
                    "validation": {"match": "relaxed"},
                    "face_check": {"required": False, "threshold": 70},
                }
            ]
        },
        actor="test",
    )
    with TestClient(create_app(registry), base_url=BASE) as client, bridge(client) as http:
        registry.__dict__["http"] = http  # SSAR's adapter talks to the OP in the same app
        yield registry, client
    registry.close()


def test_recovery_through_the_reference_openid_provider(
    op_app: tuple[Registry, TestClient],
) -> None:
    registry, client = op_app
    page = client.get("/recover?username=ada")
    client.post("/recover", data={"username": "ada", "csrf_token": _csrf(page.text)})
    to_op = client.get("/recover/verify", follow_redirects=False)
    assert to_op.headers["location"].startswith(f"{BASE}/idv/oidc/authorize?")
    at_op = client.get(to_op.headers["location"], follow_redirects=False)
    assert at_op.headers["location"] == "/idv"
    start = client.get("/idv")
    front, back = _licence()
    client.post(
        "/idv/licence",
        data={"csrf_token": _csrf(start.text)},
        files={"front": ("front.png", front, "image/png"), "back": ("back.png", back, "image/png")},
    )
    selfie = client.get("/idv/selfie")
    challenge = verification(registry).challenge(client.cookies["ssar_idv"])
    frames = frames_for(challenge["poses"], seed=61)
    answer = client.post(
        "/idv/selfie",
        headers={"x-csrf-token": _csrf(selfie.text)},
        data={"token": challenge["token"]},
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    ).json()
    back_to_rp = answer["redirect"]
    assert back_to_rp.startswith(f"{BASE}/recover/callback?code=")
    done = client.get(back_to_rp, follow_redirects=False)
    assert done.headers["location"] == "/recover/result"
    case = registry.recovery.cases()[0]
    assert case["state"] == "restored", case
    assert case["issuer"] == f"{BASE}/idv"
    assert case["credential_type"] == "ssar_reference"
    # the code is single use
    again = client.get(back_to_rp, follow_redirects=False)
    assert again.status_code in (303, 404)
    assert registry.recovery.cases()[0]["state"] == "restored"


def test_an_unregistered_redirect_uri_is_refused(op_app: tuple[Registry, TestClient]) -> None:
    _, client = op_app
    answer = client.get(
        "/idv/oidc/authorize",
        params={
            "client_id": "ssar-recovery",
            "redirect_uri": "https://attacker.example/cb",
            "response_type": "code",
            "scope": "openid",
            "nonce": "n",
            "state": "s",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "ssar_idv_oidc" not in answer.cookies
