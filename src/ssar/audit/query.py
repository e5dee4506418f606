"""Reading the audit log: filters, keyset pages (newest first), JSON-lines export, the event
types for a filter's choices, and a recorded chain verification.

Every query is bounded: pages walk the primary key (``seq``) downwards with a ``LIMIT``, the
export walks it upwards in batches (each batch its own short transaction, so a slow download
holds no transaction open), and the distinct types come from a skip scan over the ``type``
index — nothing loads the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, text
from sqlalchemy.orm import Session

from ssar.audit.log import GENESIS, AuditLog, ChainVerification, event_hash, verify_chain
from ssar.clock import Clock
from ssar.directory.names import username_key
from ssar.store.db import Database
from ssar.store.tables import AuditEventRow, AuditHeadRow, UserRow

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_BATCH = 500
VERIFIED = "audit.verified"
#: the largest seq a database integer holds; larger bounds from a URL are clamped to it
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; an empty field does not filter.

    ``type``: an exact type (``tap.issued``) or a prefix ending in ``.`` or ``.*``
    (``recovery.``); ``actor``: a case-insensitive part of the actor, or the whole actor when
    ``actor_exact``; ``user``: a username or a user id (ids of deleted users still match);
    ``since`` ≤ ``at`` < ``until``.
    """

    type: str = ""
    actor: str = ""
    actor_exact: bool = False
    user: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.type or self.actor or self.user or self.since or self.until)

    @property
    def type_prefix(self) -> str | None:
        """The prefix when ``type`` names a family (``recovery.`` or ``recovery.*``)."""
        value = self.type.strip()
        if value.endswith("*"):
            value = value[:-1]
        return value if value.endswith(".") else None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    id: str
    at: datetime
    type: str
    actor: str
    user_id: str | None
    ip: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    #: the user's current username (None when there is no user or it was deleted)
    username: str | None = None

    @property
    def summary(self) -> str:
        return summarise(self.data)

    def record(self) -> dict[str, Any]:
        """The export shape (``ssar audit export``): every hashed field plus both hashes."""
        return {
            "seq": self.seq,
            "id": self.id,
            "at": self.at.isoformat(),
            "type": self.type,
            "actor": self.actor,
            "user_id": self.user_id,
            "ip": self.ip,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditPage:
    events: tuple[AuditEvent, ...]
    #: pass as ``after_seq`` for the newer events; None when there are none
    newer_after_seq: int | None
    #: pass as ``before_seq`` for the older events; None when there are none
    older_before_seq: int | None


@dataclass(frozen=True)
class ChainStatus:
    """What the status panel shows without walking the chain: the head and the last check."""

    events: int
    last_hash: str
    last_check: AuditEvent | None


def _event(row: AuditEventRow, usernames: dict[str, str] | None = None) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        id=row.id,
        at=row.at,
        type=row.type,
        actor=row.actor,
        user_id=row.user_id,
        ip=row.ip,
        data=dict(row.data or {}),
        prev_hash=row.prev_hash,
        hash=row.hash,
        username=(usernames or {}).get(row.user_id) if row.user_id else None,
    )


def _conditions(session: Session, flt: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    kind = flt.type.strip()
    if kind:
        prefix = flt.type_prefix
        if prefix is not None:
            where.append(AuditEventRow.type.startswith(prefix, autoescape=True))
        else:
            where.append(AuditEventRow.type == kind)
    actor = flt.actor.strip()
    if actor:
        if flt.actor_exact:
            where.append(AuditEventRow.actor == actor)
        else:
            where.append(func.lower(AuditEventRow.actor).contains(actor.lower(), autoescape=True))
    user = flt.user.strip()
    if user:
        where.append(AuditEventRow.user_id.in_(_user_ids(session, user)))
    if flt.since is not None:
        where.append(AuditEventRow.at >= flt.since)
    if flt.until is not None:
        where.append(AuditEventRow.at < flt.until)
    return where


def _user_ids(session: Session, user: str) -> list[str]:
    """The ids a user filter matches: the value itself (an id, maybe of a deleted user) and the
    id of the user whose username it is."""
    ids = [user]
    key = username_key(user)
    if key:
        found = session.execute(select(UserRow.id).where(UserRow.username_key == key)).scalar()
        if found is not None:
            ids.append(found)
    return ids


def _usernames(session: Session, user_ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({u for u in user_ids if u})
    if not wanted:
        return {}
    rows = session.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(wanted)))
    return {user_id: username for user_id, username in rows.all()}


