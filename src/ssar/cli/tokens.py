"""``ssar tokens``: bearer tokens for the admin API and SCIM."""

from __future__ import annotations

import typer

app = typer.Typer(help="API tokens for the admin API and SCIM.", no_args_is_help=True)
