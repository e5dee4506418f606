"""Browser test fixtures: a real ``ssar serve`` subprocess and Debian's chromium driven by
Playwright (never ``playwright install``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ssar.config import Settings
from ssar.registry import Registry
from tests.support.face_videos import fake_camera_args, head_turn_video
from tests.support.server import free_port, running_server, server_env, ssar_command
from tests.support.users import add_user

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class ServedSsar:
    base_url: str
    env: dict[str, str]
    database_url: str
    var_dir: Path

    def cli(self, *args: str) -> dict[str, object]:
        result = subprocess.run(
            ssar_command(*args),
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
    port = free_port()
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    with running_server(
        database_url=database_url,
        var_dir=var_dir,
        port=port,
        demo=False,
        log=tmp_path / "serve.log",
    ) as base_url:
        env = server_env(database_url=database_url, var_dir=var_dir, base_url=base_url, demo=False)
        yield ServedSsar(base_url=base_url, env=env, database_url=database_url, var_dir=var_dir)


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


# --- the fake camera: Ada (scikit-image's astronaut) turning her head -------------------------


@pytest.fixture(scope="module")
def head_turn_y4m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    return head_turn_video(
        np.ascontiguousarray(data.astronaut()), tmp_path_factory.mktemp("video") / "ada.y4m"
    )


@pytest.fixture
def camera_chromium(head_turn_y4m: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install Debian's chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *fake_camera_args(head_turn_y4m)]
        )
        try:
            yield browser
        finally:
            browser.close()
