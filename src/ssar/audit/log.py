"""Append audit events to the hash chain and verify the chain.

Each event's hash covers the previous event's hash and the event's canonical JSON, so editing or
deleting any event breaks every hash after it. Appenders lock the single ``audit_head`` row, which
gives the chain one order across processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ssar.store.tables import AuditEventRow, AuditHeadRow
from ssar.store.types import new_id

GENESIS = "0" * 64


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
    """Writes events inside the caller's unit of work."""

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
        head = self._session.execute(
            select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
        ).scalar_one()
        seq = head.last_seq + 1
        event_id = new_id()
        payload = data or {}
        digest = event_hash(
            prev_hash=head.last_hash,
            seq=seq,
            event_id=event_id,
            at=at,
            type=type,
            actor=actor,
            user_id=user_id,
            ip=ip,
            data=payload,
        )
        row = AuditEventRow(
            seq=seq,
            id=event_id,
            at=at,
            type=type,
            actor=actor,
            user_id=user_id,
            ip=ip,
            data=payload,
            prev_hash=head.last_hash,
            hash=digest,
        )
        self._session.add(row)
        self._session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(last_seq=seq, last_hash=digest)
        )
        return row


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
