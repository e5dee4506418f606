"""``ssar audit``: verify and export the hash-chained audit log (R30)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from sqlalchemy import select

from ssar.audit.log import verify_chain
from ssar.cli.common import EXIT_NEGATIVE, JsonOption, console, open_registry, print_json
from ssar.store.tables import AuditEventRow

app = typer.Typer(help="The audit log.", no_args_is_help=True)


@app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Check the hash chain: exit 0 when intact, 1 with the first broken event otherwise."""
    registry = open_registry()
    with registry.database.transaction() as session:
        result = verify_chain(session)
    if as_json:
        print_json(
            {
                "intact": result.intact,
                "events": result.events,
                "first_broken_seq": result.first_broken_seq,
                "reason": result.reason,
            }
        )
    elif result.intact:
        console.print(f"[green]Audit chain intact[/green]: {result.events} events.")
    else:
        console.print(
            f"[red]Audit chain broken[/red] at event {result.first_broken_seq}: {result.reason} "
            f"({result.events} events verified before it)."
        )
    if not result.intact:
        raise typer.Exit(EXIT_NEGATIVE)


@app.command("export")
def export(
    since_seq: Annotated[int, typer.Option("--since-seq", help="Only events after this one.")] = 0,
) -> None:
    """Write the events as JSON lines on stdout (with their hashes, for external archiving)."""
    registry = open_registry()
    with registry.database.transaction() as session:
        rows = session.execute(
            select(AuditEventRow).where(AuditEventRow.seq > since_seq).order_by(AuditEventRow.seq)
        ).scalars()
        for row in rows:
            record = {
                "seq": row.seq,
                "id": row.id,
                "at": row.at.isoformat(),
                "type": row.type,
                "actor": row.actor,
                "user_id": row.user_id,
                "ip": row.ip,
                "data": row.data,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
