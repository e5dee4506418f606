"""``ssar users`` and ``ssar groups``: the directory from the command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ssar.cli.common import (
    EXIT_NEGATIVE,
    JsonOption,
    console,
    err_console,
    open_registry,
    print_json,
    reporting_errors,
)
from ssar.directory.models import Group, ImportResult, User
from ssar.directory.service import ProgressCallback

users_app = typer.Typer(help="Directory users.", no_args_is_help=True)
groups_app = typer.Typer(help="Directory groups (nested).", no_args_is_help=True)
ACTOR = "cli"
_T = TypeVar("_T")


def user_document(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "display_name": user.display_name,
        "emails": [
            {"address": e.address, "primary": e.primary, "notify": e.notify, "kind": e.kind}
            for e in user.emails
        ],
        "employee_id": user.employee_id,
        "external_id": user.external_id,
        "birthdate": user.birthdate,
        "enabled": user.enabled,
        "privileged": user.privileged,
        "groups": list(user.groups),
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }


def group_document(group: Group) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "external_id": group.external_id,
        "parents": list(group.parents),
        "created_at": group.created_at.isoformat(),
    }
    if group.members is not None:
        document["members"] = [
            {"id": m.id, "type": m.type.lower(), "name": m.display} for m in group.members
        ]
    return document


# --- users -----------------------------------------------------------------------------------


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Option("--username", help="Sign-in name (unique, any case).")],
    given_name: Annotated[str, typer.Option("--given-name")],
    family_name: Annotated[str, typer.Option("--family-name")],
    email: Annotated[
        list[str] | None,
        typer.Option("--email", help="Address; repeat for more (first is primary)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Group to put the user in; missing groups are created."),
    ] = None,
    employee_id: Annotated[str | None, typer.Option("--employee-id")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    birthdate: Annotated[str | None, typer.Option("--birthdate", help="YYYY-MM-DD.")] = None,
    privileged: Annotated[
        bool, typer.Option("--privileged", help="An admin or otherwise privileged account.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a user. Groups that do not exist yet are created (and reported)."""
    with reporting_errors(as_json):
        directory = open_registry().directory
        groups = list(group or [])
        missing = [g for g in groups if directory.find_group(g) is None]
        user = directory.add_user(
            username=username,
            given_name=given_name,
            family_name=family_name,
            display_name=display_name,
            emails=list(email or []),
            employee_id=employee_id,
            birthdate=birthdate,
            privileged=privileged,
            groups=groups,
            create_missing_groups=True,
            actor=ACTOR,
        )
    if as_json:
        print_json({**user_document(user), "groups_created": missing})
        return
    for name in missing:
        console.print(f"Created group [bold]{name}[/bold].")
    console.print(f"Added user [bold]{user.username}[/bold] ({user.id}).")


def _print_import(result: ImportResult, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "created": result.created,
                "skipped": result.skipped,
                "rejected": result.rejected,
                "groups_created": list(result.groups_created),
                "errors": [
                    {"line": e.line, "username": e.username, "reason": e.reason}
                    for e in result.errors
                ],
            }
        )
        return
    console.print(
        f"Created {result.created} users, skipped {result.skipped} that exist, "
        f"rejected {result.rejected} rows; created {len(result.groups_created)} groups."
    )
    for error in result.errors[:50]:
        err_console.print(f"  line {error.line}: {error.username or '?'}: {error.reason}")
    if result.rejected > 50:
        err_console.print(f"  … and {result.rejected - 50} more (use --json for all).")


@users_app.command("import")
def import_users(
    file: Annotated[Path, typer.Argument(help="CSV: username,given_name,family_name,email,groups")],
    as_json: JsonOption = False,
) -> None:
    """Import users from a CSV file (groups ``;``-separated; optional columns employee_id,
    privileged, display_name, external_id, birthdate, enabled).

    Existing usernames are skipped and counted; bad rows are reported with their line number
    and do not stop the others. Exit 0 when no row was rejected, 1 when some were, 2 when the
    file cannot be used at all (nothing is imported then). Running it again is safe.
    """
    with reporting_errors(as_json):
        directory = open_registry().directory
        result = _with_progress(
            "Importing",
            lambda report: directory.import_users_csv(file, actor=ACTOR, progress=report),
            show=not as_json,
        )
    _print_import(result, as_json)
    if result.rejected:
        raise typer.Exit(EXIT_NEGATIVE)


