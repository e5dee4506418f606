"""A small organisation with three levels of nested groups, for the profile tests.

All Staff ⊃ Engineering ⊃ Platform        ada (Platform)
All Staff ⊃ Executives ⊃ Board            kate (Board), grace (Engineering)
Administrators                            margaret (privileged), root (privileged, Platform)
Contractors                               carl; dora (disabled, Platform); sam (no group)
"""

from __future__ import annotations

from typing import Any

import pytest

from ssar.registry import Registry

GROUPS: tuple[tuple[str, str | None], ...] = (
    ("All Staff", None),
    ("Engineering", "All Staff"),
    ("Platform", "Engineering"),
    ("Executives", "All Staff"),
    ("Board", "Executives"),
    ("Administrators", None),
    ("Contractors", None),
)
USERS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("ada", ("Platform",), {}),
    ("grace", ("Engineering",), {}),
    ("kate", ("Board",), {}),
    ("margaret", ("Administrators",), {"privileged": True}),
    ("root", ("Platform",), {"privileged": True}),
    ("carl", ("Contractors",), {}),
    ("dora", ("Platform",), {"enabled": False}),
    ("sam", (), {}),
)


def seed_org(registry: Registry) -> None:
    directory = registry.directory
    for name, parent in GROUPS:
        directory.add_group(name, parent=parent)
    for username, groups, extra in USERS:
        directory.add_user(
            username=username,
            given_name=username.title(),
            family_name="Example",
            groups=groups,
            **extra,
        )


def profile(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Employees",
        "description": "Everyone but executives",
        "priority": 10,
        "include_groups": ["All Staff"],
        "exclude_groups": ["Executives"],
        "provider": "reference",
    }
    base.update(overrides)
    return base


@pytest.fixture
def org(any_registry: Registry) -> Registry:
    seed_org(any_registry)
    return any_registry
