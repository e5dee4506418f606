"""``ssar credential verify``: verify one credential or presentation file (CONTRACTS.md)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Verifiable credentials.", no_args_is_help=True)