@users_app.command("list")
def list_users(
    group: Annotated[
        str | None, typer.Option("--group", help="Only members (nested groups count).")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="Part of a username, name or address.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many; 0: all.")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List users, ordered by username."""
    with reporting_errors(as_json):
        page = open_registry().directory.list_users(
            group=group, query=query, limit=limit or None, offset=offset
        )
    if as_json:
        print_json({"total": page.total, "users": [user_document(u) for u in page.users]})
        return
    table = Table("username", "name", "email", "groups", "enabled")
    for u in page.users:
        table.add_row(
            u.username,
            u.display_name,
            u.primary_email or "",
            ", ".join(u.groups),
            "yes" if u.enabled else "no",
        )
    console.print(table)
    console.print(f"{len(page.users)} of {page.total} users.")


@users_app.command("show")
def show_user(username: str, as_json: JsonOption = False) -> None:
    """Show a user with their groups (direct and through nesting) and sign-in methods."""
    with reporting_errors(as_json):
        directory = open_registry().directory
        user = directory.get_user(username)
        methods = directory.auth_methods(user.id)
        transitive = directory.transitive_groups(user.id)
    document = {
        **user_document(user),
        "groups": {"direct": list(user.groups), "all": list(transitive)},
        "notification_addresses": list(user.notification_addresses),
        "methods": [
            {
                "type": m.type,
                "id": m.id,
                "label": m.label,
                "created_at": m.created_at.isoformat(),
                "last_used_at": m.last_used_at.isoformat() if m.last_used_at else None,
            }
            for m in methods
        ],
    }
    if as_json:
        print_json(document)
        return
    console.print(f"[bold]{user.username}[/bold]  {user.display_name}  ({user.id})")
    console.print(f"enabled: {user.enabled}   privileged: {user.privileged}")
    console.print(f"emails: {', '.join(e.address for e in user.emails) or '-'}")
    console.print(f"groups: {', '.join(user.groups) or '-'} (all: {', '.join(transitive) or '-'})")
    for m in methods:
        console.print(f"method: {m.type} {m.label} {m.id} since {m.created_at:%Y-%m-%d}")


# --- groups ----------------------------------------------------------------------------------


@groups_app.command("add")
def add_group(
    name: str,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Nest the new group in this one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a group, optionally nested inside an existing group."""
    with reporting_errors(as_json):
        group = open_registry().directory.add_group(name, parent=parent, actor=ACTOR)
    if as_json:
        print_json(group_document(group))
    else:
        where = f" inside [bold]{parent}[/bold]" if parent else ""
        console.print(f"Added group [bold]{group.name}[/bold]{where}.")


@groups_app.command("import")
def import_groups(
    file: Annotated[Path, typer.Argument(help="CSV: name,parent (one row per nesting)")],
    as_json: JsonOption = False,
) -> None:
    """Import groups and their nesting from a CSV file with the columns name,parent.

    A group in several parents has one row per parent; an empty parent makes a top-level group.
    Parents may come after their children. Existing groups and nestings are skipped; a row whose
    nesting would make a cycle is refused with its line. Exit 0 when no row was refused, 1 when
    some were, 2 when the file cannot be used at all. Running it again is safe.
    """
    with reporting_errors(as_json):
        directory = open_registry().directory
        result = _with_progress(
            "Importing groups",
            lambda report: directory.import_groups_csv(file, actor=ACTOR, progress=report),
            show=not as_json,
        )
    if as_json:
        print_json(
            {
                "created": result.created,
                "existing": result.existing,
                "nested": result.nested,
                "already_nested": result.already_nested,
                "rejected": result.rejected,
                "errors": [
                    {"line": e.line, "name": e.username, "reason": e.reason} for e in result.errors
                ],
            }
        )
    else:
        console.print(
            f"Created {result.created} groups ({result.existing} existed), made "
            f"{result.nested} nestings ({result.already_nested} existed), rejected "
            f"{result.rejected} rows."
        )
        for error in result.errors[:50]:
            err_console.print(f"  line {error.line}: {error.username or '?'}: {error.reason}")
        if result.rejected > 50:
            err_console.print(f"  … and {result.rejected - 50} more (use --json for all).")
    if result.rejected:
        raise typer.Exit(EXIT_NEGATIVE)


@groups_app.command("add-member")
def add_member(group: str, username: str, as_json: JsonOption = False) -> None:
    """Put a user directly in a group."""
    with reporting_errors(as_json):
        added = open_registry().directory.add_member(group=group, username=username, actor=ACTOR)
    if as_json:
        print_json({"group": group, "username": username, "added": added})
    elif added:
        console.print(f"Added {username} to {group}.")
    else:
        console.print(f"{username} was already in {group}.")


@groups_app.command("remove-member")
def remove_member(group: str, username: str, as_json: JsonOption = False) -> None:
    """Take a user out of a group."""
    with reporting_errors(as_json):
        removed = open_registry().directory.remove_member(
            group=group, username=username, actor=ACTOR
        )
    if as_json:
        print_json({"group": group, "username": username, "removed": removed})
    else:
        console.print(f"Removed {username} from {group}." if removed else "Nothing to remove.")


@groups_app.command("nest")
def nest(parent: str, child: str, as_json: JsonOption = False) -> None:
    """Put group CHILD inside group PARENT (its members count as PARENT's members)."""
    with reporting_errors(as_json):
        nested = open_registry().directory.nest_group(parent=parent, child=child, actor=ACTOR)
    if as_json:
        print_json({"parent": parent, "child": child, "nested": nested})
    else:
        console.print(f"{child} is inside {parent}.")


@groups_app.command("list")
def list_groups(as_json: JsonOption = False) -> None:
    """List groups with the groups they are nested in."""
    page = open_registry().directory.list_groups(limit=None)
    if as_json:
        print_json({"total": page.total, "groups": [group_document(g) for g in page.groups]})
        return
    table = Table("name", "inside", "id")
    for g in page.groups:
        table.add_row(g.name, ", ".join(g.parents), g.id)
    console.print(table)


def _with_progress(label: str, run: Callable[[ProgressCallback | None], _T], *, show: bool) -> _T:
    """``run(progress)`` with a progress bar on a terminal (``None`` elsewhere or with --json)."""
    if not (show and sys.stdout.isatty()):
        return run(None)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("import", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run(report)
