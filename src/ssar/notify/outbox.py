"""Queue messages in the outbox table and deliver them over SMTP (or keep them for /dev/outbox)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssar.store.db import Database
from ssar.store.tables import OutboxRow

if TYPE_CHECKING:
    from ssar.registry import Registry

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
    them at /dev/outbox). Returns how many were sent.

    Several processes may deliver at once: each message is claimed with a conditional UPDATE
    (``sent_at`` set while it is still unset) before it is handed to SMTP, so it goes out once;
    a failed send releases the claim and counts an attempt (at most 5)."""
    if sender is None:
        return 0
    with database.transaction() as session:
        pending = list(
            session.execute(
                select(OutboxRow.id).where(OutboxRow.sent_at.is_(None), OutboxRow.attempts < 5)
            ).scalars()
        )
    sent = 0
    for message_id in pending:
        with database.transaction() as session:
            claimed = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == message_id, OutboxRow.sent_at.is_(None))
                .values(sent_at=now, attempts=OutboxRow.attempts + 1)
            ).rowcount  # type: ignore[attr-defined]
            row = session.get(OutboxRow, message_id) if claimed else None
        if row is None:
            continue  # another process took it
        try:
            sender.send(to=row.to_address, subject=row.subject, body=row.body_text)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail_delivery_failed", message_id=row.id, error=type(exc).__name__)
            with database.transaction() as session:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row.id)
                    .values(sent_at=None, last_error=type(exc).__name__)
                )
            continue
        sent += 1
    return sent


class OutboxWorker:
    """Delivers the outbox every ``interval`` seconds in a background thread of a serving
    process (started and stopped with the application)."""

    def __init__(self, registry: Registry, *, interval: float = 2.0) -> None:
        import threading

        self._registry = registry
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ssar-outbox", daemon=True)

    def start(self) -> None:
        if self._registry.mail_sender is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                deliver_pending(
                    self._registry.database,
                    self._registry.mail_sender,
                    now=self._registry.clock.now(),
                )
            except Exception:
                log.exception("outbox_delivery_error")
