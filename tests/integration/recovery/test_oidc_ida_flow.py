"""Recovery through an OpenID Connect for Identity Assurance provider (a bank ID, an eID): the
pages send the person to the provider and take them back at ``/recover/callback``."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.integration.recovery.conftest import Harness
from tests.integration.recovery.test_flow import give_passkey
from tests.support.oidc_op import CLIENT_ID, ISSUER, FakeOpenIdProvider


def _setup(harness: Harness, tmp_path: Path, *, match: str = "relaxed") -> FakeOpenIdProvider:
    op = FakeOpenIdProvider(clock=harness.clock)
    harness.external["op.example.net"] = op.handle
    providers = tmp_path / "oidc_ida.yaml"
    providers.write_text(
        yaml.safe_dump(
            {
                "providers": [
                    {
                        "name": "bankid",
                        "issuer": ISSUER,
                        "client_id": CLIENT_ID,
                        "trust_frameworks": ["eidas"],
                    }
                ]
            }
        )
    )
    harness.registry.settings.oidc_ida_providers_file = providers
    harness.user("zoe", "Zoe", "Agren")
    give_passkey(harness, "zoe")
    harness.profile(
        provider="oidc_ida:bankid",
        credentials=None,
        validation={
            "match": match,
            "claims": {"given_name": "given_name", "family_name": "family_name"},
        },
    )
    return op


def _start_in_browser(harness: Harness) -> str:
    page = harness.client.get("/recover?username=zoe")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    started = harness.client.post(
        "/recover", data={"username": "zoe", "csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert started.status_code == 303, started.text[-1500:]
    verify = harness.client.get("/recover/verify", follow_redirects=False)
    assert verify.status_code == 303
    location = verify.headers["location"]
    assert location.startswith(f"{ISSUER}/authorize?")
    return location


def test_recovery_with_an_identity_assurance_provider(harness: Harness, tmp_path: Path) -> None:
    op = _setup(harness, tmp_path)
    authorize = _start_in_browser(harness)
    back = op.authorize(authorize)  # the person proves who they are at the provider
    done = harness.client.get("/recover/callback", params=back, follow_redirects=False)
    assert done.headers["location"] == "/recover/result"
    result = harness.client.get("/recover/result")
    assert 'data-state="restored"' in result.text
    assert harness.methods("zoe") == [("passkey", False), ("tap", True)]
    case = harness.registry.recovery.cases()[0]
    assert case["issuer"] == ISSUER
    assert case["credential_type"] == "eidas"


def test_a_wrong_state_from_the_provider_fails_uniformly(harness: Harness, tmp_path: Path) -> None:
    op = _setup(harness, tmp_path)
    back = op.authorize(_start_in_browser(harness), state="forged")
    harness.client.get("/recover/callback", params=back, follow_redirects=False)
    result = harness.client.get("/recover/result")
    assert 'data-state="failed"' in result.text
    assert harness.methods("zoe") == [("passkey", True)]
    assert harness.registry.recovery.cases()[0]["reason"] == "state_mismatch"


def test_names_from_the_provider_are_matched_by_the_profile_rule(
    harness: Harness, tmp_path: Path
) -> None:
    """The provider says Zoë Ågren; the directory says Zoe Agren: relaxed accepts (above),
    exact refuses."""
    op = _setup(harness, tmp_path, match="exact")
    back = op.authorize(_start_in_browser(harness))
    harness.client.get("/recover/callback", params=back, follow_redirects=False)
    assert harness.registry.recovery.cases()[0]["reason"] == "not_matched"
    assert harness.methods("zoe") == [("passkey", True)]


def test_an_unreachable_provider_fails_the_flow_not_the_service(
    harness: Harness, tmp_path: Path
) -> None:
    op = _setup(harness, tmp_path)
    op.failures["discovery"] = 503
    started = harness.start("zoe")
    assert started.status_code == 201
    assert started.json()["state"] == "failed"
    assert harness.registry.recovery.cases()[0]["reason"] == "provider_unreachable"
