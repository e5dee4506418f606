"""Persistence of verifier transactions. Works inside the caller's unit of work; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from ssar.store.tables import VpTransactionRow


class VpTransactionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: VpTransactionRow) -> None:
        self.session.add(row)
        self.session.flush()

    def _one(self, **where: Any) -> VpTransactionRow | None:
        column, value = next(iter(where.items()))
        return self.session.execute(
            select(VpTransactionRow).where(getattr(VpTransactionRow, column) == value)
        ).scalar_one_or_none()

    def by_request_id(self, request_id: str) -> VpTransactionRow | None:
        return self._one(request_id=request_id)

    def by_state_hash(self, state_hash: str) -> VpTransactionRow | None:
        return self._one(state_hash=state_hash)

    def by_encryption_kid(self, kid: str) -> VpTransactionRow | None:
        return self._one(encryption_kid=kid)

    def by_response_code_hash(self, code_hash: str) -> VpTransactionRow | None:
        return self._one(response_code_hash=code_hash)

    def by_handle_hash(self, handle_hash: str) -> VpTransactionRow | None:
        return self._one(handle_hash=handle_hash)

    def transition(self, row_id: str, *, from_status: str, to_status: str, **values: Any) -> bool:
        """Move one row from ``from_status`` to ``to_status`` (setting ``values``) if, and only
        if, it is still in ``from_status``: the single-use guard across processes."""
        result = self.session.execute(
            update(VpTransactionRow)
            .where(VpTransactionRow.id == row_id, VpTransactionRow.status == from_status)
            .values(status=to_status, **values)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def delete_expired(self, *, before: datetime) -> int:
        result = self.session.execute(
            delete(VpTransactionRow).where(VpTransactionRow.expires_at < before)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount
