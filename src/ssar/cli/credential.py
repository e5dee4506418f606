"""``ssar credential verify``: verify one credential or presentation file (CONTRACTS.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ssar.cli.common import EXIT_NEGATIVE, EXIT_USAGE, JsonOption, err_console, print_json
from ssar.clock import SystemClock
from ssar.credentials.statuslist import StaticStatusListFetcher
from ssar.credentials.trust import TrustConfig, load_trust
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError

app = typer.Typer(help="Verifiable credentials.", no_args_is_help=True)


def _usage_error(detail: str, as_json: bool) -> typer.Exit:
    if as_json:
        print_json({"valid": False, "error": "usage_error", "detail": detail})
    else:
        err_console.print(f"[red]Usage error:[/red] {detail}")
    return typer.Exit(EXIT_USAGE)


def _read_trust(path: Path) -> TrustConfig:
    document: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError("the trust file is not a JSON object")
    return load_trust(document)


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return SystemClock().now()
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status_lists(pairs: list[str]) -> StaticStatusListFetcher | None:
    if not pairs:
        return None
    tokens: dict[str, str] = {}
    for pair in pairs:
        uri, sep, file = pair.partition("=")
        if not sep or not uri or not file:
            raise ValueError(f"--status-list {pair!r} is not URI=FILE")
        tokens[uri] = Path(file).read_text(encoding="utf-8").strip()
    return StaticStatusListFetcher(tokens)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="SD-JWT, JWT-VC, or mdoc (raw CBOR or hex text).")],
    trust: Annotated[
        Path, typer.Option("--trust", help="TRUST.json: issuers, x509 anchors, DID methods.")
    ],
    nonce: Annotated[str | None, typer.Option(help="Expected KB-JWT nonce.")] = None,
    audience: Annotated[str | None, typer.Option(help="Expected KB-JWT audience.")] = None,
    now: Annotated[str | None, typer.Option(help="Verify as of this ISO 8601 instant.")] = None,
    require_key_binding: Annotated[
        bool,
        typer.Option("--require-key-binding", help="Refuse presentations without key binding."),
    ] = False,
    status_list: Annotated[
        list[str] | None,
        typer.Option("--status-list", help="URI=FILE: the Status List Token published at URI."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify one credential or presentation; exit 0 valid, 1 invalid, 2 usage error."""
    try:
        data = file.read_bytes()
        trust_config = _read_trust(trust)
        at = _parse_now(now)
        fetcher = _status_lists(status_list or [])
    except (OSError, ValueError, CredentialError) as exc:
        raise _usage_error(str(exc), as_json) from exc
    if require_key_binding and (nonce is None or audience is None):
        raise _usage_error("--require-key-binding needs --nonce and --audience", as_json)
    try:
        result = verify_credential(
            data,
            trust=trust_config,
            now=at,
            expected_nonce=nonce,
            expected_audience=audience,
            require_key_binding=require_key_binding,
            status_fetcher=fetcher,
        )
    except CredentialError as exc:
        if as_json:
            print_json({"valid": False, "error": exc.code, "detail": exc.detail})
        else:
            err_console.print(f"[red]Invalid credential ({exc.code}):[/red] {exc.detail}")
        raise typer.Exit(EXIT_NEGATIVE) from exc
    if as_json:
        print_json(result.to_json())
    else:
        typer.echo(
            f"Valid {result.format} credential from {result.issuer}"
            f" (key binding: {'yes' if result.key_binding else 'no'})"
        )
        for name, value in result.claims.items():
            typer.echo(f"  {name}: {json.dumps(value, ensure_ascii=False)}")
