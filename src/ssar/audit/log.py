"""Append audit events to the hash chain and verify the chain.

Each event's hash covers the previous event's hash and the event's canonical JSON, so editing or
deleting any event breaks every hash after it. Writers lock the single ``audit_head`` row, which
gives the chain one order across processes.

``AuditLog.append`` only queues the event in the session; the events are chained and written when
the unit of work commits (a ``before_commit`` hook: lock the head, number and hash the queued
events in order, insert them, move the head), so the head's lock is held only for those inserts
and the commit, not for the whole transaction. Events queued in a savepoint that rolls back, or
in a transaction that rolls back, are dropped with it, as their rows would have been.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from ssar.store.tables import AuditEventRow, AuditHeadRow
from ssar.store.types import new_id

GENESIS = "0" * 64

#: ``Session.info`` key of the events queued in the session, with the transaction of each
_PENDING = "ssar.audit.pending"


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    event_id: str,
    at: datetime,
    type: str,
    actor: str,
    user_id: str | None,
    ip: str | None,
    data: dict[str, Any],
) -> str:
    body = {
        "seq": seq,
        "id": event_id,
        "at": at.isoformat(),
        "type": type,
        "actor": actor,
        "user_id": user_id,
        "ip": ip,
        "data": data,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class AuditLog:
    """Writes events inside the caller's unit of work (chained and inserted at its commit)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(
        self,
        type: str,
        *,
        at: datetime,
        actor: str,
        user_id: str | None = None,
        ip: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuditEventRow:
        """Queue one event; it gets its ``seq``, ``prev_hash`` and ``hash`` when the unit of work
        commits (until then those are ``None``)."""
        row = AuditEventRow(
            id=new_id(), at=at, type=type, actor=actor, user_id=user_id, ip=ip, data=data or {}
        )
        session = self._session
        transaction = session.get_nested_transaction() or session.get_transaction()
        if transaction is None:  # autobegin, as the old first statement did
            transaction = session.begin()
        pending: list[tuple[AuditEventRow, SessionTransaction]] = session.info.setdefault(
            _PENDING, []
        )
        pending.append((row, transaction))
        return row


def _write_pending(session: Session) -> None:
    """Chain and insert the queued events, last thing before the commit's flush."""
    if session.in_nested_transaction():  # a savepoint's release: its events wait for the commit
        return
    pending: list[tuple[AuditEventRow, SessionTransaction]] | None = session.info.pop(
        _PENDING, None
    )
    if not pending:
        return
    session.flush()  # the caller's own changes first: their locks are taken before the head's
    head = session.execute(
        select(AuditHeadRow.last_seq, AuditHeadRow.last_hash)
        .where(AuditHeadRow.id == 1)
        .with_for_update()
    ).one()
    seq, prev = head.last_seq, head.last_hash
    for row, _ in pending:
        seq += 1
        row.seq = seq
        row.prev_hash = prev
        row.hash = event_hash(
            prev_hash=prev,
            seq=seq,
            event_id=row.id,
            at=row.at,
            type=row.type,
            actor=row.actor,
            user_id=row.user_id,
            ip=row.ip,
            data=row.data,
        )
        prev = row.hash
    session.add_all([row for row, _ in pending])
    session.execute(
        update(AuditHeadRow).where(AuditHeadRow.id == 1).values(last_seq=seq, last_hash=prev)
    )


def _within(transaction: SessionTransaction, ended: SessionTransaction) -> bool:
    node: SessionTransaction | None = transaction
    while node is not None:
        if node is ended:
            return True
        node = node.parent
    return False


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rollback (of the whole transaction or of a savepoint) drops the events queued in it."""
    pending: list[tuple[AuditEventRow, SessionTransaction]] | None = session.info.get(_PENDING)
    if pending:
        pending[:] = [item for item in pending if not _within(item[1], previous_transaction)]
        if not pending:
            del session.info[_PENDING]


def _drop_at_end(session: Session, transaction: SessionTransaction) -> None:
    """Nothing queued outlives its transaction (a commit has written it; a close drops it)."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_soft_rollback", _drop_rolled_back)
event.listen(Session, "after_transaction_end", _drop_at_end)


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(session: Session) -> ChainVerification:
    """Walk the chain in order; report the first event whose link or hash does not hold.

    The head is read first and the walk stops at its ``last_seq``: events appended while the
    walk runs (PostgreSQL's READ COMMITTED shows them) are not mistaken for a broken tail. The
    rows are streamed in batches, not loaded all at once.
    """
    head = session.get(AuditHeadRow, 1)
    query = select(AuditEventRow).order_by(AuditEventRow.seq)
    if head is not None:
        query = query.where(AuditEventRow.seq <= head.last_seq)
    result = session.execute(query.execution_options(yield_per=1000))
    try:
        return _walk(session, result.scalars(), head)
    finally:
        result.close()  # a server-side cursor on PostgreSQL: close it on an early return


def _walk(
    session: Session, rows: Iterable[AuditEventRow], head: AuditHeadRow | None
) -> ChainVerification:
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in rows:
        if row.seq != expected_seq:
            return ChainVerification(False, count, expected_seq, "event missing")
        if row.prev_hash != prev:
            return ChainVerification(False, count, row.seq, "link to previous event broken")
        digest = event_hash(
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
        if digest != row.hash:
            return ChainVerification(False, count, row.seq, "event content changed")
        prev = row.hash
        expected_seq += 1
        count += 1
    if head is not None and (head.last_seq != count or head.last_hash != prev):
        return ChainVerification(False, count, count + 1, "events after the last one deleted")
    if head is not None:
        # an event past the head that a committed append does not account for was written
        # around the chain (the highest seq is read before the head: appends move both at once)
        highest = session.execute(select(func.max(AuditEventRow.seq))).scalar()
        latest = session.execute(
            select(AuditHeadRow.last_seq).where(AuditHeadRow.id == 1)
        ).scalar_one()
        if highest is not None and highest > latest:
            return ChainVerification(False, count, latest + 1, "event written past the head")
    return ChainVerification(True, count)
