"""Throttling of failed attempts, shared by every process through the database (R8; NIST SP
800-63B §3.2.2).

Each key (an account, a client address) counts consecutive failures. From ``free_failures`` on,
every further failure blocks the key for a delay that doubles each time, up to ``max_delay``;
a success on an account key clears it. Keys are keyed hashes, so the table holds no usernames
or addresses, and an unknown username is throttled exactly like a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ssar.keys import SecretKey
from ssar.store.tables import ThrottleRow


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)
    #: a key with no failure for this long starts again from zero
    forget_after: timedelta = timedelta(hours=24)

    def delay_after(self, failures: int) -> timedelta | None:
        if failures < self.free_failures:
            return None
        doublings = min(failures - self.free_failures, 20)
        return min(self.base_delay * (1 << doublings), self.max_delay)


@dataclass(frozen=True)
class ThrottleState:
    blocked: bool
    retry_after: timedelta | None = None
    #: the keys that have a row (a failure on record), blocked or not
    present: frozenset[str] = frozenset()


class Throttle:
    """Counters for one purpose (e.g. ``signin``) under one policy."""

    def __init__(self, *, purpose: str, secret_key: SecretKey, policy: ThrottlePolicy) -> None:
        self._purpose = purpose
        self._key = secret_key
        self._policy = policy

    def key(self, kind: str, value: str) -> str:
        digest = self._key.keyed_hash("throttle", f"{self._purpose}\0{kind}\0{value}")
        return f"{self._purpose}:{kind}:{digest[:48]}"

    def check(self, session: Session, keys: list[str], *, now: datetime) -> ThrottleState:
        """Whether any of the keys is blocked right now, and which of them have a row."""
        if not keys:
            return ThrottleState(blocked=False)
        rows = session.execute(
            select(ThrottleRow.key, ThrottleRow.blocked_until).where(ThrottleRow.key.in_(keys))
        ).all()
        present = frozenset(row.key for row in rows)
        waits = [
            row.blocked_until - now
            for row in rows
            if row.blocked_until is not None and row.blocked_until > now
        ]
        if not waits:
            return ThrottleState(blocked=False, present=present)
        return ThrottleState(blocked=True, retry_after=max(waits), present=present)

    def record_failure(self, session: Session, keys: list[str], *, now: datetime) -> None:
        """Count one failure under each key. The increment is one UPDATE, so concurrent
        failures from several processes are all counted."""
        for key in keys:
            row = session.get(ThrottleRow, key, with_for_update=True)
            if row is not None and now - row.last_failure_at > self._policy.forget_after:
                session.execute(delete(ThrottleRow).where(ThrottleRow.key == key))
                session.flush()
                row = None
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(
                            ThrottleRow(
                                key=key,
                                failures=1,
                                first_failure_at=now,
                                last_failure_at=now,
                                blocked_until=self._blocked_until(1, now),
                            )
                        )
                    continue
                except IntegrityError:  # another process inserted it first: count on theirs
                    pass
            session.execute(
                update(ThrottleRow)
                .where(ThrottleRow.key == key)
                .values(failures=ThrottleRow.failures + 1, last_failure_at=now)
            )
            failures = session.execute(
                select(ThrottleRow.failures).where(ThrottleRow.key == key)
            ).scalar_one()
            session.execute(
                update(ThrottleRow)
                .where(ThrottleRow.key == key)
                .values(blocked_until=self._blocked_until(failures, now))
            )

    def clear(self, session: Session, keys: list[str]) -> None:
        if keys:
            session.execute(delete(ThrottleRow).where(ThrottleRow.key.in_(keys)))

    def _blocked_until(self, failures: int, now: datetime) -> datetime | None:
        delay = self._policy.delay_after(failures)
        return None if delay is None else now + delay
