"""Test users, inserted straight into the directory tables (no dependency on the directory
service)."""

from __future__ import annotations

from collections.abc import Sequence

from ssar.directory.names import username_key
from ssar.directory.repository import DirectoryRepository
from ssar.registry import Registry
from ssar.store.tables import UserEmailRow, UserRow


def add_user(
    registry: Registry,
    username: str,
    *,
    given_name: str = "Ada",
    family_name: str = "Lovelace",
    emails: Sequence[str] = (),
    quiet_emails: Sequence[str] = (),
    enabled: bool = True,
) -> str:
    """Insert a user (and addresses; ``quiet_emails`` are not notification addresses)."""
    now = registry.clock.now()
    user = UserRow(
        username=username,
        username_key=username_key(username),
        given_name=given_name,
        family_name=family_name,
        display_name=f"{given_name} {family_name}",
        enabled=enabled,
        privileged=False,
        created_at=now,
        updated_at=now,
    )
    with registry.database.transaction() as session:
        session.add(user)
        session.flush()
        for i, address in enumerate(emails):
            session.add(UserEmailRow(user_id=user.id, address=address, primary=i == 0, notify=True))
        for address in quiet_emails:
            session.add(UserEmailRow(user_id=user.id, address=address, notify=False))
        DirectoryRepository(session).replace_name_keys(user.id, family_name)
    return user.id
