"""``/metrics``: Prometheus text, service-wide facts from the database, per-route latencies."""

from __future__ import annotations

from tests.integration.recovery.conftest import Harness
from tests.integration.recovery.test_flow import give_passkey


def test_metrics_need_an_admin_token_and_count_flows_and_passes(harness: Harness) -> None:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    harness.profile()
    started = harness.start("erika").json()
    harness.present(harness.wallet(), started["verification"]["link"])
    assert harness.flow(started["id"])["state"] == "restored"
    harness.start("nobody")
    assert harness.client.get("/metrics").status_code == 401
    token = harness.registry.api_tokens.create(name="prometheus", scopes=["admin"]).token
    response = harness.client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'ssar_recovery_flows{mode="production",state="restored"} 1.0' in text
    assert 'ssar_recovery_flows{mode="production",state="verifying"} 1.0' in text
    assert "ssar_taps_issued_total 1.0" in text
    assert "ssar_taps_redeemed_total 0.0" in text
    # latencies by route template: the flow handle never appears
    assert 'route="/api/recovery/flows/{handle}"' in text
    assert started["id"] not in text
