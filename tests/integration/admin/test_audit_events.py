"""The audit log holds what issue #7 lists, with who did it: sign-ins (both outcomes), sign-in
method changes, TAPs issued and redeemed, each recovery step and decision, and admin actions —
and never a TAP, a secret, a claim value or a portrait."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from ssar.errors import AuthenticationFailed
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.integration.recovery.conftest import Harness, harness  # noqa: F401 (fixture)
from tests.support.admin import admin_browser
from tests.support.users import add_user


def events(registry: Registry) -> list[AuditEventRow]:
    with registry.database.transaction() as session:
        rows = list(session.execute(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars())
        session.expunge_all()
    return rows


def actors_of(rows: list[AuditEventRow], kind: str) -> set[str]:
    return {r.actor for r in rows if r.type == kind}


def dump(rows: list[AuditEventRow]) -> str:
    """Every field of every event, as text to search for leaks."""
    return "\n".join(
        json.dumps(
            [r.type, r.actor, r.user_id, r.ip, r.data, r.prev_hash, r.hash], ensure_ascii=False
        )
        for r in rows
    )


def test_signins_methods_taps_and_admin_actions_are_recorded_with_their_actor(
    registry: Registry,
) -> None:
    add_user(registry, "ada", emails=["ada@example.org"])
    token = registry.api_tokens.create(name="helpdesk-bot", scopes=["admin"], actor="test").token
    with admin_browser(registry, role="global_admin") as admin:
        # a TAP through the admin API, and through the service as a named helpdesk admin
        issued = admin.client.post(
            "/api/admin/users/ada/tap", json={}, headers={"authorization": f"Bearer {token}"}
        )
        assert issued.status_code == 201, issued.text
        api_tap = issued.json()["tap"]
        with pytest.raises(AuthenticationFailed):
            registry.signin.signin_with_tap(username="ada", tap="WRONG-" + api_tap[:4], ip=None)
        assert registry.signin.signin_with_tap(username="ada", tap=api_tap, ip="198.51.100.4")
        second_tap = registry.signin.taps.issue(username="ada", actor="user:helpdesk").tap
        # admin actions through the admin center's pages
        policy = registry.signin.taps.policy.model_dump()
        saved = admin.post(
            "/admin/tap-policy",
            {
                **{k: str(v) for k, v in policy.items() if k != "one_time"},
                "lifetime_minutes": str(policy["lifetime_minutes"] + 5),
                "one_time": "on",
            },
        )
        assert saved.status_code == 303, saved.text
        granted = admin.post("/admin/settings/admins", {"username": "ada", "role": "reader"})
        assert granted.status_code == 303, granted.text
        # the admin removes their own passkey from the security info page (method.removed)
        page = admin.client.get("/security-info").text
        method = re.search(r'action="/security-info/methods/([\w-]+)/remove"', page)
        assert method is not None
        removed = admin.post(f"/security-info/methods/{method.group(1)}/remove")
        assert removed.status_code == 303, removed.text

    rows = events(registry)
    assert actors_of(rows, "tap.issued") == {"test", "token:helpdesk-bot", "user:helpdesk"}
    assert actors_of(rows, "tap.redeemed") == {"user:root", "user:ada"}
    assert actors_of(rows, "signin.succeeded") == {"user:root", "user:ada"}
    assert actors_of(rows, "signin.failed") == {"user:ada"}
    failed = next(r for r in rows if r.type == "signin.failed")
    assert failed.data["method"] == "tap"
    assert actors_of(rows, "method.added") == {"user:root"}  # root's passkey
    assert actors_of(rows, "method.removed") == {"user:root"}
    assert actors_of(rows, "signout") == {"user:root"}  # admin_browser signs out once
    assert actors_of(rows, "tap_policy.updated") == {"user:root"}
    assert actors_of(rows, "admin.role_granted") == {"test", "user:root"}
    assert actors_of(rows, "api_token.created") == {"test"}
    ada_signin = next(r for r in rows if r.type == "signin.succeeded" and r.actor == "user:ada")
    assert ada_signin.ip == "198.51.100.4"
    assert ada_signin.data == {"method": "tap", "method_id": ada_signin.data["method_id"]}
    # nothing secret in the log: neither TAP, nor the API token
    text = dump(rows)
    for secret in (api_tap, second_tap, token):
        assert secret not in text


def test_recovery_steps_and_decisions_are_recorded_without_secrets_or_claims(
    harness: Harness,  # noqa: F811
) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.user("max", "Max", "Muster")  # the credential is Erika's: his recovery must fail
    harness.profile()
    wallet = harness.wallet()

    # a decision against: the credential does not match max
    refused = harness.start("max").json()
    harness.present(wallet, refused["verification"]["link"])
    assert harness.flow(refused["id"])["state"] == "failed"

    # a decision for: erika's account is restored and the TAP collected once
    started = harness.start("erika").json()
    harness.present(harness.wallet(), started["verification"]["link"])
    assert harness.flow(started["id"])["state"] == "restored"
    tap = harness.client.post(f"/api/recovery/flows/{started['id']}/tap").json()["tap"]
    with pytest.raises(AuthenticationFailed):
        harness.registry.signin.signin_with_tap(username="erika", tap=tap[::-1], ip=None)
    harness.registry.signin.signin_with_tap(username="erika", tap=tap, ip=None)

    rows = events(harness.registry)
    erika = harness.registry.directory.get_user("erika").id
    mine = [r for r in rows if r.user_id == erika]
    steps = [r.type for r in mine if r.type.startswith("recovery.")]
    assert steps == [
        "recovery.started",
        "recovery.identity_verification_started",
        "recovery.presentation_completed",
        "recovery.account_matched",
        "recovery.restored",
        "recovery.completed",
    ]
    assert {r.actor for r in mine if r.type.startswith("recovery.")} == {"recovery"}
    assert len({r.data["flow_id"] for r in mine if r.type.startswith("recovery.")}) == 1
    assert actors_of(mine, "tap.issued") == {"recovery"}
    assert actors_of(mine, "tap.redeemed") == {"user:erika"}
    assert actors_of(mine, "signin.failed") == {"user:erika"}
    max_id = harness.registry.directory.get_user("max").id
    refusal = [r.type for r in rows if r.user_id == max_id and r.type.startswith("recovery.")]
    assert "recovery.account_not_matched" in refusal
    assert refusal[-1] == "recovery.failed"

    text = dump(rows)
    assert tap not in text  # R30/R25: the pass never reaches the log
    assert tap[::-1] not in text  # nor a mistyped one
    for claim in ("Mustermann", "1984-01-26", "data:image"):
        assert claim not in text, claim  # claim values and the portrait stay out
