"""``ssar wallet``: the reference holder wallet on the command line (demos and tests).

The wallet lives in ``--wallet-dir`` (env ``SSAR_WALLET_DIR``; default ``$SSAR_VAR_DIR/wallet``,
the directory the demo web wallet uses too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from cryptography import x509

from ssar.cli.common import JsonOption, load_settings, print_json, reporting_errors
from ssar.clock import SystemClock
from ssar.errors import ValidationFailed
from ssar.wallet.presenter import Presenter
from ssar.wallet.store import Wallet

app = typer.Typer(help="The reference holder wallet.", no_args_is_help=True)

WalletDirOption = Annotated[
    Path | None,
    typer.Option(
        "--wallet-dir", envvar="SSAR_WALLET_DIR", help="Wallet directory (default var/wallet)."
    ),
]


def _wallet(directory: Path | None) -> Wallet:
    return Wallet(directory or load_settings().var_dir / "wallet")


@app.command("init")
def init(wallet_dir: WalletDirOption = None, as_json: JsonOption = False) -> None:
    """Create the holder key (P-256) unless it exists."""
    wallet = _wallet(wallet_dir)
    with reporting_errors(as_json):
        key = wallet.init()
    if as_json:
        print_json(
            {
                "directory": str(wallet.directory),
                "holder_jwk": key.public_jwk(),
                "thumbprint": key.thumbprint(),
            }
        )
    else:
        typer.echo(f"Wallet at {wallet.directory}; holder key {key.thumbprint()}")


@app.command("import")
def import_credential(
    file: Annotated[Path, typer.Argument(help="An SD-JWT VC issued to this wallet's key.")],
    wallet_dir: WalletDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a credential."""
    wallet = _wallet(wallet_dir)
    with reporting_errors(as_json):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"cannot read {file}: {exc}", field="file") from exc
        stored = wallet.add(text, now=SystemClock().now())
    if as_json:
        print_json({k: v for k, v in stored.to_json().items() if k != "credential"})
    else:
        typer.echo(f"Stored {stored.credential_type or stored.format} as {stored.id}")


@app.command("list")
def list_credentials(wallet_dir: WalletDirOption = None, as_json: JsonOption = False) -> None:
    """The credentials held (never their content)."""
    wallet = _wallet(wallet_dir)
    with reporting_errors(as_json):
        credentials = wallet.credentials()
    if as_json:
        print_json(
            {
                "credentials": [
                    {k: v for k, v in c.to_json().items() if k != "credential"} for c in credentials
                ]
            }
        )
        return
    if not credentials:
        typer.echo("No credentials.")
    for c in credentials:
        typer.echo(f"{c.id}  {c.credential_type or c.format}  from {c.issuer}  ({c.added_at})")


@app.command("present")
def present(
    link: Annotated[str, typer.Argument(help="openid4vp://?client_id=…&request_uri=…")],
    wallet_dir: WalletDirOption = None,
    trust_verifiers: Annotated[
        Path | None,
        typer.Option(
            "--trust-verifiers", help="PEM anchors for x509_san_dns verifiers.", exists=True
        ),
    ] = None,
    authenticated_only: Annotated[
        bool,
        typer.Option(
            "--authenticated-only", help="Refuse redirect_uri: (unauthenticated) verifiers."
        ),
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="GET the redirect_uri the verifier returns.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="HTTP timeout in seconds.")] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Answer a presentation request: disclose only what it asks for, post the response."""
    wallet = _wallet(wallet_dir)
    anchors = (
        x509.load_pem_x509_certificates(trust_verifiers.read_bytes()) if trust_verifiers else []
    )
    with reporting_errors(as_json), httpx.Client(timeout=timeout) as http:
        presenter = Presenter(
            wallet=wallet,
            http=http,
            clock=SystemClock(),
            trusted_verifier_anchors=anchors,
            allow_unauthenticated_verifiers=not authenticated_only,
        )
        outcome = presenter.present_link(link)
        followed = None
        if follow and outcome.redirect_uri is not None:
            try:
                followed = http.get(outcome.redirect_uri, follow_redirects=False).status_code
            except httpx.HTTPError:
                followed = 0
    if as_json:
        print_json(
            {
                "presented": True,
                "client_id": outcome.client_id,
                "response_mode": outcome.response_mode,
                "disclosed": outcome.disclosed,
                "redirect_uri": outcome.redirect_uri,
                **({"followed_status": followed} if followed is not None else {}),
            }
        )
    else:
        typer.echo(f"Presented to {outcome.client_id} ({outcome.response_mode}).")
        if outcome.redirect_uri:
            typer.echo(f"Continue at: {outcome.redirect_uri}")


def _receive_http(timeout: float) -> httpx.Client:
    """The client ``receive`` talks to the issuer with (tests put a transport behind it)."""
    return httpx.Client(timeout=timeout)


@app.command("receive")
def receive(
    offer: Annotated[
        str, typer.Argument(help="openid-credential-offer://?credential_offer_uri=… (or …=offer)")
    ],
    tx_code: Annotated[
        str | None, typer.Option("--tx-code", help="The PIN the issuer showed with the offer.")
    ] = None,
    wallet_dir: WalletDirOption = None,
    timeout: Annotated[float, typer.Option(help="HTTP timeout in seconds.")] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Receive a credential from an OpenID4VCI issuer (pre-authorized code) and store it."""
    from ssar.wallet.receive import Receiver

    wallet = _wallet(wallet_dir)
    with reporting_errors(as_json), _receive_http(timeout) as http:
        wallet.init()
        received = Receiver(wallet=wallet, http=http, clock=SystemClock()).receive(
            offer, tx_code=tx_code
        )
    stored = received.stored
    if as_json:
        print_json(
            {
                "received": True,
                **{k: v for k, v in stored.to_json().items() if k != "credential"},
                "credential_configuration_id": received.credential_configuration_id,
                "claims": sorted(received.claims),
            }
        )
    else:
        typer.echo(
            f"Stored {stored.credential_type or stored.format} from {stored.issuer} as {stored.id}"
        )
