"""``ssar face compare``: one credential portrait against one probe image (CONTRACTS.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssar.cli.common import EXIT_NEGATIVE, EXIT_USAGE, JsonOption, err_console, print_json
from ssar.face.calibration import DEFAULT_THRESHOLD, MAX_THRESHOLD, MIN_THRESHOLD
from ssar.face.errors import FaceError, UnreadableImage
from ssar.face.matching import compare_faces, embed_portrait, embed_selfie

app = typer.Typer(help="Face matching.", no_args_is_help=True)

ImagePath = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, show_default=False)
]


@app.command("compare")
def compare(
    portrait: ImagePath,
    probe: ImagePath,
    threshold: Annotated[
        float,
        typer.Option(min=MIN_THRESHOLD, max=MAX_THRESHOLD, help="Confidence needed (50-100)."),
    ] = DEFAULT_THRESHOLD,
    as_json: JsonOption = False,
) -> None:
    """Compare the face of PORTRAIT (a credential portrait, at least 200x200 px) with the face
    of PROBE. Exit 1 when either has no single usable face, or when they do not match."""
    which = "portrait"
    try:
        reference = embed_portrait(portrait.read_bytes())
        which = "probe"
        candidate = embed_selfie(probe.read_bytes())
    except FaceError as exc:
        if as_json:
            print_json({"error": exc.code, "image": which, "detail": exc.detail})
        else:
            err_console.print(f"[red]{exc.title} ({which}):[/red] {exc.detail}")
        raise typer.Exit(EXIT_USAGE if isinstance(exc, UnreadableImage) else EXIT_NEGATIVE) from exc
    result = compare_faces(reference=reference, probe=candidate, threshold=threshold)
    if as_json:
        print_json(
            {"confidence": result.confidence, "threshold": result.threshold, "match": result.match}
        )
    else:
        verdict = "match" if result.match else "no match"
        typer.echo(f"{verdict}: confidence {result.confidence:g} (threshold {result.threshold:g})")
    if not result.match:
        raise typer.Exit(EXIT_NEGATIVE)
