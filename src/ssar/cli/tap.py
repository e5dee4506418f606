"""``ssar tap``: Temporary Access Passes."""

from __future__ import annotations

from typing import Annotated

import typer

from ssar.cli.common import JsonOption, console, open_registry, print_json, reporting_errors

app = typer.Typer(help="Temporary Access Passes.", no_args_is_help=True)


@app.command("issue")
def issue(
    username: Annotated[str, typer.Argument(help="The user who gets the pass.")],
    lifetime_minutes: Annotated[
        int | None,
        typer.Option(
            "--lifetime-minutes", help="Lifetime; default and bounds from the TAP policy."
        ),
    ] = None,
    reusable: Annotated[
        bool, typer.Option("--reusable", help="Usable until it expires, not just once.")
    ] = False,
    length: Annotated[
        int | None,
        typer.Option(
            "--length", help="Characters (base58); at least 11, which gives 64 bits of entropy."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a Temporary Access Pass; it replaces the user's active one and is shown once."""
    with reporting_errors(as_json):
        issued = open_registry().signin.taps.issue(
            username=username,
            actor="cli",
            lifetime_minutes=lifetime_minutes,
            one_time=False if reusable else None,
            length=length,
        )
    if as_json:
        print_json(
            {
                "tap": issued.tap,
                "expires_at": issued.expires_at.isoformat(),
                "one_time": issued.one_time,
            }
        )
        return
    console.print(f"Temporary Access Pass for [bold]{username}[/bold]:")
    typer.echo(issued.tap)
    kind = "one-time" if issued.one_time else "reusable"
    console.print(f"[dim]{kind}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC; shown once.[/dim]")
