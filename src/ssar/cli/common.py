"""What every command shares: building the registry, JSON output, and exit codes.

Exit codes (CONTRACTS.md): 0 success, 1 a negative result, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from ssar import errors
from ssar.config import Settings
from ssar.registry import Registry

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

console = Console()
err_console = Console(stderr=True)

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2


# registries opened by the running command; the root command closes them when it ends (also
# under CliRunner, where the process lives on and leaked connections would pile up)
_opened: list[Registry] = []


def close_opened_registries() -> None:
    while _opened:
        _opened.pop().close()


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err_console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc


def open_registry(*, migrate: bool = True) -> Registry:
    """The registry for a CLI command; applies pending migrations first (idempotent, and
    serialised across processes on PostgreSQL)."""
    registry = Registry(load_settings())
    _opened.append(registry)
    if migrate:
        registry.migrate()
    return registry


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")


def exit_code_for(exc: errors.SsarError) -> int:
    if isinstance(exc, errors.ConfigurationError | errors.ValidationFailed):
        return EXIT_USAGE
    return EXIT_NEGATIVE


@contextmanager
def reporting_errors(as_json: bool) -> Iterator[None]:
    """Turn the package's errors into a message (or JSON document) and an exit code."""
    try:
        yield
    except errors.SsarError as exc:
        if as_json:
            print_json({"error": exc.code, "detail": exc.detail})
        else:
            err_console.print(f"[red]{exc.title}:[/red] {exc.detail}")
        raise typer.Exit(exit_code_for(exc)) from exc
