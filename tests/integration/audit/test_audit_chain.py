"""R30: audit events are append-only and hash-chained; `ssar audit verify` finds any edit or
deletion, on both databases."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ssar.audit.log import AuditLog, ChainVerification, verify_chain
from ssar.cli.main import app
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow


def _write_events(registry: Registry, n: int) -> None:
    for i in range(n):
        with registry.database.transaction() as session:
            AuditLog(session).append(
                "test.event",
                at=registry.clock.now() + timedelta(seconds=i),
                actor="test",
                data={"i": i, "name": "Zoë"},
            )


def _verify_cli(registry: Registry, tmp_path: Path) -> tuple[int, dict[str, object]]:
    env = {
        "SSAR_DATABASE_URL": registry.settings.database_url,
        "SSAR_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(app, ["audit", "verify", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def test_R30_intact_chain_verifies(any_registry: Registry, tmp_path: Path) -> None:
    _write_events(any_registry, 5)
    code, report = _verify_cli(any_registry, tmp_path)
    assert code == 0
    assert report == {"intact": True, "events": 5, "first_broken_seq": None, "reason": None}


def test_R30_edited_event_detected(any_registry: Registry, tmp_path: Path) -> None:
    _write_events(any_registry, 5)
    with any_registry.database.transaction() as session:
        session.execute(update(AuditEventRow).where(AuditEventRow.seq == 3).values(data={"i": 99}))
    code, report = _verify_cli(any_registry, tmp_path)
    assert code == 1
    assert report["first_broken_seq"] == 3
    assert report["reason"] == "event content changed"


def test_R30_deleted_event_detected(any_registry: Registry, tmp_path: Path) -> None:
    _write_events(any_registry, 5)
    with any_registry.database.transaction() as session:
        session.execute(delete(AuditEventRow).where(AuditEventRow.seq == 2))
    code, report = _verify_cli(any_registry, tmp_path)
    assert code == 1
    assert report["first_broken_seq"] == 2


def test_R30_deleted_last_event_detected(any_registry: Registry) -> None:
    _write_events(any_registry, 3)
    with any_registry.database.transaction() as session:
        session.execute(delete(AuditEventRow).where(AuditEventRow.seq == 3))
    with any_registry.database.transaction() as session:
        result = verify_chain(session)
    assert not result.intact
    assert result.reason == "events after the last one deleted"


def test_R30_rewritten_chain_with_recomputed_hash_detected(any_registry: Registry) -> None:
    """An attacker who edits an event and recomputes its hash still breaks the next link."""
    _write_events(any_registry, 4)
    from ssar.audit.log import event_hash

    with any_registry.database.transaction() as session:
        row = session.get(AuditEventRow, 2)
        assert row is not None
        row.data = {"i": 1, "name": "Mallory"}
        row.hash = event_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            event_id=row.id,
            at=row.at,
            type=row.type,
            actor=row.actor,
            user_id=row.user_id,
            ip=row.ip,
            data=row.data,
        )
    with any_registry.database.transaction() as session:
        result = verify_chain(session)
    assert not result.intact
    assert result.first_broken_seq == 3


def test_R30_event_written_past_the_head_detected(any_registry: Registry) -> None:
    """An event inserted around the appender (the head not moved) does not pass unnoticed."""
    from ssar.audit.log import event_hash
    from ssar.store.types import new_id

    _write_events(any_registry, 3)
    with any_registry.database.transaction() as session:
        last = session.get(AuditEventRow, 3)
        assert last is not None
        at = last.at + timedelta(seconds=1)
        event_id = new_id()
        fields = {"at": at, "type": "test.event", "actor": "mallory", "user_id": None, "ip": None}
        digest = event_hash(prev_hash=last.hash, seq=4, event_id=event_id, data={}, **fields)
        session.add(
            AuditEventRow(seq=4, id=event_id, data={}, prev_hash=last.hash, hash=digest, **fields)
        )
    with any_registry.database.transaction() as session:
        result = verify_chain(session)
    assert not result.intact
    assert (result.first_broken_seq, result.reason) == (4, "event written past the head")


@pytest.mark.parametrize("moment", ["before_cursor_execute", "after_cursor_execute"])
def test_R30_events_appended_during_a_check_are_not_a_broken_tail(
    any_registry: Registry, moment: str
) -> None:
    """Appends that commit while the walk runs (PostgreSQL's READ COMMITTED shows them) are
    neither checked nor mistaken for a deleted tail."""
    from sqlalchemy import event

    engine = any_registry.database.engine
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite transactions run one at a time (BEGIN IMMEDIATE): no such race")
    _write_events(any_registry, 3)
    appended: list[int] = []

    def append_once(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not appended and "FROM audit_events" in statement and "ORDER BY" in statement:
            appended.append(1)
            _write_events(any_registry, 2)

    event.listen(engine, moment, append_once)
    try:
        with any_registry.database.transaction() as session:
            result = verify_chain(session)
    finally:
        event.remove(engine, moment, append_once)
    assert appended
    assert result.intact, result
    assert result.events == 3
    with any_registry.database.transaction() as session:
        assert verify_chain(session).events == 5


def test_R30_events_are_chained_at_commit_in_append_order(any_registry: Registry) -> None:
    """Appends are queued and chained when the unit of work commits (the head is locked only
    then); several in one transaction keep their order and link up."""
    _write_events(any_registry, 2)
    with any_registry.database.transaction() as session:
        log = AuditLog(session)
        first = log.append("test.first", at=any_registry.clock.now(), actor="test")
        second = log.append("test.second", at=any_registry.clock.now(), actor="test")
        assert first.seq is None  # not numbered before the commit
    assert (first.seq, second.seq) == (3, 4)
    assert second.prev_hash == first.hash
    with any_registry.database.transaction() as session:
        assert verify_chain(session) == ChainVerification(True, 4)


def test_R30_events_of_a_rolled_back_savepoint_or_transaction_are_not_written(
    any_registry: Registry,
) -> None:
    _write_events(any_registry, 1)

    def fail_in_savepoint(session: Session, log: AuditLog) -> None:
        with session.begin_nested():
            log.append("test.dropped", at=any_registry.clock.now(), actor="test")
            raise RuntimeError

    def fail_transaction() -> None:
        with any_registry.database.transaction() as session:
            AuditLog(session).append("test.rolled_back", at=any_registry.clock.now(), actor="t")
            raise RuntimeError

    with any_registry.database.transaction() as session:
        log = AuditLog(session)
        log.append("test.kept", at=any_registry.clock.now(), actor="test")
        with pytest.raises(RuntimeError):
            fail_in_savepoint(session, log)
        with session.begin_nested():
            log.append("test.released", at=any_registry.clock.now(), actor="test")
    with pytest.raises(RuntimeError):
        fail_transaction()
    with any_registry.database.transaction() as session:
        types = list(
            session.execute(select(AuditEventRow.type).order_by(AuditEventRow.seq)).scalars()
        )
        assert verify_chain(session) == ChainVerification(True, 3)
    assert types == ["test.event", "test.kept", "test.released"]


def test_R30_concurrent_transactions_each_write_their_events_once(
    any_registry: Registry,
) -> None:
    """Transactions in threads append and commit at once; the chain stays whole and gapless."""
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> None:
        with any_registry.database.transaction() as session:
            log = AuditLog(session)
            log.append("test.a", at=any_registry.clock.now(), actor=f"t{i}")
            log.append("test.b", at=any_registry.clock.now(), actor=f"t{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(40)))
    with any_registry.database.transaction() as session:
        assert verify_chain(session) == ChainVerification(True, 80)
        rows = session.execute(
            select(AuditEventRow.actor, AuditEventRow.type).order_by(AuditEventRow.seq)
        ).all()
    # each transaction's two events are adjacent and in order: one transaction, one write
    for a, b in zip(rows[::2], rows[1::2], strict=True):
        assert (a.actor, a.type, b.actor, b.type) == (a.actor, "test.a", a.actor, "test.b")
