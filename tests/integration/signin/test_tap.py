"""Temporary Access Passes against a real database (R25)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.config import TapPolicy
from ssar.errors import AuthenticationFailed, ConfigurationError, NotFound, ValidationFailed
from ssar.registry import Registry
from ssar.signin.tap import hash_tap
from ssar.store.tables import AuditEventRow, AuthMethodRow
from tests.conftest import make_settings
from tests.support.users import add_user


def _tap_rows(registry: Registry, user_id: str) -> list[AuthMethodRow]:
    with registry.database.transaction() as session:
        return list(
            session.execute(
                select(AuthMethodRow)
                .where(AuthMethodRow.user_id == user_id, AuthMethodRow.type == "tap")
                .order_by(AuthMethodRow.created_at, AuthMethodRow.id)
            ).scalars()
        )


def _audit(registry: Registry, type_: str) -> list[AuditEventRow]:
    with registry.database.transaction() as session:
        return list(
            session.execute(select(AuditEventRow).where(AuditEventRow.type == type_)).scalars()
        )


def test_R25_issued_tap_is_stored_only_as_keyed_hash(any_registry: Registry, ada: str) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test")
    [row] = _tap_rows(any_registry, ada)
    assert row.secret_hash == any_registry.secret_key.keyed_hash("tap", issued.tap)
    stored = [str(getattr(row, c.key)) for c in AuthMethodRow.__table__.columns]
    assert not any(issued.tap in value for value in stored)
    [event] = _audit(any_registry, "tap.issued")
    assert issued.tap not in str(event.data)
    assert event.data["one_time"] is True


def test_R25_default_lifetime_is_60_minutes_and_one_time(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    issued = any_registry.signin.taps.issue(username="ADA", actor="test")
    assert issued.expires_at == clock.now() + timedelta(minutes=60)
    assert issued.one_time is True
    assert len(issued.tap) == 16


@pytest.mark.parametrize("minutes", [9, 8 * 60 + 1])
def test_R25_lifetime_outside_policy_bounds_is_refused(
    any_registry: Registry, ada: str, minutes: int
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        any_registry.signin.taps.issue(username="ada", actor="test", lifetime_minutes=minutes)
    assert "between 10 and 480 minutes" in caught.value.detail
    assert _tap_rows(any_registry, ada) == []


def test_R25_lifetime_up_to_30_days_when_the_policy_allows(
    registry: Registry, tmp_path: Path, clock: FixedClock
) -> None:
    policy = TapPolicy(max_lifetime_minutes=30 * 24 * 60)
    reg = Registry(make_settings(registry.settings.database_url, tmp_path, tap=policy), clock=clock)
    add_user(reg, "ada")
    issued = reg.signin.taps.issue(username="ada", actor="test", lifetime_minutes=30 * 24 * 60)
    assert issued.expires_at == clock.now() + timedelta(days=30)
    with pytest.raises(ValueError):
        TapPolicy(max_lifetime_minutes=30 * 24 * 60 + 1)
    reg.close()


def test_R25_configured_length_below_64_bits_is_refused(
    registry: Registry, tmp_path: Path, clock: FixedClock
) -> None:
    reg = Registry(
        make_settings(registry.settings.database_url, tmp_path, tap=TapPolicy(length=10)),
        clock=clock,
    )
    add_user(reg, "ada")
    with pytest.raises(ConfigurationError) as caught:
        reg.signin.taps.issue(username="ada", actor="test")
    assert "at least 11 characters" in caught.value.detail
    with pytest.raises(ValidationFailed):
        reg.signin.taps.issue(username="ada", actor="test", length=8)
    assert len(reg.signin.taps.issue(username="ada", actor="test", length=11).tap) == 11
    reg.close()


def test_R25_one_active_tap_per_user(any_registry: Registry, ada: str) -> None:
    first = any_registry.signin.taps.issue(username="ada", actor="test")
    second = any_registry.signin.taps.issue(username="ada", actor="test")
    by_hash = {row.secret_hash: row for row in _tap_rows(any_registry, ada)}
    old = by_hash[any_registry.secret_key.keyed_hash("tap", first.tap)]
    new = by_hash[any_registry.secret_key.keyed_hash("tap", second.tap)]
    assert old.revoked_at is not None
    assert old.revoked_reason == "replaced"
    assert new.revoked_at is None
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_tap(username="ada", tap=first.tap)
    result = any_registry.signin.signin_with_tap(username="ada", tap=second.tap)
    assert result.session.info.user_id == ada


def test_R25_expired_tap_is_refused(any_registry: Registry, ada: str, clock: FixedClock) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test", lifetime_minutes=10)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)


def test_R25_one_time_tap_works_once(any_registry: Registry, ada: str) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test")
    result = any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)
    assert result.must_register_passkey is True
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)
    [row] = _tap_rows(any_registry, ada)
    assert row.used_at is not None
    assert len(_audit(any_registry, "tap.redeemed")) == 1
    assert len(_audit(any_registry, "signin.failed")) == 1


def test_R25_reusable_tap_works_until_expiry(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test", one_time=False)
    assert issued.one_time is False
    for _ in range(3):
        any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)
        clock.advance(timedelta(minutes=15))
    [row] = _tap_rows(any_registry, ada)
    assert row.used_at is None
    assert row.last_used_at == clock.now() - timedelta(minutes=15)
    clock.advance(timedelta(minutes=15))  # 60 minutes after issue
    with pytest.raises(AuthenticationFailed):
        any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)


def test_R25_failures_are_uniform(any_registry: Registry, ada: str) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test")
    add_user(any_registry, "bob", enabled=False)
    any_registry.signin.taps.issue(username="bob", actor="test")
    attempts = [
        ("ada", issued.tap[:-1] + ("x" if issued.tap[-1] != "x" else "y")),
        ("nobody", issued.tap),
        ("bob", issued.tap),
    ]
    errors = []
    for username, tap in attempts:
        with pytest.raises(AuthenticationFailed) as caught:
            any_registry.signin.signin_with_tap(username=username, tap=tap)
        errors.append((type(caught.value), caught.value.code, caught.value.title))
    assert len(set(errors)) == 1


def test_R25_tap_for_unknown_user_is_not_found(any_registry: Registry) -> None:
    with pytest.raises(NotFound):
        any_registry.signin.taps.issue(username="ghost", actor="test")


def test_R25_concurrent_redemption_exactly_one_succeeds(any_registry: Registry, ada: str) -> None:
    issued = any_registry.signin.taps.issue(username="ada", actor="test")
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem() -> None:
        barrier.wait()
        try:
            any_registry.signin.signin_with_tap(username="ada", tap=issued.tap)
            outcome = "ok"
        except AuthenticationFailed:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=redeem) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 9
    assert len(_audit(any_registry, "tap.redeemed")) == 1


def test_R25_concurrent_issues_leave_exactly_one_active_tap(
    any_registry: Registry, ada: str
) -> None:
    barrier = threading.Barrier(6)
    issued: list[str] = []

    def issue() -> None:
        barrier.wait()
        issued.append(any_registry.signin.taps.issue(username="ada", actor="test").tap)

    threads = [threading.Thread(target=issue) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(issued) == 6
    active = [r for r in _tap_rows(any_registry, ada) if r.revoked_at is None]
    assert len(active) == 1
    # and it is the pass one of the callers holds
    holders = [t for t in issued if hash_tap(any_registry.secret_key, t) == active[0].secret_hash]
    assert len(holders) == 1
    result = any_registry.signin.signin_with_tap(username="ada", tap=holders[0], ip=None)
    assert result.method_type == "tap"
