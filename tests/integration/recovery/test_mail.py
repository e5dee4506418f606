"""R5 over real SMTP: the serving app's outbox worker delivers the recovery notices (with the
"this wasn't me" link) to an SMTP server on loopback (aiosmtpd), each once."""

from __future__ import annotations

import time

from tests.integration.notify.test_smtp_delivery import Inbox, smtp_server  # noqa: F401
from tests.integration.recovery.conftest import Harness
from tests.integration.recovery.test_flow import give_passkey


def test_R5_notices_leave_over_smtp(
    harness: Harness,
    smtp_server: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp_server
    from ssar.notify.outbox import OutboxWorker

    harness.registry.settings.smtp_url = f"smtp://127.0.0.1:{port}"
    harness.registry.__dict__.pop("mail_sender", None)
    worker = OutboxWorker(harness.registry, interval=0.1)
    worker.start()
    try:
        harness.user("erika", "Erika", "Mustermann", emails=("erika@example.org", "e@home.test"))
        harness.user(
            "root", "Rita", "Admin", groups=(), emails=("admin@example.org",), privileged=True
        )
        give_passkey(harness, "erika")
        harness.profile()
        started = harness.start("erika").json()
        harness.present(harness.wallet(), started["verification"]["link"])
        assert harness.flow(started["id"])["state"] == "restored"
        deadline = time.monotonic() + 10
        while len(inbox.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # nothing more arrives: each notice once
    finally:
        worker.stop()
    recipients = sorted(m["To"] for m in inbox.messages)
    assert recipients == ["admin@example.org", "e@home.test", "erika@example.org"]
    for message in inbox.messages:
        assert "/recover/dispute/" in message.get_payload()
