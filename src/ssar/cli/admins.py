"""``ssar admins``: who may use the admin center (roles: global_admin, helpdesk, reader)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ssar.admin.roles import ROLE_TITLES, ROLES
from ssar.cli.common import JsonOption, console, open_registry, print_json, reporting_errors

app = typer.Typer(help="Admin center roles.", no_args_is_help=True)

ROLE_HELP = "One of: " + ", ".join(sorted(ROLES)) + "."


@app.command("grant")
def grant(
    username: Annotated[str, typer.Argument(help="The user to make an admin.")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "global_admin",
    as_json: JsonOption = False,
) -> None:
    """Give USERNAME a role (the user becomes privileged: no profile recovers it unless the
    profile allows privileged users). The admin center needs a passkey sign-in: issue a TAP with
    ``ssar tap issue`` so the user can register one."""
    with reporting_errors(as_json):
        open_registry().admin_roles.grant(username, role, actor="cli")
    if as_json:
        print_json({"username": username, "role": role})
    else:
        console.print(f"[bold]{username}[/bold] is now a {ROLE_TITLES[role].lower()}.")


@app.command("revoke")
def revoke(
    username: Annotated[str, typer.Argument(help="The admin to remove.")],
    as_json: JsonOption = False,
) -> None:
    """Take USERNAME's role away (the last global administrator stays)."""
    with reporting_errors(as_json):
        open_registry().admin_roles.revoke(username, actor="cli")
    if as_json:
        print_json({"username": username, "role": None})
    else:
        console.print(f"[bold]{username}[/bold] no longer has an admin role.")


@app.command("list")
def list_admins(as_json: JsonOption = False) -> None:
    """List the users holding an admin role."""
    admins = open_registry().admin_roles.list()
    if as_json:
        print_json(
            [
                {
                    "username": a.username,
                    "display_name": a.display_name,
                    "role": a.role,
                    "granted_at": a.granted_at,
                    "granted_by": a.granted_by,
                }
                for a in admins
            ]
        )
        return
    table = Table("username", "name", "role", "granted", "by")
    for a in admins:
        table.add_row(
            a.username, a.display_name, a.role, f"{a.granted_at:%Y-%m-%d %H:%M}", a.granted_by
        )
    console.print(table)
