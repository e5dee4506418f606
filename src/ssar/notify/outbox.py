"""Queue messages in the outbox table and deliver them over SMTP (or keep them for /dev/outbox)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssar.store.db import Database
from ssar.store.tables import OutboxRow

log = structlog.get_logger(__name__)


def queue_message(
    session: Session,
    *,
    kind: str,
    to_addresses: Sequence[str],
    subject: str,
    body_text: str,
    at: datetime,
    user_id: str | None = None,
) -> list[OutboxRow]:
    rows = [
        OutboxRow(
            kind=kind,
            user_id=user_id,
            to_address=address,
            subject=subject,
            body_text=body_text,
            created_at=at,
            attempts=0,
        )
        for address in dict.fromkeys(to_addresses)
    ]
    session.add_all(rows)
    return rows


class SmtpSender:
    """Delivers over SMTP: ``smtp://host:port``, ``smtps://user:pass@host:465``,
    ``smtp+starttls://...``."""

    def __init__(self, url: str, mail_from: str, timeout: float = 10.0) -> None:
        self._url = urlsplit(url)
        self._from = mail_from
        self._timeout = timeout

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        host = self._url.hostname or "localhost"
        scheme = self._url.scheme
        if scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, self._url.port or 465, timeout=self._timeout
            )
        else:
            smtp = smtplib.SMTP(host, self._url.port or 25, timeout=self._timeout)
        with smtp:
            if scheme == "smtp+starttls":
                smtp.starttls()
            if self._url.username:
                smtp.login(unquote(self._url.username), unquote(self._url.password or ""))
            smtp.send_message(message)


def deliver_pending(database: Database, sender: SmtpSender | None, *, now: datetime) -> int:
    """Send what is queued. Without a sender the messages stay in the outbox (demo mode shows
    them at /dev/outbox). Returns how many were sent."""
    if sender is None:
        return 0
    with database.transaction() as session:
        pending = list(
            session.execute(
                select(OutboxRow).where(OutboxRow.sent_at.is_(None), OutboxRow.attempts < 5)
            ).scalars()
        )
    sent = 0
    for row in pending:
        try:
            sender.send(to=row.to_address, subject=row.subject, body=row.body_text)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail_delivery_failed", message_id=row.id, error=type(exc).__name__)
            with database.transaction() as session:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row.id)
                    .values(attempts=OutboxRow.attempts + 1, last_error=type(exc).__name__)
                )
            continue
        with database.transaction() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id, OutboxRow.sent_at.is_(None))
                .values(sent_at=now, attempts=OutboxRow.attempts + 1)
            )
        sent += 1
    return sent
