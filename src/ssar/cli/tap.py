"""``ssar tap``: Temporary Access Passes."""

from __future__ import annotations

import typer

app = typer.Typer(help="Temporary Access Passes.", no_args_is_help=True)
