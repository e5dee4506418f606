"""API tokens: shown once, stored as a keyed hash, scoped, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ssar.errors import AuthenticationFailed, PermissionDenied, ValidationFailed
from ssar.registry import Registry
from ssar.store.tables import ApiTokenRow


def test_token_authenticates_with_its_scope_only(registry: Registry) -> None:
    issued = registry.api_tokens.create(name="hr-sync", scopes=["scim"])
    principal = registry.api_tokens.authenticate(issued.token, required_scope="scim")
    assert principal.name == "hr-sync"
    with pytest.raises(PermissionDenied):
        registry.api_tokens.authenticate(issued.token, required_scope="admin")


def test_token_is_stored_only_as_keyed_hash(registry: Registry) -> None:
    issued = registry.api_tokens.create(name="ops", scopes=["admin"])
    with registry.database.transaction() as session:
        stored = session.execute(select(ApiTokenRow)).scalar_one()
    assert issued.token not in stored.token_hash
    assert len(stored.token_hash) == 64


def test_revoked_or_wrong_token_fails(registry: Registry) -> None:
    issued = registry.api_tokens.create(name="ops", scopes=["admin"])
    registry.api_tokens.revoke(issued.id)
    with pytest.raises(AuthenticationFailed):
        registry.api_tokens.authenticate(issued.token, required_scope="admin")
    with pytest.raises(AuthenticationFailed):
        registry.api_tokens.authenticate("ssar_" + "x" * 43, required_scope="admin")


def test_unknown_scope_refused(registry: Registry) -> None:
    with pytest.raises(ValidationFailed):
        registry.api_tokens.create(name="x", scopes=["root"])
