"""The issuer's IETF Token Status Lists: an entry for every issued credential (allocated at
random, so neighbouring indexes say nothing about who was verified when), revoke/suspend/
reinstate, and the signed Status List Token (``typ`` ``statuslist+jwt``) for ``/idv/status/{id}``.

Status values (2 bits per entry): 0 valid, 1 revoked (final), 2 suspended (reversible).
Every change is one unit of work in the database, so any process publishes the same list.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.credentials.jose import b64url_encode
from ssar.credentials.statuslist import INVALID, STATUSLIST_TYP, SUSPENDED, VALID
from ssar.errors import Conflict, NotFound, ValidationFailed
from ssar.idv.issuer import sign_jwt
from ssar.keys import SigningKey
from ssar.store.db import Database
from ssar.store.tables import IdvCredentialRow, IdvStatusListRow

BITS = 2
#: entries per list; a list is used until half full, so a random free index is found at once
LIST_SIZE = 1 << 16
DEFAULT_TTL = timedelta(minutes=5)
DEFAULT_TOKEN_LIFETIME = timedelta(hours=12)
_ALLOCATION_TRIES = 32
STATUS_NAMES = {VALID: "valid", INVALID: "revoked", SUSPENDED: "suspended"}


@dataclass(frozen=True)
class StatusReference:
    """Where a credential's status lives: its ``status`` claim is ``to_claim()``."""

    list_id: str
    index: int
    uri: str

    def to_claim(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.index, "uri": self.uri}}


@dataclass(frozen=True)
class CredentialStatus:
    credential_id: str
    status: str  # valid | revoked | suspended
    list_id: str
    index: int
    changed_at: datetime | None


