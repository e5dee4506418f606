"""Admin REST API for the audit log (R30): filtered pages, the JSON-lines export and a chain
verification. Any admin token may read (scope ``admin`` or ``admin:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ssar.audit import query
from ssar.audit.log import verify_chain
from ssar.errors import ValidationFailed
from ssar.web.auth import AdminReader
from ssar.web.deps import RegistryDep

router = APIRouter(prefix="/api/admin", tags=["admin"])


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    code: str
    title: str
    status: int
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No bearer token, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The token's scope does not allow reading the log"},
    422: {"description": "A query parameter is malformed or out of range"},
}


class AuditEventView(BaseModel):
    seq: int = Field(description="Position on the chain, from 1; newer events have larger seq.")
    id: str
    at: datetime
    type: str = Field(description="For example signin.succeeded, tap.issued, recovery.restored.")
    actor: str = Field(description="user:<username>, token:<name>, recovery, system, …")
    user_id: str | None = Field(description="The user the event is about, if any.")
    username: str | None = Field(description="That user's current username (None if deleted).")
    ip: str | None
    data: dict[str, Any]
    prev_hash: str = Field(description="The hash of the event before it (64 zeros for the first).")
    hash: str = Field(description="SHA-256 over prev_hash and the event's canonical JSON.")

    @classmethod
    def of(cls, event: query.AuditEvent) -> AuditEventView:
        return cls(**event.record(), username=event.username)


class AuditEventsPage(BaseModel):
    events: list[AuditEventView] = Field(description="Newest first.")
    next_before_seq: int | None = Field(
        description="Pass as before_seq for the next (older) page; null on the last page."
    )


class ChainVerificationView(BaseModel):
    intact: bool
    events: int = Field(description="Events verified (before the broken one, if any).")
    first_broken_seq: int | None
    reason: str | None = Field(
        description="event missing, link to previous event broken, event content changed, "
        "events after the last one deleted, or event written past the head."
    )


TypeQuery = Annotated[
    str,
    Query(description="An exact type (tap.issued) or a family ending in '.' (recovery.)."),
]
ActorQuery = Annotated[str, Query(description="Part of the actor (case-insensitive).")]
ActorExactQuery = Annotated[bool, Query(description="Match the actor exactly instead.")]
UserQuery = Annotated[str, Query(description="A username or a user id.")]
SinceQuery = Annotated[
    datetime | None, Query(description="Events at or after this instant (UTC if no offset).")
]
UntilQuery = Annotated[
    datetime | None, Query(description="Events before this instant (UTC if no offset).")
]


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return query.as_utc(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: {exc}", field=name) from exc


def _filter(
    type: str,
    actor: str,
    actor_exact: bool,
    user: str,
    since: datetime | None,
    until: datetime | None,
) -> query.AuditFilter:
    return query.AuditFilter(
        type=type,
        actor=actor,
        actor_exact=actor_exact,
        user=user,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
    )


@router.get(
    "/audit/events",
    response_model=AuditEventsPage,
    summary="Audit events, newest first, filtered and paged by seq",
    responses=ERRORS,
)
def audit_events(
    principal: AdminReader,
    registry: RegistryDep,
    type: TypeQuery = "",
    actor: ActorQuery = "",
    actor_exact: ActorExactQuery = False,
    user: UserQuery = "",
    since: SinceQuery = None,
    until: UntilQuery = None,
    before_seq: Annotated[
        int | None,
        Query(ge=1, le=query.MAX_SEQ, description="Only events older than this seq (next page)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=query.MAX_PAGE_SIZE)] = query.PAGE_SIZE,
) -> AuditEventsPage:
    flt = _filter(type, actor, actor_exact, user, since, until)
    with registry.database.transaction() as session:
        page = query.search(session, flt, before_seq=before_seq, limit=limit)
    return AuditEventsPage(
        events=[AuditEventView.of(e) for e in page.events],
        next_before_seq=page.older_before_seq,
    )


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    summary="Export matching audit events as JSON lines, oldest first, with their hashes",
    description="The same records as `ssar audit export`: one JSON object per line with seq, "
    "id, at, type, actor, user_id, ip, data, prev_hash and hash, so an archive can recompute "
    "every hash. `since_seq` fetches only what is new since the last export.",
    responses={
        200: {
            "description": "One event per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
def audit_export(
    principal: AdminReader,
    registry: RegistryDep,
    type: TypeQuery = "",
    actor: ActorQuery = "",
    actor_exact: ActorExactQuery = False,
    user: UserQuery = "",
    since: SinceQuery = None,
    until: UntilQuery = None,
    since_seq: Annotated[
        int, Query(ge=0, le=query.MAX_SEQ, description="Only events after this seq.")
    ] = 0,
) -> StreamingResponse:
    flt = _filter(type, actor, actor_exact, user, since, until)
    return StreamingResponse(
        query.export_lines(registry.database, flt, since_seq=since_seq),
        media_type="application/x-ndjson",
        headers={"cache-control": "no-store"},
    )


@router.get(
    "/audit/verify",
    response_model=ChainVerificationView,
    summary="Verify the audit log's hash chain (like `ssar audit verify`)",
    description="Walks every event and reports the first one whose link or hash does not hold. "
    "A read: it is not itself recorded (the admin center's button records its checks).",
    responses=ERRORS,
)
def audit_verify(principal: AdminReader, registry: RegistryDep) -> ChainVerificationView:
    with registry.database.transaction() as session:
        result = verify_chain(session)
    return ChainVerificationView(
        intact=result.intact,
        events=result.events,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
    )
