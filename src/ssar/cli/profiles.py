"""``ssar profiles``: identity verification profiles (apply YAML, list, which, delete, set-mode)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ssar.cli.common import (
    EXIT_NEGATIVE,
    EXIT_USAGE,
    JsonOption,
    console,
    err_console,
    open_registry,
    print_json,
    reporting_errors,
)
from ssar.profiles.models import ProfileDecision
from ssar.profiles.schema import ProfileValidationFailed, parse_yaml

app = typer.Typer(help="Identity verification profiles.", no_args_is_help=True)

ACTOR = "cli"


def _invalid(exc: ProfileValidationFailed, as_json: bool) -> typer.Exit:
    if as_json:
        print_json({"error": exc.code, "detail": exc.detail, "problems": list(exc.problems)})
    else:
        err_console.print("[red]Invalid profiles:[/red]")
        for line in exc.problems:
            err_console.print(f"  {line}", markup=False, highlight=False)
    return typer.Exit(EXIT_USAGE)


@app.command("apply")
def apply(
    file: Annotated[
        Path, typer.Argument(help="YAML with a 'profiles' list (see docs/PROFILES.md).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Create or update the profiles of FILE by name (idempotent); others are left alone."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = f"cannot read {file}: {exc}"
        if as_json:
            print_json({"error": "unreadable_file", "detail": detail})
        else:
            err_console.print(f"[red]Error:[/red] {detail}")
        raise typer.Exit(EXIT_USAGE) from exc
    with reporting_errors(as_json):
        try:
            document = parse_yaml(text)
            report = open_registry().profiles.apply(document, actor=ACTOR)
        except ProfileValidationFailed as exc:
            raise _invalid(exc, as_json) from exc
    if as_json:
        print_json(
            {
                "created": list(report.created),
                "updated": list(report.updated),
                "unchanged": list(report.unchanged),
            }
        )
        return
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
    ):
        if names:
            console.print(f"{label.capitalize()}: {', '.join(names)}", highlight=False)


@app.command("list")
def list_profiles(as_json: JsonOption = False) -> None:
    """The profiles in priority order (the order in which they are tried)."""
    with reporting_errors(as_json):
        profiles = open_registry().profiles.list()
    if as_json:
        print_json({"profiles": [p.to_document() for p in profiles]})
        return
    if not profiles:
        console.print("No profiles. Create some with [bold]ssar profiles apply FILE.yaml[/bold].")
        return
    table = Table("priority", "name", "mode", "provider", "include", "exclude", "privileged")
    for p in profiles:
        table.add_row(
            str(p.priority),
            p.name,
            p.mode,
            p.provider,
            ", ".join(g.name for g in p.include_groups),
            ", ".join(g.name for g in p.exclude_groups),
            "allowed" if p.allow_privileged else "excluded",
        )
    console.print(table)


def decision_document(decision: ProfileDecision) -> dict[str, Any]:
    profile = decision.profile
    return {
        "profile": profile.name if profile else None,
        "reason": decision.reason,
        "code": decision.code,
        "mode": profile.mode if profile else None,
        "provider": profile.provider if profile else None,
        "trace": [
            {"profile": s.profile, "priority": s.priority, "outcome": s.outcome, "detail": s.detail}
            for s in decision.trace
        ],
    }


@app.command("which")
def which(
    username: Annotated[str, typer.Argument(help="The user to look up.")],
    as_json: JsonOption = False,
) -> None:
    """The profile that applies to USERNAME and why. Exit 1 when none applies."""
    with reporting_errors(as_json):
        decision = open_registry().profiles.which(username)
    if as_json:
        print_json(decision_document(decision))
    else:
        name = decision.profile.name if decision.profile else "none"
        console.print(f"Profile: [bold]{name}[/bold]")
        console.print(f"Reason: {decision.reason}", markup=False, highlight=False)
        for step in decision.trace:
            console.print(
                f"  {step.priority:>4}  {step.profile}: {step.outcome} — {step.detail}",
                markup=False,
                highlight=False,
            )
    if decision.profile is None:
        raise typer.Exit(EXIT_NEGATIVE)


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The profile to delete.")],
    as_json: JsonOption = False,
) -> None:
    """Delete a profile."""
    with reporting_errors(as_json):
        open_registry().profiles.delete(name, actor=ACTOR)
    if as_json:
        print_json({"deleted": name})
    else:
        console.print(f"Deleted profile {name}.", highlight=False)


@app.command("set-mode")
def set_mode(
    name: Annotated[str, typer.Argument(help="The profile.")],
    mode: Annotated[str, typer.Argument(help="evaluation | production")],
    as_json: JsonOption = False,
) -> None:
    """Switch a profile between evaluation (nothing changes on the account) and production."""
    with reporting_errors(as_json):
        profile = open_registry().profiles.set_mode(name, mode, actor=ACTOR)
    if as_json:
        print_json({"profile": profile.name, "mode": profile.mode})
    else:
        console.print(f"Profile {profile.name} is in {profile.mode} mode.", highlight=False)
