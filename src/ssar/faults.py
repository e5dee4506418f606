"""Fault injection for the crash tests (R3): ``SSAR_FAULT=<point>`` makes the process die at
that point, as a power cut or ``kill -9`` would, with no cleanup and no commit. Unset in
production; reading one environment variable is all it costs."""

from __future__ import annotations

import os

EXIT_CODE = 86


def fault_point(name: str) -> None:
    if os.environ.get("SSAR_FAULT") == name:
        os._exit(EXIT_CODE)
