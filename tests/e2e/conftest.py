"""Browser test fixtures: a real ``ssar serve`` subprocess and Debian's chromium driven by
Playwright (never ``playwright install``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ssar.config import Settings
from ssar.registry import Registry
from tests.support.users import add_user

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SSAR = Path(sys.executable).parent / "ssar"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServedSsar:
    base_url: str
    env: dict[str, str]
    database_url: str
    var_dir: Path

    def cli(self, *args: str) -> dict[str, object]:
        result = subprocess.run(
            [str(SSAR), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        document: dict[str, object] = json.loads(result.stdout)
        return document

    def add_user(self, username: str, **fields: object) -> str:
        settings = Settings(
            database_url=self.database_url, var_dir=self.var_dir, base_url=self.base_url
        )
        registry = Registry(settings)
        try:
            return add_user(registry, username, **fields)  # type: ignore[arg-type]
        finally:
            registry.close()


@pytest.fixture
def ssar_server(tmp_path: Path) -> Iterator[ServedSsar]:
    """``ssar serve`` on a free port with its own SQLite database and var directory."""
    if not SSAR.exists():
        pytest.skip(f"{SSAR} is absent: run `make install` first")
    port = free_port()
    base_url = f"http://localhost:{port}"
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    env = {
        **os.environ,
        "SSAR_DATABASE_URL": database_url,
        "SSAR_VAR_DIR": str(var_dir),
        "SSAR_BASE_URL": base_url,
    }
    env.pop("SSAR_DEMO", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(SSAR), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"ssar serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ssar serve did not answer /healthz within 30 s")
            time.sleep(0.1)
        yield ServedSsar(base_url=base_url, env=env, database_url=database_url, var_dir=var_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def chromium() -> Iterator[object]:
    """A Playwright browser on Debian's chromium, or a skip saying what is missing."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install Debian's chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