def encode_status_list(entries: dict[int, int], *, size: int, bits: int = BITS) -> dict[str, Any]:
    """The ``status_list`` claim for ``entries`` (index → status; absent means 0): entry ``i``
    occupies bits ``i*bits`` upward, least significant first, the bytes zlib-compressed."""
    data = bytearray(size * bits // 8)
    mask = (1 << bits) - 1
    for index, status in entries.items():
        if not 0 <= index < size or not 0 <= status <= mask:
            raise ValueError(f"status {status} at {index} does not fit the list")
        bit = index * bits
        data[bit >> 3] |= status << (bit & 7)
    return {"bits": bits, "lst": b64url_encode(zlib.compress(bytes(data), 9))}


class StatusListService:
    """Allocates, changes and publishes status list entries for one issuer."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        key: SigningKey,
        issuer: str,
        list_size: int = LIST_SIZE,
        ttl: timedelta = DEFAULT_TTL,
        token_lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        if list_size <= 0 or list_size * BITS % 8:
            raise ValueError("list_size must fill whole bytes")
        self.database = database
        self.clock = clock
        self.key = key
        self.issuer = issuer.rstrip("/")
        self.list_size = list_size
        self.ttl = ttl
        self.token_lifetime = token_lifetime

    def uri(self, list_id: str) -> str:
        return f"{self.issuer}/status/{list_id}"

    # --- allocation (inside the caller's unit of work) -------------------------------------

    def _current_list(self, session: Session, now: datetime) -> IdvStatusListRow:
        # the oldest list that is less than half full (the unique index counts for us)
        current = session.execute(
            select(IdvStatusListRow)
            .outerjoin(IdvCredentialRow, IdvCredentialRow.status_list_id == IdvStatusListRow.id)
            .group_by(IdvStatusListRow.id)
            .having(func.count(IdvCredentialRow.id) * 2 < IdvStatusListRow.size)
            .order_by(IdvStatusListRow.created_at, IdvStatusListRow.id)
            .limit(1)
        ).scalar_one_or_none()
        if current is not None:
            return current
        fresh = IdvStatusListRow(
            id=secrets.token_urlsafe(12), bits=BITS, size=self.list_size, created_at=now
        )
        session.add(fresh)
        session.flush()
        return fresh

    def allocate(
        self,
        session: Session,
        *,
        credential_id: str,
        offer_id: str | None,
        vct: str,
        holder_thumbprint: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> StatusReference:
        """Record credential ``credential_id`` at a random free index of the current list.
        Works inside the caller's transaction; a taken index (another process won it) is
        retried under a savepoint."""
        status_list = self._current_list(session, issued_at)
        for _ in range(_ALLOCATION_TRIES):
            index = secrets.randbelow(status_list.size)
            try:
                with session.begin_nested():
                    session.add(
                        IdvCredentialRow(
                            id=credential_id,
                            offer_id=offer_id,
                            vct=vct,
                            status_list_id=status_list.id,
                            status_idx=index,
                            status=VALID,
                            holder_thumbprint=holder_thumbprint,
                            issued_at=issued_at,
                            expires_at=expires_at,
                        )
                    )
                    session.flush()
            except IntegrityError:
                continue
            return StatusReference(status_list.id, index, self.uri(status_list.id))
        raise Conflict("no free status list entry was found; try again")

    # --- changes -------------------------------------------------------------------------------

    def status(self, credential_id: str) -> CredentialStatus:
        with self.database.transaction() as session:
            row = session.get(IdvCredentialRow, credential_id)
            if row is None:
                raise NotFound(f"no issued credential {credential_id}")
            return _status(row)

    def _set(
        self, credential_id: str, status: int, *, reason: str | None, actor: str
    ) -> CredentialStatus:
        now = self.clock.now()
        with self.database.transaction() as session:
            row = session.get(IdvCredentialRow, credential_id)
            if row is None:
                raise NotFound(f"no issued credential {credential_id}")
            if row.status == INVALID and status != INVALID:
                raise Conflict("a revoked credential stays revoked")
            if row.status != status:
                # guarded by the old value: a concurrent change wins or loses as a whole
                result = session.execute(
                    update(IdvCredentialRow)
                    .where(IdvCredentialRow.id == row.id, IdvCredentialRow.status == row.status)
                    .values(status=status, status_changed_at=now, status_reason=reason)
                    .execution_options(synchronize_session=False)
                )
                assert isinstance(result, CursorResult)
                if result.rowcount != 1:
                    raise Conflict("the credential's status changed meanwhile; try again")
                session.refresh(row)
                AuditLog(session).append(
                    f"idv.credential_{STATUS_NAMES[status]}",
                    at=now,
                    actor=actor,
                    data={"credential_id": row.id, "reason": reason},
                )
            return _status(row)

    def revoke(
        self, credential_id: str, *, reason: str | None = None, actor: str = "idv"
    ) -> CredentialStatus:
        """Revoke for good (status 1)."""
        return self._set(credential_id, INVALID, reason=_reason(reason), actor=actor)

    def suspend(
        self, credential_id: str, *, reason: str | None = None, actor: str = "idv"
    ) -> CredentialStatus:
        return self._set(credential_id, SUSPENDED, reason=_reason(reason), actor=actor)

    def reinstate(
        self, credential_id: str, *, reason: str | None = None, actor: str = "idv"
    ) -> CredentialStatus:
        """Lift a suspension (a revoked credential stays revoked)."""
        return self._set(credential_id, VALID, reason=_reason(reason), actor=actor)

    # --- publishing ----------------------------------------------------------------------------

    def _entries(self, list_id: str) -> tuple[int, int, dict[int, int]]:
        """``(size, bits, {index: status})`` of list ``list_id`` from one SELECT (consistent on
        its own, so no transaction is needed around it)."""
        params = {"list_id": list_id, "valid": VALID}
        if self.database.dialect == "sqlite":
            # not through Database.transaction(): on SQLite that is BEGIN IMMEDIATE, and a
            # verifier in this very process fetches the list while it holds the write lock
            # (the response endpoint verifies inside its transaction). A bare SELECT in WAL
            # mode reads past the writer.
            raw = self.database.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(_ENTRIES_SQL, params)  # sqlite3 takes :named parameters
                rows = [tuple(r) for r in cursor.fetchall()]
            finally:
                raw.close()
        else:
            with self.database.transaction() as session:
                rows = [tuple(r) for r in session.execute(text(_ENTRIES_SQL), params).all()]
        if not rows:
            raise NotFound(f"no status list {list_id}")
        size, bits = int(rows[0][0]), int(rows[0][1])
        return size, bits, {int(r[2]): int(r[3]) for r in rows if r[2] is not None}

    def token(self, list_id: str) -> str:
        """The signed Status List Token of list ``list_id`` as it is now."""
        now = self.clock.now()
        size, bits, changed = self._entries(list_id)
        issued_at = int(now.timestamp())
        payload = {
            "iss": self.issuer,
            "sub": self.uri(list_id),
            "iat": issued_at,
            "exp": issued_at + int(self.token_lifetime.total_seconds()),
            "ttl": int(self.ttl.total_seconds()),
            "status_list": encode_status_list(changed, size=size, bits=bits),
        }
        return sign_jwt(self.key, {"typ": STATUSLIST_TYP}, payload)


_ENTRIES_SQL = (
    "SELECT l.size, l.bits, c.status_idx, c.status FROM idv_status_lists l"
    " LEFT JOIN idv_credentials c ON c.status_list_id = l.id AND c.status != :valid"
    " WHERE l.id = :list_id"
)


def _reason(reason: str | None) -> str | None:
    if reason is not None and (len(reason) > 128 or not reason.isprintable()):
        raise ValidationFailed("reason must be printable and at most 128 characters")
    return reason


def _status(row: IdvCredentialRow) -> CredentialStatus:
    return CredentialStatus(
        credential_id=row.id,
        status=STATUS_NAMES.get(row.status, "revoked"),
        list_id=row.status_list_id,
        index=row.status_idx,
        changed_at=row.status_changed_at,
    )
