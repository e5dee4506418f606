"""Smoke test of the load harness (bench/load.py): every scenario, a couple of seconds with tiny
counts against real ``ssar serve`` processes, reports throughput > 0 and no errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port, running_server, server_env, ssar_command

ROOT = Path(__file__).resolve().parents[2]
LOAD = ROOT / "bench" / "load.py"


def load(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(LOAD), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@contextmanager
def second_instance(
    *, database_url: str, var_dir: Path, port: int, public: str, log: Path
) -> Iterator[str]:
    """Another ``ssar serve`` with the first one's public base URL (as behind a load balancer)."""
    env = server_env(database_url=database_url, var_dir=var_dir, base_url=public, demo=False)
    with log.open("wb") as out:
        process = subprocess.Popen(
            ssar_command("serve", "--port", str(port)), env=env, stdout=out, stderr=out
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()[-2000:]
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def assert_clean(report: dict[str, Any], op: str) -> None:
    assert report["throughput_per_s"].get(op, 0) > 0, report
    assert report["errors"] == {}, report["errors"]
    assert report["errors_including_warmup"] == {}, report["errors_including_warmup"]
    assert report["server_processes"], "no server process found by port"
    assert all(p["rss_mb"] > 0 for p in report["server_processes"])


def test_every_scenario_runs_and_reports(db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "load" / "state.json"
    port_a, port_b = free_port(), free_port()
    load(
        "setup",
        "--state", str(state),
        "--database-url", db_url,
        "--port", str(port_a),
        "--signin-users", "5",
        "--tap-users", "10",
        "--face-users", "2",
        "--noface-users", "12",
    )  # fmt: skip
    var_dir = state.parent / "var"
    with (
        running_server(
            database_url=db_url, var_dir=var_dir, port=port_a, demo=False, log=tmp_path / "a.log"
        ) as a,
        second_instance(
            database_url=db_url,
            var_dir=var_dir,
            port=port_b,
            public=f"http://localhost:{port_a}",
            log=tmp_path / "b.log",
        ) as b,
    ):
        a = a.replace("localhost", "127.0.0.1")
        common = ["--state", str(state), "--base-url", a, "--warmup", "0"]
        signin = load("signin", *common, "--duration", "2", "--concurrency", "2")
        assert_clean(signin, "signin")
        assert signin["latency"]["passkey_verify"]["p99_ms"] > 0
        assert signin["client"]["cpu_s"] > 0

        assert_clean(
            load("tap", *common, "--duration", "2", "--count", "5", "--concurrency", "2"),
            "tap_signin",
        )

        no_face = load("recovery", *common, "--no-face", "--duration", "2", "--count", "4")
        assert_clean(no_face, "recovery")
        assert no_face["verification"]["ok"], no_face["verification"]
        assert no_face["worker_cpu_pct"], no_face["server_processes"]

        face = load("recovery", *common, "--face", "--duration", "5", "--count", "1")
        assert_clean(face, "recovery")
        assert face["verification"]["db_restored_exactly_once"] == 1

        both = load(
            "concurrent", "--state", str(state), "--base-url", a, "--base-url", b,
            "--count", "6",
        )  # fmt: skip
        assert both["verification"]["ok"], both["verification"]
        assert both["verification"]["db_completed"] == 6
        assert both["server_errors_5xx"] == {}
        # the same wallet presentation again, at the other instance: refused as a replay
        assert both["verification"]["presentation_replays_refused"] == 6
        assert both["verification"]["presentation_replays_accepted"] == 0
        assert both["retries"]["failed_after_retry"] == {}
        assert len({p["pid"] for p in both["server_processes"]}) >= 2
