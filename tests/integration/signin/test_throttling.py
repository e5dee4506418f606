"""R8 for sign-in: failed attempts are throttled per account and per client address, in the
database (so every process sees the same counters), with growing delays."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.errors import AuthenticationFailed, Throttled
from ssar.registry import Registry
from ssar.store.tables import ThrottleRow
from ssar.throttle import ThrottlePolicy


def _fail(registry: Registry, username: str, *, ip: str = "192.0.2.1") -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        registry.signin.signin_with_tap(username=username, tap="X" * 16, ip=ip)
    assert not isinstance(caught.value, Throttled)


def test_policy_delays_double_up_to_the_cap() -> None:
    policy = ThrottlePolicy(free_failures=5)
    assert policy.delay_after(4) is None
    assert policy.delay_after(5) == timedelta(seconds=30)
    assert policy.delay_after(6) == timedelta(seconds=60)
    assert policy.delay_after(9) == timedelta(minutes=8)
    assert policy.delay_after(100) == timedelta(minutes=15)


def test_R8_account_blocked_after_five_failures_even_for_right_tap(
    any_registry: Registry, ada: str, clock: FixedClock
) -> None:
    tap = any_registry.signin.taps.issue(username="ada", actor="test").tap
    for _ in range(5):
        _fail(any_registry, "ada")
    with pytest.raises(Throttled):
        any_registry.signin.signin_with_tap(username="ada", tap=tap, ip="192.0.2.1")
    # the block also holds from another address: it is the account's
    with pytest.raises(Throttled):
        any_registry.signin.signin_with_tap(username="ada", tap=tap, ip="198.51.100.7")
    clock.advance(timedelta(seconds=31))
    result = any_registry.signin.signin_with_tap(username="ada", tap=tap, ip="192.0.2.1")
    assert result.method_type == "tap"
    # success clears the account's counter
    with any_registry.database.transaction() as session:
        keys = [r.key for r in session.execute(select(ThrottleRow)).scalars()]
    assert not any(k.startswith("signin-account:") for k in keys)


def test_R8_unknown_username_throttled_like_a_real_one(any_registry: Registry) -> None:
    for _ in range(5):
        _fail(any_registry, "nobody-here")
    with pytest.raises(Throttled):
        any_registry.signin.signin_with_tap(username="nobody-here", tap="Y" * 16, ip="192.0.2.1")


def test_R8_address_blocked_after_twenty_failures_across_accounts(
    any_registry: Registry, ada: str
) -> None:
    tap = any_registry.signin.taps.issue(username="ada", actor="test").tap
    for i in range(20):
        _fail(any_registry, f"guess{i}", ip="203.0.113.9")
    with pytest.raises(Throttled):
        any_registry.signin.signin_with_tap(username="ada", tap=tap, ip="203.0.113.9")
    # another address is not affected
    assert any_registry.signin.signin_with_tap(username="ada", tap=tap, ip="192.0.2.50")


def test_R8_concurrent_failures_are_all_counted(any_registry: Registry, ada: str) -> None:
    def attempt() -> None:
        with contextlib.suppress(AuthenticationFailed):
            any_registry.signin.signin_with_tap(username="ada", tap="Z" * 16, ip=None)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with any_registry.database.transaction() as session:
        rows = list(session.execute(select(ThrottleRow)).scalars())
    assert [r.failures for r in rows] == [4]
    assert "ada" not in rows[0].key  # keys are keyed hashes, never the username


def test_R8_throttled_page_says_to_wait(registry: Registry) -> None:
    from tests.support.users import add_user
    from tests.support.web import csrf_of, page_client

    add_user(registry, "ada")
    with page_client(registry) as client:
        for _ in range(5):
            token = csrf_of(client.get("/signin").text)
            failed = client.post(
                "/signin/tap",
                data={"username": "ada", "tap": "W" * 16, "csrf_token": token},
                headers={"accept": "text/html"},
            )
            assert failed.status_code == 401
        token = csrf_of(client.get("/signin").text)
        throttled = client.post(
            "/signin/tap",
            data={"username": "ada", "tap": "W" * 16, "csrf_token": token},
            headers={"accept": "text/html"},
        )
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.text
    assert "sign-in is paused" in throttled.text
