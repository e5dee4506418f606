"""R1 (uniform timing and shape), R5 ("this wasn't me"), R23 (nothing biometric at rest)."""

from __future__ import annotations

import base64
import re
import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ssar.store.tables import AuditEventRow, AuthMethodRow, OutboxRow, RecoveryLockRow
from tests.integration.recovery.conftest import Harness
from tests.integration.recovery.test_failures import case_of
from tests.integration.recovery.test_flow import face_step, give_passkey, run_to_face
from tests.support.faces import portrait_jpeg


def test_R1_same_status_shape_and_timing_for_every_kind_of_account(harness: Harness) -> None:
    harness.registry.settings.recovery.account_flows_per_day = 100
    harness.registry.settings.recovery.address_flows_per_hour = 1000
    harness.user("erika", "Erika", "Mustermann")
    harness.user("boss", "Bruno", "Boss", privileged=True)
    harness.user("exec", "Eve", "Exec", groups=("Platform", "Executives"))
    harness.profile()
    kinds = {"eligible": "erika", "unknown": "nobody", "privileged": "boss", "excluded": "exec"}
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    shapes = set()
    for _ in range(12):
        for kind, username in kinds.items():
            start = time.perf_counter()
            response = harness.start(username)
            timings[kind].append(time.perf_counter() - start)
            assert response.status_code == 201
            body = response.json()
            shapes.add(
                (
                    body["state"],
                    tuple(sorted(body)),
                    tuple(sorted(body["verification"])),
                    body["verification"]["type"],
                )
            )
    assert len(shapes) == 1, shapes
    medians = {kind: statistics.median(values[2:]) for kind, values in timings.items()}
    spread = max(medians.values()) - min(medians.values())
    print("R1 medians (s):", medians)
    assert spread < 0.050, medians  # R1: within 50 ms


def test_R5_this_wasnt_me_revokes_the_pass_and_what_it_registered_and_locks_recovery(
    harness: Harness,
) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.user("root", "Rita", "Admin", groups=(), emails=("admin@example.org",), privileged=True)
    give_passkey(harness, "erika")
    harness.profile()
    body = harness.start("erika").json()
    harness.present(harness.wallet(), body["verification"]["link"])
    assert harness.flow(body["id"])["state"] == "restored"
    tap = harness.client.post(f"/api/recovery/flows/{body['id']}/tap").json()["tap"]
    # the person (or the attacker) registers a passkey with the pass
    user = harness.registry.directory.get_user("erika")
    with harness.registry.database.transaction() as session:
        tap_id = session.execute(
            select(AuthMethodRow.id).where(
                AuthMethodRow.user_id == user.id, AuthMethodRow.type == "tap"
            )
        ).scalar_one()
        session.add(
            AuthMethodRow(
                user_id=user.id,
                type="passkey",
                label="Attacker's key",
                created_at=harness.clock.now(),
                credential_id=b"attacker",
                public_key=b"\x01" * 10,
                sign_count=0,
                registered_with_method_id=tap_id,
            )
        )
        mail = session.execute(
            select(OutboxRow).where(OutboxRow.to_address == "erika@example.org")
        ).scalar_one()
    link = re.search(r"http://localhost:8000(/recover/dispute/[\w-]+)", mail.body_text)
    assert link is not None
    page = harness.client.get(link.group(1))
    assert page.status_code == 200
    assert "This wasn't me" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    done = harness.client.post(link.group(1), data={"csrf_token": csrf.group(1)})
    assert done.status_code == 200
    assert "Recovery blocked" in done.text
    assert sorted(harness.methods("erika")) == [
        ("passkey", False),
        ("passkey", False),
        ("tap", False),
    ]
    assert harness.registry.signin  # the pass no longer signs in
    from ssar.errors import AuthenticationFailed

    with pytest.raises(AuthenticationFailed):
        harness.registry.signin.signin_with_tap(username="erika", tap=tap)
    with harness.registry.database.transaction() as session:
        assert session.get(RecoveryLockRow, user.id) is not None
        kinds = [m.kind for m in session.execute(select(OutboxRow)).scalars()]
        events = [e.type for e in session.execute(select(AuditEventRow)).scalars()]
    assert "recovery.disputed" in kinds
    assert "recovery.disputed" in events
    # a second click changes nothing and says the same
    again = harness.client.post(link.group(1), data={"csrf_token": csrf.group(1)})
    assert again.status_code == 200
    # recovery is locked for the account: the same genuine evidence now fails, uniformly
    body = harness.start("erika").json()
    harness.present(harness.wallet(), body["verification"]["link"])
    flow = harness.flow(body["id"])
    assert flow["state"] == "failed"
    case = case_of(harness, flow)
    assert case.checks[-1] == {**case.checks[-1], "check": "eligibility", "detail": "locked"}


def test_R5_an_unknown_dispute_link_is_refused(harness: Harness) -> None:
    page = harness.client.get("/recover/dispute/not-a-real-token")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = harness.client.post(
        "/recover/dispute/not-a-real-token", data={"csrf_token": csrf.group(1)}
    )
    assert answer.status_code == 404


def _needles() -> list[bytes]:
    jpeg = portrait_jpeg()
    b64 = base64.b64encode(jpeg)
    return [
        b"\xff\xd8\xff",  # JPEG start of image
        b"\x89PNG",
        b"data:image/",
        b64[:24],  # the portrait, as the credential carried it
        base64.urlsafe_b64encode(jpeg)[:24],
        b"/9j/",  # any base64 JPEG
    ]


def test_R23_no_image_frame_or_embedding_at_rest_after_a_flow(
    harness: Harness, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if not harness.registry.settings.database_url.startswith("sqlite"):
        pytest.skip("the database file is inspected byte by byte on SQLite")
    harness.user("erika", "Erika", "Mustermann")
    harness.profile(face_check={"required": True, "threshold": 70})
    flow = run_to_face(harness, "erika")
    after = face_step(harness, flow, seed=11)
    assert after["state"] == "restored"
    harness.registry.database.dispose()  # flush WAL into the file
    db_file = Path(harness.registry.settings.database_url.removeprefix("sqlite:///"))
    files = [db_file, *sorted(harness.registry.settings.var_dir.rglob("*"))]
    found = []
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        found += [(path.name, needle) for needle in _needles() if needle in data]
    assert not found
    logged = caplog.text.encode()
    assert not [needle for needle in _needles() if needle in logged]
    # and no 128-float embedding in any JSON column: the case holds scores, not vectors
    with harness.registry.database.transaction() as session:
        for (checks,) in session.execute(text("SELECT checks FROM recovery_flows")):
            assert not re.search(r"(-?0\.\d+,\s*){20}", str(checks))


def test_R23_sealed_evidence_of_abandoned_flows_is_erased(harness: Harness) -> None:
    from datetime import timedelta

    harness.user("erika", "Erika", "Mustermann")
    harness.profile(face_check={"required": True, "threshold": 70})
    abandoned = run_to_face(harness, "erika")  # evidence sealed, then the person walks away
    harness.clock.advance(timedelta(minutes=31))
    harness.start("someone")  # any later start sweeps
    with harness.registry.database.transaction() as session:
        row = harness.registry.recovery.row(session, abandoned["id"])
        assert row.evidence_sealed is None
        assert row.provider_state_enc is None
    assert harness.flow(abandoned["id"])["state"] == "expired"
