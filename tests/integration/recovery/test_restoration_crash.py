"""R3: production restoration is all or nothing, also when the process dies in the middle.

A child process picks up a flow whose checks all passed and is killed (``os._exit``, no
cleanup, as ``kill -9`` or a power cut would) at a fault point inside the restoration
transaction. Afterwards the account is exactly as before; the next request restores it fully.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ssar.audit.log import verify_chain
from ssar.faults import EXIT_CODE
from ssar.signin.sessions import start_session
from ssar.store.tables import AuditEventRow, OutboxRow, SessionRow, UserRow
from tests.integration.recovery.conftest import BASE, Harness
from tests.integration.recovery.test_flow import give_passkey

CHILD = """
import json, sys
from datetime import datetime
from ssar.clock import FixedClock
from ssar.registry import Registry
from tests.conftest import make_settings
from pathlib import Path
args = json.loads(sys.argv[1])
registry = Registry(
    make_settings(args["db"], Path(args["tmp"]), base_url=args["base"], demo=True),
    clock=FixedClock(datetime.fromisoformat(args["now"])),
)
view = registry.recovery.status(args["handle"])
print(view.state)
"""

# the first write, the TAP, and everything written but not committed (the other points,
# sessions_revoked and notified, sit between these)
POINTS = ["restore.methods_revoked", "restore.tap_issued", "restore.before_commit"]


def _state(harness: Harness, username: str) -> dict[str, object]:
    with harness.registry.database.transaction() as session:
        user_id = harness.registry.directory.get_user(username).id
        return {
            "methods": harness.methods(username),
            "live_sessions": len(
                session.execute(
                    select(SessionRow).where(
                        SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None)
                    )
                ).all()
            ),
            "mail": len(session.execute(select(OutboxRow)).all()),
            "restored_events": len(
                session.execute(
                    select(AuditEventRow).where(AuditEventRow.type == "recovery.restored")
                ).all()
            ),
        }


def _child(
    harness: Harness, db_url: str, handle: str, fault: str | None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    env.pop("SSAR_FAULT", None)
    if fault is not None:
        env["SSAR_FAULT"] = fault
    args = {
        "db": db_url,
        "tmp": str(harness.tmp_path),
        "base": BASE,
        "now": harness.clock.now().isoformat(),
        "handle": handle,
    }
    return subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("point", POINTS)
def test_R3_a_crash_inside_restoration_leaves_the_account_untouched(
    harness: Harness, db_url: str, point: str
) -> None:
    harness.user("erika", "Erika", "Mustermann")
    give_passkey(harness, "erika")
    with harness.registry.database.transaction() as session:  # erika is signed in somewhere
        user = session.execute(select(UserRow).where(UserRow.username == "erika")).scalar_one()
        start_session(
            session,
            user=user,
            method_id=None,
            method_type="passkey",
            previous_token=None,
            settings=harness.registry.settings,
            secret_key=harness.registry.secret_key,
            now=harness.clock.now(),
        )
    harness.profile()
    body = harness.start("erika").json()
    # the wallet answers; nobody has looked at the flow yet
    harness.present(harness.wallet(), body["verification"]["link"])
    before = _state(harness, "erika")
    assert before == {
        "methods": [("passkey", True)],
        "live_sessions": 1,
        "mail": 0,
        "restored_events": 0,
    }

    crashed = _child(harness, db_url, body["id"], point)
    assert crashed.returncode == EXIT_CODE, crashed.stderr
    assert _state(harness, "erika") == before
    with harness.registry.database.transaction() as session:
        assert verify_chain(session).intact

    # the next look at the flow finishes the job, completely
    finished = _child(harness, db_url, body["id"], None)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "restored"
    after = _state(harness, "erika")
    assert after["methods"] == [("passkey", False), ("tap", True)]
    assert after["live_sessions"] == 0
    assert after["mail"] == 1
    assert after["restored_events"] == 1
