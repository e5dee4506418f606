"""Fixtures for the sign-in integration tests."""

from __future__ import annotations

import pytest

from ssar.registry import Registry
from tests.support.users import add_user


@pytest.fixture
def ada(any_registry: Registry) -> str:
    """A user on the registry of ``any_registry`` (SQLite and PostgreSQL)."""
    return add_user(
        any_registry, "ada", emails=["ada@example.org"], quiet_emails=["ada@home.example"]
    )
