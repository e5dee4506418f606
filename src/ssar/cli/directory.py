"""``ssar users`` and ``ssar groups``."""

from __future__ import annotations

import typer

users_app = typer.Typer(help="Directory users.", no_args_is_help=True)
groups_app = typer.Typer(help="Directory groups (nested).", no_args_is_help=True)
