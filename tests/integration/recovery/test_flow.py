"""The recovery flow through the JSON API, end to end: a wallet presents cross-device, the face
check gets challenge frames, and production restores while evaluation changes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.recovery.service import EVALUATION_MESSAGE
from ssar.store.tables import AuditEventRow, AuthMethodRow, OutboxRow, RecoveryFlowRow
from tests.integration.recovery.conftest import Harness
from tests.support.faces import frames_for


def give_passkey(harness: Harness, username: str) -> None:
    """An active sign-in method the recovery must revoke (stands for the lost passkey)."""
    user = harness.registry.directory.get_user(username)
    with harness.registry.database.transaction() as session:
        session.add(
            AuthMethodRow(
                user_id=user.id,
                type="passkey",
                label="Lost phone",
                created_at=harness.clock.now(),
                credential_id=user.id.encode(),
                public_key=b"\x00" * 10,
                sign_count=0,
            )
        )


def face_step(harness: Harness, flow: dict[str, Any], *, seed: int) -> dict[str, Any]:
    step = flow["next"]
    assert step["step"] == "face_check", flow
    frames = frames_for(step["challenge"]["poses"], seed=seed)
    response = harness.client.post(
        step["submit"],
        data={"token": step["challenge"]["token"]},
        files=[("frames", (f"f{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)],
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def run_to_face(harness: Harness, username: str) -> dict[str, Any]:
    started = harness.start(username)
    assert started.status_code == 201, started.text
    body = started.json()
    harness.present(harness.wallet(), body["verification"]["link"])
    return harness.flow(body["id"])


def test_R2_R6_production_recovery_without_face_check_restores_the_account(
    harness: Harness,
) -> None:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    harness.profile()
    started = harness.start("erika")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["state"] == "verifying"
    assert body["verification"]["type"] == "openid4vp"
    assert body["verification"]["link"].startswith("openid4vp://")
    assert harness.methods("erika") == [("passkey", True)]
    harness.present(harness.wallet(), body["verification"]["link"])
    flow = harness.flow(body["id"])
    assert flow["state"] == "restored", flow
    assert harness.methods("erika") == [("passkey", False), ("tap", True)]
    tap = harness.client.post(f"/api/recovery/flows/{body['id']}/tap")
    assert tap.status_code == 200
    assert tap.headers["cache-control"] == "no-store"
    assert len(tap.json()["tap"]) >= 11
    assert harness.client.post(f"/api/recovery/flows/{body['id']}/tap").status_code == 410
    assert harness.flow(body["id"])["state"] == "completed"


def test_R2_R3_R5_R6_production_recovery_with_face_check(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann", emails=("erika@example.org", "e@home.test"))
    harness.user("root", "Rita", "Admin", groups=(), emails=("admin@example.org",), privileged=True)
    give_passkey(harness, "erika")
    harness.profile(face_check={"required": True, "threshold": 70})
    flow = run_to_face(harness, "erika")
    assert flow["state"] == "face_checking"
    assert harness.methods("erika") == [("passkey", True)]  # R2: nothing yet
    after = face_step(harness, flow, seed=1)
    assert after["state"] == "restored", after
    tap = harness.client.post(after["next"]["url"]).json()["tap"]

    # the TAP signs in (once) and leads to passkey registration; nothing signed the person in
    # R6: recovery never starts a session; the pass is the only way in
    assert "ssar_session" not in harness.client.cookies
    assert harness.client.get("/security-info", follow_redirects=False).status_code == 303
    result = harness.registry.signin.signin_with_tap(username="erika", tap=tap, ip=None)
    assert result.session is not None

    with harness.registry.database.transaction() as session:
        row = session.execute(select(RecoveryFlowRow)).scalar_one()
        assert row.state == "completed"
        assert row.evidence_sealed is None
        assert row.tap_sealed is None
        checks = {c["check"]: c for c in row.checks}
        assert checks["face"]["outcome"] == "passed"
        assert checks["face"]["score"] >= 70
        assert checks["account_match"]["detail"] == "matched"
        assert checks["credential"]["issuer"] == harness.issuer.iss
        mail = session.execute(select(OutboxRow).order_by(OutboxRow.to_address)).scalars().all()
        events = [e.type for e in session.execute(select(AuditEventRow)).scalars()]
    # R5: every notification address and the admins, with the one-click dispute link
    assert sorted(m.to_address for m in mail) == [
        "admin@example.org",
        "e@home.test",
        "erika@example.org",
    ]
    assert all(re.search(r"/recover/dispute/[\w-]{40,}", m.body_text) for m in mail)
    (to_admin,) = [m for m in mail if m.to_address == "admin@example.org"]
    assert f"/admin/reports/cases/{row.id}" in to_admin.body_text  # the case page, not the API
    for event in (
        "recovery.started",
        "recovery.identity_verification_started",
        "recovery.presentation_completed",
        "recovery.face_check_passed",
        "recovery.account_matched",
        "recovery.restored",
        "tap.issued",
        "recovery.completed",
    ):
        assert event in events, (event, events)


def test_R4_evaluation_mode_changes_nothing_and_says_so(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    harness.profile(mode="evaluation", face_check={"required": True, "threshold": 70})
    flow = run_to_face(harness, "erika")
    after = face_step(harness, flow, seed=2)
    assert after["state"] == "evaluated"
    assert after["message"] == EVALUATION_MESSAGE
    assert after["next"] == {"step": "done", "evaluation": True}
    assert harness.methods("erika") == [("passkey", True)]
    assert harness.client.post(f"/api/recovery/flows/{after['id']}/tap").status_code == 410
    with harness.registry.database.transaction() as session:
        assert session.execute(select(OutboxRow)).first() is None
        row = session.execute(select(RecoveryFlowRow)).scalar_one()
        assert [c["check"] for c in row.checks][-1] == "decision"


def test_R24_five_failed_face_checks_end_the_flow(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    harness.profile(face_check={"required": True, "threshold": 70})
    flow = run_to_face(harness, "erika")
    from tests.support.faces import still_frames

    for attempt in range(1, 6):
        step = flow["next"]
        frames = still_frames(4, seed=attempt)
        response = harness.client.post(
            step["submit"],
            data={"token": step["challenge"]["token"]},
            files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
        )
        flow = response.json()
        if attempt < 5:
            assert flow["state"] == "face_checking"
            assert flow["next"]["attempts_left"] == 5 - attempt
            assert flow["message"]  # a retry hint, not a reason
    assert flow["state"] == "failed"
    assert harness.methods("erika") == [("passkey", True)]  # R2


def test_R20_frames_from_another_flow_are_refused(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.profile(mode="evaluation", face_check={"required": True, "threshold": 70})
    first = run_to_face(harness, "erika")
    frames = frames_for(first["next"]["challenge"]["poses"], seed=7)
    files = [("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
    done = harness.client.post(
        first["next"]["submit"], data={"token": first["next"]["challenge"]["token"]}, files=files
    ).json()
    assert done["state"] == "evaluated"
    second = run_to_face(harness, "erika")
    # the very same frames for the new flow's challenge: refused even if the poses coincide
    again = harness.client.post(
        second["next"]["submit"], data={"token": second["next"]["challenge"]["token"]}, files=files
    ).json()
    assert again["state"] == "face_checking"
    with harness.registry.database.transaction() as session:
        case = harness.registry.recovery.row(session, second["id"])
        assert case.checks[-1]["detail"] == "replayed_frames"


def test_a_challenge_from_another_flow_is_refused(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.profile(mode="evaluation", face_check={"required": True, "threshold": 70})
    first = run_to_face(harness, "erika")
    second = run_to_face(harness, "erika")
    poses = first["next"]["challenge"]["poses"]
    frames = frames_for(poses, seed=8)
    answer = harness.client.post(
        second["next"]["submit"],
        data={"token": first["next"]["challenge"]["token"]},  # bound to the first flow's nonce
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    ).json()
    assert answer["state"] == "face_checking"
    with harness.registry.database.transaction() as session:
        case = harness.registry.recovery.row(session, second["id"])
        assert case.checks[-1]["detail"] == "challenge_invalid"


def test_the_demo_organisation_can_try_recovery_with_its_wallet(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """``make demo`` seeds an issuer, an evaluation profile and the newcomer's credential in the
    demo web wallet: a newcomer can try recovery at once, and nothing changes."""
    from fastapi.testclient import TestClient

    from ssar.demo import NEWCOMER, seed_demo, seed_recovery_demo
    from ssar.registry import Registry
    from ssar.wallet.presenter import Presenter
    from ssar.wallet.store import Wallet
    from ssar.web.app import create_app
    from tests.conftest import make_settings
    from tests.unit.wallet.bridge import bridge

    registry = Registry(make_settings(sqlite_url, tmp_path, demo=True), clock=clock)
    try:
        seed_demo(registry)
        assert seed_recovery_demo(registry) is True
        assert seed_recovery_demo(registry) is False  # idempotent
        app = create_app(registry)
        with TestClient(app, base_url="http://localhost:8000") as client, bridge(client) as http:
            started = client.post("/api/recovery/flows", json={"username": NEWCOMER}).json()
            wallet = Wallet(registry.settings.var_dir / "wallet")
            presenter = Presenter(wallet=wallet, http=http, clock=clock)
            presenter.present(presenter.fetch_request(started["verification"]["link"]))
            flow = client.get(f"/api/recovery/flows/{started['id']}").json()
        assert flow["state"] == "evaluated"
    finally:
        registry.close()


def test_R24_an_expired_challenge_costs_no_attempt(harness: Harness) -> None:
    from datetime import timedelta

    harness.user("erika", "Erika", "Mustermann")
    harness.profile(mode="evaluation", face_check={"required": True, "threshold": 70})
    flow = run_to_face(harness, "erika")
    harness.clock.advance(timedelta(seconds=61))  # the person read the instructions slowly
    late = face_step(harness, flow, seed=21)
    assert late["state"] == "face_checking"
    assert late["next"]["attempts_left"] == 5
    assert face_step(harness, late, seed=22)["state"] == "evaluated"


def test_admins_read_the_case_with_every_check_through_the_admin_api(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.profile()
    started = harness.start("erika").json()
    harness.present(harness.wallet(), started["verification"]["link"])
    assert harness.flow(started["id"])["state"] == "restored"
    assert harness.client.get("/api/admin/recovery/cases").status_code == 401
    token = harness.registry.api_tokens.create(name="admin", scopes=["admin"]).token
    auth = {"authorization": f"Bearer {token}"}
    listed = harness.client.get("/api/admin/recovery/cases", headers=auth).json()["cases"]
    assert [c["state"] for c in listed] == ["restored"]
    case = harness.client.get(f"/api/admin/recovery/cases/{listed[0]['id']}", headers=auth).json()
    assert [c["check"] for c in case["checks"]] == [
        "profile",
        "credential",
        "eligibility",
        "evidence",
        "account_match",
        "restoration",
    ]
    assert "claims" not in json.dumps(case["checks"][1])  # never the person's claims
    assert started["id"] not in json.dumps(case)  # nor the person's handle


def test_R21_a_credential_portrait_without_a_usable_face_ends_the_flow(harness: Harness) -> None:
    from tests.support.issuer import PORTRAIT  # a 1x1 JPEG

    harness.user("erika", "Erika", "Mustermann")
    harness.profile(face_check={"required": True, "threshold": 70})
    started = harness.start("erika").json()
    wallet = harness.wallet(
        {
            "given_name": "Erika",
            "family_name": "Mustermann",
            "birthdate": "1984-01-26",
            "portrait": PORTRAIT,
        }
    )
    harness.present(wallet, started["verification"]["link"])
    flow = harness.flow(started["id"])
    after = face_step(harness, flow, seed=31)
    assert after["state"] == "failed"
    with harness.registry.database.transaction() as session:
        assert harness.registry.recovery.row(session, started["id"]).reason == "portrait_too_small"
