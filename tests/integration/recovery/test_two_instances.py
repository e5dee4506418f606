"""Scale-out: two ``ssar serve`` processes on one database. A recovery flow started on one
finishes on the other; the TAP is handed out once across both; throttling counts both."""

from __future__ import annotations

from pathlib import Path

import httpx

from ssar.clock import SystemClock
from ssar.registry import Registry
from ssar.wallet.presenter import Presenter
from ssar.wallet.store import Wallet
from tests.conftest import make_settings
from tests.integration.recovery.conftest import profile_doc
from tests.support.faces import portrait_data_uri
from tests.support.issuer import IdentityIssuer, holder_from
from tests.support.server import free_port, running_server


def test_a_flow_started_on_one_instance_finishes_on_another(db_url: str, tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    issuer = IdentityIssuer()
    registry = Registry(make_settings(db_url, tmp_path), clock=SystemClock())
    try:
        registry.migrate()
        for name, parent in (("All Staff", None), ("Platform", "All Staff"), ("Executives", None)):
            registry.directory.add_group(name=name, parent=parent, actor="test")
        registry.directory.add_user(
            username="erika", given_name="Erika", family_name="Mustermann", groups=["Platform"]
        )
        registry.profiles.apply({"profiles": [profile_doc(issuer)]}, actor="test")
        _ = registry.secret_key, registry.signing_key  # both servers load these files
    finally:
        registry.close()
    wallet = Wallet(tmp_path / "phone")
    key = wallet.init()
    wallet.add(
        issuer.issue_text(
            holder=holder_from(key.private_key),
            now=SystemClock().now(),
            claims={
                "given_name": "Erika",
                "family_name": "Mustermann",
                "birthdate": "1984-01-26",
                "portrait": portrait_data_uri(),
            },
        ),
        now=SystemClock().now(),
    )
    port_a, port_b = free_port(), free_port()
    with (
        running_server(
            database_url=db_url, var_dir=var_dir, port=port_a, demo=False, log=tmp_path / "a.log"
        ) as a,
        running_server(
            database_url=db_url, var_dir=var_dir, port=port_b, demo=False, log=tmp_path / "b.log"
        ) as b,
        httpx.Client(timeout=20) as http,
    ):
        started = http.post(f"{a}/api/recovery/flows", json={"username": "erika"})
        assert started.status_code == 201, started.text
        flow = started.json()
        presenter = Presenter(wallet=wallet, http=http, clock=SystemClock())
        presenter.present(presenter.fetch_request(flow["verification"]["link"]))
        # instance B picks the presentation up (sealed to the flow, opened with its handle)
        on_b = http.get(f"{b}/api/recovery/flows/{flow['id']}").json()
        assert on_b["state"] == "restored", on_b
        tap_url = f"/api/recovery/flows/{flow['id']}/tap"
        taken = http.post(f"{b}{tap_url}")
        assert taken.status_code == 200
        assert http.post(f"{a}{tap_url}").status_code == 410  # once, across instances
        # throttling is shared: 5 flows a day per account, counted on both
        for base in (a, b, a, b):
            assert (
                http.post(f"{base}/api/recovery/flows", json={"username": "erika"}).status_code
                == 201
            )
        assert http.post(f"{b}/api/recovery/flows", json={"username": "erika"}).status_code == 429
        assert http.post(f"{a}/api/recovery/flows", json={"username": "erika"}).status_code == 429
