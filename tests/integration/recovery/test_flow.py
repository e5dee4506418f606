"""The recovery flow through the JSON API, with a wallet presenting cross-device."""

from __future__ import annotations

from tests.integration.recovery.conftest import Harness


def test_production_recovery_without_face_check_restores_the_account(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.profile()
    started = harness.start("erika")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["state"] == "verifying"
    assert body["verification"]["type"] == "openid4vp"
    harness.present(harness.wallet(), body["verification"]["link"])
    flow = harness.flow(body["id"])
    assert flow["state"] == "restored", flow
    tap = harness.client.post(f"/api/recovery/flows/{body['id']}/tap")
    assert tap.status_code == 200
    assert len(tap.json()["tap"]) >= 11
    assert harness.client.post(f"/api/recovery/flows/{body['id']}/tap").status_code == 410
    assert harness.flow(body["id"])["state"] == "completed"
