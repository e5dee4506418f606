"""Bearer tokens for the admin API and SCIM. The token is shown once; only a keyed hash is kept."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from ssar.keys import SecretKey
from ssar.store.db import Database
from ssar.store.tables import ApiTokenRow

SCOPES = frozenset({"admin", "admin:read", "scim"})
PREFIX = "ssar_"
HASH_PURPOSE = "api-token"


@dataclass(frozen=True)
class IssuedToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    token: str  # shown once, never stored


@dataclass(frozen=True)
class TokenPrincipal:
    id: str
    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenService:
    def __init__(self, *, database: Database, clock: Clock, secret_key: SecretKey) -> None:
        self._db = database
        self._clock = clock
        self._key = secret_key

    def create(self, *, name: str, scopes: Sequence[str], actor: str = "cli") -> IssuedToken:
        wanted = tuple(dict.fromkeys(scopes))
        unknown = set(wanted) - SCOPES
        if not wanted or unknown:
            raise ValidationFailed(
                f"scopes must be some of {sorted(SCOPES)}; got {sorted(unknown) or 'none'}",
                field="scopes",
            )
        if not name.strip():
            raise ValidationFailed("a token needs a name", field="name")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            name=name.strip(),
            token_hash=self._key.keyed_hash(HASH_PURPOSE, token),
            scopes=" ".join(wanted),
            created_at=self._clock.now(),
        )
        with self._db.transaction() as session:
            session.add(row)
            session.flush()
            AuditLog(session).append(
                "api_token.created",
                at=row.created_at,
                actor=actor,
                data={"token_id": row.id, "name": row.name, "scopes": list(wanted)},
            )
        return IssuedToken(id=row.id, name=row.name, scopes=wanted, token=token)

    def authenticate(self, token: str, *, required_scope: str | frozenset[str]) -> TokenPrincipal:
        """The token's principal when it holds ``required_scope`` (or one of a set of them)."""
        wanted = frozenset({required_scope}) if isinstance(required_scope, str) else required_scope
        if not token.startswith(PREFIX):
            raise AuthenticationFailed("invalid token")
        digest = self._key.keyed_hash(HASH_PURPOSE, token)
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.execute(
                select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                raise AuthenticationFailed("invalid token")
            scopes = frozenset(row.scopes.split())
            if not scopes & wanted:
                raise PermissionDenied(f"this token lacks the {' or '.join(sorted(wanted))} scope")
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                row.last_used_at = now
            return TokenPrincipal(id=row.id, name=row.name, scopes=scopes)

    def revoke(self, token_id: str, *, actor: str = "cli") -> None:
        now = self._clock.now()
        with self._db.transaction() as session:
            result = session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no active token with id {token_id}")
            AuditLog(session).append(
                "api_token.revoked", at=now, actor=actor, data={"token_id": token_id}
            )

    def list(self) -> list[TokenInfo]:
        with self._db.transaction() as session:
            rows = session.execute(select(ApiTokenRow).order_by(ApiTokenRow.created_at)).scalars()
            return [
                TokenInfo(
                    id=r.id,
                    name=r.name,
                    scopes=tuple(r.scopes.split()),
                    created_at=r.created_at,
                    last_used_at=r.last_used_at,
                    revoked_at=r.revoked_at,
                )
                for r in rows
            ]
