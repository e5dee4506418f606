"""``ssar tokens``: bearer tokens for the admin API and SCIM."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ssar.cli.common import JsonOption, console, open_registry, print_json, reporting_errors

app = typer.Typer(help="API tokens for the admin API and SCIM.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the token.")],
    scope: Annotated[list[str], typer.Option("--scope", help="admin and/or scim.")],
    as_json: JsonOption = False,
) -> None:
    """Create a token. It is printed once and cannot be shown again."""
    with reporting_errors(as_json):
        issued = open_registry().api_tokens.create(name=name, scopes=scope)
    if as_json:
        print_json(
            {
                "id": issued.id,
                "name": issued.name,
                "scopes": list(issued.scopes),
                "token": issued.token,
            }
        )
    else:
        console.print(f"Token for [bold]{issued.name}[/bold] ({', '.join(issued.scopes)}):")
        typer.echo(issued.token)
        console.print("[dim]Store it now: SSAR keeps only a hash of it.[/dim]")


@app.command("list")
def list_tokens(as_json: JsonOption = False) -> None:
    """List tokens (never their values)."""
    tokens = open_registry().api_tokens.list()
    if as_json:
        print_json(
            [
                {
                    "id": t.id,
                    "name": t.name,
                    "scopes": list(t.scopes),
                    "created_at": t.created_at,
                    "last_used_at": t.last_used_at,
                    "revoked_at": t.revoked_at,
                }
                for t in tokens
            ]
        )
        return
    table = Table("id", "name", "scopes", "created", "revoked")
    for t in tokens:
        table.add_row(
            t.id,
            t.name,
            " ".join(t.scopes),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(token_id: str, as_json: JsonOption = False) -> None:
    """Revoke a token by id."""
    with reporting_errors(as_json):
        open_registry().api_tokens.revoke(token_id)
    if as_json:
        print_json({"revoked": token_id})
    else:
        typer.echo(f"Revoked {token_id}.")
