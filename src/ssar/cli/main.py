"""Entry point of the ``ssar`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from ssar.cli.common import JsonOption, close_opened_registries, open_registry, print_json
from ssar.store.migrate import current_revision

app = typer.Typer(
    name="ssar",
    help="SSAR: self-service account recovery by identity proofing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.call_on_close(close_opened_registries)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOption = False) -> None:
    """Apply pending migrations to the configured database."""
    registry = open_registry(migrate=False)
    registry.migrate()
    revision = current_revision(registry.database.engine)
    if as_json:
        print_json({"revision": revision, "database": registry.database.dialect})
    else:
        typer.echo(f"Database at revision {revision} ({registry.database.dialect}).")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve SSAR (pages, APIs, SCIM). Applies migrations first."""
    import uvicorn

    registry = open_registry()
    # create the keys before workers start, so they all load the same files
    _ = registry.secret_key, registry.signing_key
    registry.close()
    uvicorn.run(
        "ssar.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
    )


def _register_subcommands() -> None:
    from ssar.cli import audit, credential, demo, directory, tap, tokens

    app.add_typer(directory.users_app, name="users")
    app.add_typer(directory.groups_app, name="groups")
    app.add_typer(tap.app, name="tap")
    app.add_typer(tokens.app, name="tokens")
    app.add_typer(credential.app, name="credential")
    from ssar.cli import bench

    app.add_typer(bench.app, name="bench")
    app.add_typer(audit.app, name="audit")
    from ssar.cli.face import app as face_app

    app.add_typer(face_app, name="face")
    from ssar.cli import wallet

    app.add_typer(wallet.app, name="wallet")
    app.command("demo")(demo.demo)
    from ssar.cli import profiles

    app.add_typer(profiles.app, name="profiles")
    from ssar.cli import idv

    app.add_typer(idv.app, name="idv")
    from ssar.cli import admins

    app.add_typer(admins.app, name="admins")


_register_subcommands()


def main() -> None:
    app()
