"""Queued messages are delivered through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ssar.notify.outbox import SmtpSender, deliver_pending, queue_message
from ssar.registry import Registry
from ssar.store.tables import OutboxRow


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_outbox_delivered_once_over_smtp(
    any_registry: Registry, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    now = any_registry.clock.now()
    with any_registry.database.transaction() as session:
        queue_message(
            session,
            kind="test",
            to_addresses=["ada@example.org", "ada@example.org", "ops@example.org"],
            subject="A new passkey was added",
            body_text="If this wasn't you, contact your administrator.",
            at=now,
        )
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", "SSAR <no-reply@example.org>")
    assert deliver_pending(any_registry.database, sender, now=now) == 2
    assert sorted(m["To"] for m in inbox.messages) == ["ada@example.org", "ops@example.org"]
    assert inbox.messages[0]["Subject"] == "A new passkey was added"
    # nothing is sent twice
    assert deliver_pending(any_registry.database, sender, now=now) == 0
    with any_registry.database.transaction() as session:
        assert all(r.sent_at is not None for r in session.execute(select(OutboxRow)).scalars())


def test_unreachable_smtp_keeps_message_queued(any_registry: Registry) -> None:
    now = any_registry.clock.now()
    with any_registry.database.transaction() as session:
        queue_message(
            session, kind="test", to_addresses=["a@example.org"], subject="s", body_text="b", at=now
        )
    sender = SmtpSender("smtp://127.0.0.1:1", "SSAR <no-reply@example.org>", timeout=2)
    assert deliver_pending(any_registry.database, sender, now=now) == 0
    with any_registry.database.transaction() as session:
        row = session.execute(select(OutboxRow)).scalar_one()
    assert row.sent_at is None
    assert row.attempts == 1
