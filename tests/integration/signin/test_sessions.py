"""Sessions: storage, rotation and expiry (R26), on both databases."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import select, update

from ssar.clock import FixedClock
from ssar.registry import Registry
from ssar.signin.models import SigninResult
from ssar.store.tables import SessionRow, UserRow


def _signin(registry: Registry, previous: str | None = None) -> SigninResult:
    tap = registry.signin.taps.issue(username="ada", actor="test", one_time=False).tap
    return registry.signin.signin_with_tap(username="ada", tap=tap, previous_session_token=previous)


def test_R26_session_token_has_256_bits_and_only_its_keyed_hash_is_stored(
    any_registry: Registry, ada: str
) -> None:
    token = _signin(any_registry).session.token
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32
    with any_registry.database.transaction() as session:
        [row] = session.execute(select(SessionRow)).scalars()
    assert row.id_hash == any_registry.secret_key.keyed_hash("session", token)
    assert token not in row.id_hash
    assert any_registry.signin.sessions.resolve(token) is not None


def test_R26_new_session_id_on_every_signin_and_the_previous_is_revoked(
    any_registry: Registry, ada: str
) -> None:
    first = _signin(any_registry).session.token
    second = _signin(any_registry, previous=first).session.token
    assert first != second
    assert any_registry.signin.sessions.resolve(first) is None
    assert any_registry.signin.sessions.resolve(second) is not None


def test_R26_idle_timeout_one_hour(any_registry: Registry, ada: str, clock: FixedClock) -> None:
    token = _signin(any_registry).session.token
    sessions = any_registry.signin.sessions
    clock.advance(timedelta(minutes=59))
    assert sessions.resolve(token) is not None  # activity keeps it alive
    clock.advance(timedelta(minutes=59))
    assert sessions.resolve(token) is not None
    clock.advance(timedelta(minutes=60))
    assert sessions.resolve(token) is None


def test_R26_absolute_timeout_24_hours_despite_activity(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    token = _signin(any_registry).session.token
    sessions = any_registry.signin.sessions
    for _ in range(28):  # 28 × 50 min = 23 h 20 min
        clock.advance(timedelta(minutes=50))
        assert sessions.resolve(token) is not None
    clock.advance(timedelta(minutes=40))  # 24 h after sign-in
    assert sessions.resolve(token) is None


def test_R26_signout_revokes_the_session(any_registry: Registry, ada: str) -> None:
    token = _signin(any_registry).session.token
    assert any_registry.signin.sessions.revoke(token) is True
    assert any_registry.signin.sessions.resolve(token) is None
    assert any_registry.signin.sessions.revoke(token) is False


def test_R26_disabling_the_user_ends_the_session(any_registry: Registry, ada: str) -> None:
    token = _signin(any_registry).session.token
    with any_registry.database.transaction() as session:
        session.execute(update(UserRow).where(UserRow.id == ada).values(enabled=False))
    assert any_registry.signin.sessions.resolve(token) is None


def test_R26_csrf_token_is_bound_to_the_browser(any_registry: Registry) -> None:
    sessions = any_registry.signin.sessions
    one = sessions.csrf_token(binding_token="a" * 43)
    other = sessions.csrf_token(binding_token="b" * 43)
    assert one != other
    assert len(one) == 64
    sessions.check_csrf(binding_token="a" * 43, presented=one)
