"""``ssar idv``: the reference identity verification service on its own, and test documents."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ssar.cli.common import JsonOption, console, open_registry, print_json

app = typer.Typer(help="The reference identity verification service.", no_args_is_help=True)


SPECIMEN_PORTRAIT = Path(__file__).resolve().parents[1] / "idv" / "data" / "specimen-portrait.jpg"


def _portrait(path: Path | None) -> object:
    """The holder photo: ``path``, or the shipped specimen portrait (public domain)."""
    from ssar.face.image import decode_image

    return decode_image((path or SPECIMEN_PORTRAIT).read_bytes())


@app.command("make-test-documents")
def make_test_documents(
    out: Annotated[Path, typer.Option(help="Directory for the documents.")] = Path(
        "test-documents"
    ),
    given: Annotated[str, typer.Option(help="Given name(s) on the documents.")] = "Ada",
    family: Annotated[str, typer.Option(help="Family name on the documents.")] = "Lovelace",
    birthdate: Annotated[str, typer.Option(help="YYYY-MM-DD.")] = "1990-12-10",
    portrait: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="A photo of the holder (default: a test portrait)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a specimen driving licence (front and back images with the AAMVA PDF417) and a
    specimen ePassport's chip files (EF.SOD, DG1, DG2, signed by a test CSCA of country UTO,
    which is added to this deployment's CSCA trust list). Nothing here is a real document."""
    from ssar.idv.testdocs import make_licence
    from ssar.idv.testpassport import make_passport

    born = date.fromisoformat(birthdate)
    today = date.today()
    photo = _portrait(portrait)
    front, back, _ = make_licence(
        given=given,
        family=family,
        birthdate=born,
        portrait_rgb=photo,  # type: ignore[arg-type]
        issued=date(today.year - 1, 1, 15),
        expires=date(today.year + 5, born.month, min(born.day, 28)),
    )
    passport = make_passport(
        given=given,
        family=family,
        birthdate=born,
        expiry=date(today.year + 8, 6, 30),
        number="UT" + str(int(hashlib.sha256(f"{given}/{family}".encode()).hexdigest(), 16))[:7],
        portrait_rgb=photo,  # type: ignore[arg-type]
    )
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "licence_front": out / "licence-front.png",
        "licence_back": out / "licence-back.png",
        "passport_sod": out / "EF.SOD",
        "passport_dg1": out / "DG1",
        "passport_dg2": out / "DG2",
    }
    files["licence_front"].write_bytes(front)
    files["licence_back"].write_bytes(back)
    files["passport_sod"].write_bytes(passport.sod)
    files["passport_dg1"].write_bytes(passport.dg1)
    files["passport_dg2"].write_bytes(passport.dg2)
    registry = open_registry(migrate=False)
    trust_dir = registry.settings.var_dir / "idv" / "csca"
    trust_dir.mkdir(parents=True, exist_ok=True)
    csca = trust_dir / f"test-csca-uto-{passport.csca.certificate.serial_number:x}.pem"
    csca.write_bytes(passport.csca_pem)
    document = {k: str(v) for k, v in files.items()} | {"csca_trusted": str(csca)}
    if as_json:
        print_json(document)
        return
    console.print(f"Specimen documents for {given} {family} in [bold]{out}[/bold]:")
    for name, path in document.items():
        console.print(f"  {name}: {path}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Serve the reference identity verification service alone (its pages, OpenID4VCI issuer,
    status lists). ``ssar serve`` includes it too."""
    import uvicorn

    registry = open_registry()
    _ = registry.secret_key, registry.signing_key
    registry.close()
    uvicorn.run(
        "ssar.web.app:create_idv_app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
    )
