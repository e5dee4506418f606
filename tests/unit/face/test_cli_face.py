"""``ssar face compare`` and ``ssar bench face`` (CONTRACTS.md shapes and exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from ssar.cli.main import app
from ssar.face.image import RgbImage

from .conftest import png

runner = CliRunner()


def _write(tmp_path: Path, name: str, image: RgbImage) -> str:
    path = tmp_path / name
    path.write_bytes(png(image))
    return str(path)


def test_compare_same_person_prints_the_contract_document(
    tmp_path: Path, astronaut: RgbImage
) -> None:
    a = _write(tmp_path, "a.png", astronaut)
    b = _write(tmp_path, "b.png", (astronaut * 0.8).astype(np.uint8))
    result = runner.invoke(app, ["face", "compare", a, b, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"confidence", "threshold", "match"}
    assert document["match"] is True
    assert document["threshold"] == 70
    assert 70 <= document["confidence"] <= 100


def test_compare_without_a_face_exits_1_with_no_face(tmp_path: Path, astronaut: RgbImage) -> None:
    a = _write(tmp_path, "a.png", astronaut)
    b = _write(tmp_path, "b.png", np.full((480, 640, 3), 90, np.uint8))
    result = runner.invoke(app, ["face", "compare", a, b, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "no_face"


def test_compare_two_faces_exits_1_with_many_faces(tmp_path: Path, astronaut: RgbImage) -> None:
    a = _write(tmp_path, "a.png", np.ascontiguousarray(np.hstack([astronaut, astronaut])))
    result = runner.invoke(app, ["face", "compare", a, a, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "many_faces"


def test_compare_blurred_exits_1_with_low_quality(tmp_path: Path, astronaut: RgbImage) -> None:
    a = _write(tmp_path, "a.png", astronaut)
    b = _write(tmp_path, "b.png", cv2.GaussianBlur(astronaut, (0, 0), 3))
    result = runner.invoke(app, ["face", "compare", a, b, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "low_quality"


def test_compare_threshold_outside_50_100_is_a_usage_error(
    tmp_path: Path, astronaut: RgbImage
) -> None:
    a = _write(tmp_path, "a.png", astronaut)
    result = runner.invoke(app, ["face", "compare", a, a, "--threshold", "40", "--json"])
    assert result.exit_code == 2


def test_compare_human_output(tmp_path: Path, astronaut: RgbImage) -> None:
    a = _write(tmp_path, "a.png", astronaut)
    result = runner.invoke(app, ["face", "compare", a, a, "--threshold", "90"])
    assert result.exit_code == 0
    assert result.stdout.startswith("match: confidence 100")


def test_bench_face_json() -> None:
    result = runner.invoke(app, ["bench", "face", "--runs", "2", "--seconds", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"detect_embed_ms_p50", "detect_embed_ms_p95", "compare_per_s"} <= set(figures)
    assert all(value > 0 for value in figures.values())