def search(
    session: Session,
    flt: AuditFilter,
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page of matching events, newest first: older than ``before_seq``, or (for the
    "newer" link) the ``limit`` events just newer than ``after_seq``."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    before_seq = None if before_seq is None else max(0, min(before_seq, MAX_SEQ))
    after_seq = None if after_seq is None else max(0, min(after_seq, MAX_SEQ))
    where = _conditions(session, flt)
    query = select(AuditEventRow).where(*where)
    if after_seq is not None:
        rows = list(
            session.execute(
                query.where(AuditEventRow.seq > after_seq)
                .order_by(AuditEventRow.seq.asc())
                .limit(limit + 1)
            ).scalars()
        )
        newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        older = bool(rows) and _any(session, where, AuditEventRow.seq < rows[-1].seq)
        if not rows:
            older = _any(session, where, AuditEventRow.seq <= after_seq)
    else:
        if before_seq is not None:
            query = query.where(AuditEventRow.seq < before_seq)
        rows = list(
            session.execute(query.order_by(AuditEventRow.seq.desc()).limit(limit + 1)).scalars()
        )
        older = len(rows) > limit
        rows = rows[:limit]
        newer = before_seq is not None and _any(
            session, where, AuditEventRow.seq >= (rows[0].seq + 1 if rows else before_seq)
        )
    usernames = _usernames(session, (r.user_id for r in rows))
    events = tuple(_event(r, usernames) for r in rows)
    if events:
        newer_after = events[0].seq if newer else None
        older_before = events[-1].seq if older else None
    else:  # past either end: link back to whatever is on the other side
        newer_after = (before_seq - 1) if newer and before_seq is not None else None
        older_before = (after_seq + 1) if older and after_seq is not None else None
    return AuditPage(events=events, newer_after_seq=newer_after, older_before_seq=older_before)


def _any(session: Session, where: list[ColumnElement[bool]], bound: ColumnElement[bool]) -> bool:
    return bool(session.execute(select(exists().where(and_(*where, bound)))).scalar())


def get_event(session: Session, seq: int) -> AuditEvent | None:
    if not 1 <= seq <= MAX_SEQ:
        return None
    row = session.get(AuditEventRow, seq)
    if row is None:
        return None
    return _event(row, _usernames(session, [row.user_id]))


def export_records(
    database: Database, flt: AuditFilter, *, since_seq: int = 0, batch: int = EXPORT_BATCH
) -> Iterator[dict[str, Any]]:
    """Every matching event after ``since_seq``, oldest first, in the export shape. Each batch is
    read in its own transaction, so a consumer may take its time between batches."""
    last = max(0, min(since_seq, MAX_SEQ))
    while True:
        with database.transaction() as session:
            rows = session.execute(
                select(AuditEventRow)
                .where(*_conditions(session, flt), AuditEventRow.seq > last)
                .order_by(AuditEventRow.seq.asc())
                .limit(batch)
            ).scalars()
            records = [_event(row).record() for row in rows]
        yield from records
        if len(records) < batch:
            return
        last = records[-1]["seq"]


def export_lines(
    database: Database, flt: AuditFilter, *, since_seq: int = 0, batch: int = EXPORT_BATCH
) -> Iterator[str]:
    """The export as JSON lines (one event per line, ``\\n``-terminated)."""
    for record in export_records(database, flt, since_seq=since_seq, batch=batch):
        yield json.dumps(record, ensure_ascii=False) + "\n"


# a skip scan: each step is one probe of the ``type`` index for the next larger type
_DISTINCT_TYPES = text(
    """
    WITH RECURSIVE types(type) AS (
        SELECT MIN(type) FROM audit_events
        UNION ALL
        SELECT (SELECT MIN(e.type) FROM audit_events e WHERE e.type > types.type)
        FROM types WHERE types.type IS NOT NULL
    )
    SELECT type FROM types WHERE type IS NOT NULL
    """
)


def event_types(session: Session) -> list[str]:
    """The distinct event types in the log, sorted."""
    return sorted(str(t) for t in session.execute(_DISTINCT_TYPES).scalars())


def type_choices(types: Iterable[str]) -> list[tuple[str, str]]:
    """(value, label) for a type filter: each family (``recovery.``) then its types."""
    choices: list[tuple[str, str]] = []
    seen: set[str] = set()
    for kind in sorted(types):
        family, dot, _ = kind.partition(".")
        if dot and family + "." not in seen:
            seen.add(family + ".")
            choices.append((family + ".", f"{family}.* (all)"))
        choices.append((kind, kind))
    return choices


def summarise(data: dict[str, Any], *, width: int = 110) -> str:
    """A one-line digest of an event's data for tables: ``key: value`` pairs, ids left out,
    cut at ``width`` characters."""
    parts: list[str] = []
    for key, value in data.items():
        if key.endswith("_id") or key == "id":
            continue
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif value is None:
            continue
        elif isinstance(value, str):
            shown = _short_time(value)
        elif isinstance(value, int | float):
            shown = str(value)
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value[:5]) + (" …" if len(value) > 5 else "")
        else:
            shown = json.dumps(value, ensure_ascii=False, sort_keys=True)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    line = "; ".join(parts)
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _short_time(value: str) -> str:
    """An ISO date-time as ``YYYY-MM-DD HH:MM`` (UTC); any other text as it is."""
    if len(value) < 19 or value[10] != "T":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def chain_status(session: Session) -> ChainStatus:
    """The head (how many events, the last hash) and the most recent recorded verification."""
    head = session.get(AuditHeadRow, 1)
    last = session.execute(
        select(AuditEventRow)
        .where(AuditEventRow.type == VERIFIED)
        .order_by(AuditEventRow.seq.desc())
        .limit(1)
    ).scalar()
    return ChainStatus(
        events=head.last_seq if head else 0,
        last_hash=head.last_hash if head else "",
        last_check=_event(last) if last is not None else None,
    )


