"""``ssar demo``: seed the demo organisation and serve everything."""

from __future__ import annotations


def demo() -> None:
    """Seed a small demo organisation and serve SSAR on http://localhost:8000."""
    raise NotImplementedError
