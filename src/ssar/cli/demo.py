"""``ssar demo``: seed the demo organisation and serve everything on http://localhost:8000."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from ssar.cli.common import console, open_registry
from ssar.demo import (
    DEMO_ADMIN,
    DEMO_PROFILE,
    DEMO_USERS,
    NEWCOMER,
    seed_demo,
    seed_recovery_demo,
)


def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    serve: Annotated[bool, typer.Option(help="Start the server after seeding.")] = True,
) -> None:
    """Seed a small demo organisation (idempotent) and serve SSAR with the demo pages on."""
    os.environ["SSAR_DEMO"] = "1"  # the server process reads its settings from the environment
    os.environ.setdefault("SSAR_BASE_URL", f"http://localhost:{port}")
    registry = open_registry()
    report = seed_demo(registry)
    seed_recovery_demo(registry)
    base = registry.settings.base_url
    # a fresh pass for the newcomer on every start: the previous one is replaced (R25)
    tap = registry.signin.taps.issue(
        username=NEWCOMER,
        actor="demo",
        lifetime_minutes=registry.settings.tap.max_lifetime_minutes,
    )
    admin_tap = registry.signin.taps.issue(
        username=DEMO_ADMIN,
        actor="demo",
        lifetime_minutes=registry.settings.tap.max_lifetime_minutes,
    )
    _ = registry.secret_key, registry.signing_key
    registry.close()

    table = Table("username", "name", "group", "note", title="Demo users")
    for user in DEMO_USERS:
        note = "administrator" if user.privileged else ""
        if user.username == NEWCOMER:
            note = "has the Temporary Access Pass below"
        if user.username == DEMO_ADMIN:
            note = "global administrator (admin center), TAP below"
        table.add_row(user.username, f"{user.given_name} {user.family_name}", user.group, note)
    console.print()
    console.print(
        f"[bold]SSAR demo[/bold] — {report.users_created} users and "
        f"{report.groups_created} groups created (existing ones kept)."
    )
    console.print(table)
    console.print(f"Open [bold]{base}/signin[/bold] and sign in as [bold]{NEWCOMER}[/bold] with")
    console.print(f"  Temporary Access Pass: [bold green]{tap.tap}[/bold green]")
    console.print(
        f"  (valid until {tap.expires_at:%Y-%m-%d %H:%M} UTC, one use) — then register a passkey."
    )
    console.print(
        f"Mail SSAR sends is shown at {base}/dev/outbox; the demo wallet is at {base}/wallet."
    )
    console.print(
        f"Try recovery: {base}/recover as [bold]{NEWCOMER}[/bold], then [bold]Open the demo "
        f"wallet[/bold] (it holds {NEWCOMER}'s identity credential). The profile "
        f"'{DEMO_PROFILE}' is in evaluation mode: nothing on the account changes."
    )
    console.print(
        f"The reference identity verification service is at {base}/idv: "
        "[bold].venv/bin/ssar idv make-test-documents --portrait YOUR_PHOTO.jpg[/bold] makes a "
        "specimen licence and passport chip files to try it with your own webcam."
    )
    console.print(f"Admin center: sign in at {base}/signin as [bold]{DEMO_ADMIN}[/bold] with")
    console.print(f"  Temporary Access Pass: [bold green]{admin_tap.tap}[/bold green]")
    console.print(
        f"  register a passkey, then open [bold]{base}/admin[/bold] (it takes a passkey sign-in)."
    )
    console.print("New pass later: [bold].venv/bin/ssar tap issue ada[/bold]. Stop with Ctrl+C.\n")
    if not serve:
        return
    import uvicorn

    uvicorn.run(
        "ssar.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
    )