def verify_and_record(
    database: Database, *, clock: Clock, actor: str, ip: str | None = None
) -> ChainVerification:
    """Walk the chain, then append ``audit.verified`` with who asked and what was found (the
    check is part of the record: a broken chain reported to an admin stays on file)."""
    with database.transaction() as session:
        result = verify_chain(session)
    with database.transaction() as session:
        AuditLog(session).append(
            VERIFIED,
            at=clock.now(),
            actor=actor,
            ip=ip,
            data={
                "intact": result.intact,
                "events": result.events,
                "first_broken_seq": result.first_broken_seq,
                "reason": result.reason,
            },
        )
    return result


@dataclass(frozen=True)
class EventCheck:
    """One event on its own: does its hash cover its content, and does it link to the one
    before it? (The whole chain, with deletions, is ``verify_chain``'s job.)"""

    content_intact: bool
    link_intact: bool | None  # None for the first event after a gap: nothing to compare with


def check_event(session: Session, event: AuditEvent) -> EventCheck:
    digest = event_hash(
        prev_hash=event.prev_hash,
        seq=event.seq,
        event_id=event.id,
        at=event.at,
        type=event.type,
        actor=event.actor,
        user_id=event.user_id,
        ip=event.ip,
        data=event.data,
    )
    if event.seq == 1:
        link: bool | None = event.prev_hash == GENESIS
    else:
        before = session.execute(
            select(AuditEventRow.hash).where(AuditEventRow.seq == event.seq - 1)
        ).scalar()
        link = None if before is None else before == event.prev_hash
    return EventCheck(content_intact=digest == event.hash, link_intact=link)


def parse_day(value: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` (a date input) or an ISO date-time as an aware UTC instant; with
    ``end`` a bare date means the end of that day (the next midnight), so ``until`` includes
    it. Raises ValueError for anything else; an empty value is None."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 10:
        day = date.fromisoformat(value)
        start = datetime.combine(day, time.min, tzinfo=UTC)
        if not end:
            return start
        try:
            return start + timedelta(days=1)
        except OverflowError as exc:
            raise ValueError("the date is out of range") from exc
    return as_utc(datetime.fromisoformat(value))


def as_utc(moment: datetime) -> datetime:
    """An aware UTC instant (a naive one is taken as UTC); ValueError past the calendar's
    ends (0001-01-01T00:00+01:00 has no UTC date)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the date is out of range") from exc


#: badge tones for event types: exact types first, then by the last word, then by family
_TONE_EXACT = {"signin.failed": "danger", "audit.verified": "info"}
_TONE_SUFFIX = {
    "failed": "danger",
    "disputed": "danger",
    "throttled": "danger",
    "evidence_reused": "danger",
    "account_not_matched": "danger",
    "revoked": "warn",
    "removed": "warn",
    "deleted": "warn",
    "expired": "muted",
    "cancelled": "muted",
    "succeeded": "success",
    "restored": "success",
    "completed": "success",
    "passed": "success",
    "account_matched": "success",
    "added": "success",
    "granted": "success",
}
_TONE_FAMILY = {"tap": "warn", "admin": "info", "profile": "info", "tap_policy": "info"}


def tone(kind: str) -> str:
    """success | danger | warn | info | muted for an event type's badge."""
    if kind in _TONE_EXACT:
        return _TONE_EXACT[kind]
    family, _, rest = kind.partition(".")
    for suffix, value in _TONE_SUFFIX.items():
        if rest == suffix or rest.endswith("_" + suffix):
            return value
    return _TONE_FAMILY.get(family, "muted")
