"""R23: comparing faces and checking liveness write no image, frame or embedding anywhere and
log none of them. An audit hook records every file opened for writing while they run."""

from __future__ import annotations

import logging
import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

from ssar.clock import FixedClock
from ssar.face.image import RgbImage
from ssar.face.liveness import Frame, check_face, issue_challenge
from ssar.face.matching import compare_faces, embed_portrait, embed_selfie
from ssar.face.pose import Pose
from tests.conftest import REPO

from .conftest import png

_recording: list[tuple[str, str]] | None = None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _recording is None or event != "open":
        return
    path, mode, flags = args
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
    )
    if writes:
        _recording.append((str(path), str(mode)))


sys.addaudithook(_hook)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_R23_compare_and_liveness_write_and_log_nothing(
    astronaut: RgbImage,
    pose_frames: dict[Pose, bytes],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    global _recording
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(tmp_path)
    portrait_bytes = png(astronaut)
    before = _files(tmp_path) | _files(REPO / "var")
    caplog.set_level(logging.DEBUG)

    _recording = []
    try:
        portrait = embed_portrait(portrait_bytes)
        compare_faces(reference=portrait, probe=embed_selfie(pose_frames[Pose.STRAIGHT]))
        challenge = issue_challenge(
            nonce="n",
            key=b"k" * 32,
            clock=clock,
            rng=random.Random(0),
        )
        check_face(
            portrait=portrait,
            token=challenge.token,
            frames=[Frame(pose_frames[p]) for p in challenge.poses],
            expected_nonce="n",
            key=b"k" * 32,
            clock=clock,
        )
        opened_for_writing = list(_recording)
    finally:
        _recording = None

    assert opened_for_writing == []
    new_files = (_files(tmp_path) | _files(REPO / "var")) - before
    assert not [p for p in new_files if p.is_relative_to(tmp_path)]
    assert not [p for p in new_files if p.suffix in {".jpg", ".png", ".npy", ".bin"}]
    assert all(r.name.startswith("ssar.face") is False for r in caplog.records)


def test_R23_the_hook_does_see_a_write(tmp_path: Path) -> None:
    """The guard above would notice a write (no vacuous pass)."""
    global _recording
    _recording = []
    try:
        (tmp_path / "x.bin").write_bytes(b"frame")
        seen = list(_recording)
    finally:
        _recording = None
    assert any(path.endswith("x.bin") for path, _ in seen)
