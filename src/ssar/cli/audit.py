"""``ssar audit``: verify and export the hash-chained audit log (R30)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ssar.audit.log import verify_chain
from ssar.audit.query import AuditFilter, export_lines, parse_day
from ssar.cli.common import EXIT_NEGATIVE, JsonOption, console, open_registry, print_json

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
    type: Annotated[
        str, typer.Option("--type", help="An event type, or a family ending in '.' (recovery.).")
    ] = "",
    actor: Annotated[str, typer.Option("--actor", help="Part of the actor (user:ada).")] = "",
    user: Annotated[str, typer.Option("--user", help="A username or a user id.")] = "",
    since: Annotated[
        str, typer.Option("--since", help="From this date or ISO date-time (UTC).")
    ] = "",
    until: Annotated[
        str, typer.Option("--until", help="Up to this date (inclusive) or before this instant.")
    ] = "",
) -> None:
    """Write the events as JSON lines on stdout (with their hashes, for external archiving)."""
    try:
        flt = AuditFilter(
            type=type,
            actor=actor,
            user=user,
            since=parse_day(since),
            until=parse_day(until, end=True),
        )
    except ValueError as exc:
        raise typer.BadParameter(f"--since/--until: {exc}") from exc
    registry = open_registry()
    for line in export_lines(registry.database, flt, since_seq=since_seq):
        sys.stdout.write(line)
