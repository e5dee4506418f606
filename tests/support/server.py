"""A real ``ssar serve`` subprocess on a free port, and the ``ssar`` command beside it
(integration and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SSAR = Path(sys.executable).parent / "ssar"


def ssar_command(*args: str) -> list[str]:
    """The ``ssar`` CLI of this interpreter's environment (or the module, if not installed)."""
    if SSAR.exists():
        return [str(SSAR), *args]
    return [sys.executable, "-c", "from ssar.cli.main import main; main()", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(*, database_url: str, var_dir: Path, base_url: str, demo: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSAR_")}
    env.update(
        SSAR_DATABASE_URL=database_url,
        SSAR_VAR_DIR=str(var_dir),
        SSAR_BASE_URL=base_url,
        SSAR_DEMO="1" if demo else "0",
    )
    return env


@contextmanager
def running_server(
    *, database_url: str, var_dir: Path, port: int, demo: bool = True, log: Path
) -> Iterator[str]:
    """Yield the base URL of a served SSAR; stop it (this process only) afterwards."""
    base_url = f"http://localhost:{port}"
    command = ssar_command("serve", "--port", str(port))
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=server_env(
                database_url=database_url, var_dir=var_dir, base_url=base_url, demo=demo
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"ssar serve exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ssar serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
