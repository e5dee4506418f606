"""Adding and removing sign-in methods needs a recent sign-in and notifies the user (R27)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.errors import ReauthenticationRequired
from ssar.registry import Registry
from ssar.signin.models import SessionInfo
from ssar.store.tables import AuditEventRow, AuthMethodRow, OutboxRow
from tests.support.soft_authenticator import SoftAuthenticator


def _signin(registry: Registry) -> tuple[SessionInfo, str]:
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    result = registry.signin.signin_with_tap(username="ada", tap=tap)
    return result.session.info, result.session.token


def _add_passkey(registry: Registry, info: SessionInfo, token: str) -> str:
    options = registry.signin.passkey_registration_options(session_info=info, binding_token=token)
    credential = SoftAuthenticator(origin=registry.settings.origin).create(options.public_key)
    return registry.signin.register_passkey(
        session_info=info, credential=credential, binding_token=token, label="Phone"
    ).id


def _outbox(registry: Registry) -> list[OutboxRow]:
    with registry.database.transaction() as session:
        return list(session.execute(select(OutboxRow).order_by(OutboxRow.kind)).scalars())


def test_R27_remove_without_recent_signin_is_refused(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    info, token = _signin(any_registry)
    method_id = _add_passkey(any_registry, info, token)
    clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(ReauthenticationRequired):
        any_registry.signin.remove_method(session_info=info, method_id=method_id)
    with any_registry.database.transaction() as session:
        row = session.get(AuthMethodRow, method_id)
        assert row is not None
        assert row.revoked_at is None
    assert [m.kind for m in _outbox(any_registry)] == ["method.added"]


def test_R27_remove_with_recent_signin_is_allowed_and_notifies(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    info, token = _signin(any_registry)
    method_id = _add_passkey(any_registry, info, token)
    clock.advance(timedelta(minutes=10))
    any_registry.signin.remove_method(session_info=info, method_id=method_id)
    assert [m.id for m in any_registry.signin.list_methods(session_info=info)] == []
    messages = _outbox(any_registry)
    assert [(m.kind, m.to_address) for m in messages] == [
        ("method.added", "ada@example.org"),
        ("method.removed", "ada@example.org"),
    ]  # the address without notify=True is not written to
    assert "passkey (Phone) was removed" in messages[1].body_text
    with any_registry.database.transaction() as session:
        types = list(
            session.execute(
                select(AuditEventRow.type).where(AuditEventRow.type.like("method.%"))
            ).scalars()
        )
    assert types == ["method.added", "method.removed"]


def test_R27_adding_a_method_needs_a_recent_signin(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    info, token = _signin(any_registry)
    clock.advance(timedelta(minutes=11))
    with pytest.raises(ReauthenticationRequired):
        any_registry.signin.passkey_registration_options(session_info=info, binding_token=token)
    with pytest.raises(ReauthenticationRequired):
        any_registry.signin.begin_totp(session_info=info, binding_token=token)
    assert _outbox(any_registry) == []


def test_R27_someone_elses_method_cannot_be_removed(any_registry: Registry, ada: str) -> None:
    from ssar.errors import NotFound
    from tests.support.users import add_user

    info, token = _signin(any_registry)
    method_id = _add_passkey(any_registry, info, token)
    add_user(any_registry, "mallory")
    tap = any_registry.signin.taps.issue(username="mallory", actor="test").tap
    mallory = any_registry.signin.signin_with_tap(username="mallory", tap=tap).session.info
    with pytest.raises(NotFound):
        any_registry.signin.remove_method(session_info=mallory, method_id=method_id)
