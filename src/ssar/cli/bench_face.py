"""``ssar bench face``: detection + embedding time of a 640x480 frame, comparisons per second,
and one whole face check (portrait embedding cached, 3 challenge frames), in one process.

The frame is scikit-image's public-domain ``astronaut`` (a dev dependency) framed at 640x480;
the challenge frames are synthetic head turns of it (``ssar.face.synthetic``). Nothing is
written anywhere (R23).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime

import numpy as np

from ssar.clock import FixedClock
from ssar.face.detection import find_single_face
from ssar.face.errors import FaceError
from ssar.face.image import RgbImage
from ssar.face.liveness import Frame, check_face, issue_challenge
from ssar.face.matching import compare_faces, embed_face
from ssar.face.models import load_models
from ssar.face.pose import Pose
from ssar.face.synthetic import encode_jpeg, turn_head

BENCH_TURN_DEGREES = {Pose.STRAIGHT: 0.0, Pose.LEFT: 45.0, Pose.RIGHT: -50.0}


def webcam_frame() -> RgbImage:
    """The astronaut at 640x480, her face about 110 px wide, as a webcam would frame it."""
    import cv2
    from skimage import data

    big = cv2.resize(np.ascontiguousarray(data.astronaut()), (640, 640))  # type: ignore[no-untyped-call]
    frame: RgbImage = np.ascontiguousarray(big[40:520, :, :])
    return frame


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(*, runs: int = 20, seconds: float = 1.0) -> dict[str, float]:
    load_models()  # once per process, as the service does; not part of the figures
    frame = webcam_frame()
    times = []
    embedding = None
    for _ in range(runs + 1):
        start = time.perf_counter()
        embedding = embed_face(find_single_face(frame))
        times.append((time.perf_counter() - start) * 1000)
    times = times[1:]
    assert embedding is not None
    other = embed_face(find_single_face(frame[:, ::-1].copy()))
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            compare_faces(reference=embedding, probe=other)
        count += 500
    per_s = count / (time.perf_counter() - start)
    return {
        "detect_embed_ms_p50": round(statistics.median(times), 1),
        "detect_embed_ms_p95": round(_percentile(times, 0.95), 1),
        "compare_per_s": round(per_s, 1),
        "face_check_ms": round(_face_check_ms(frame, embedding), 1),
    }


def _face_check_ms(frame: RgbImage, portrait: object) -> float:
    """One face check: a 3-pose challenge answered with one JPEG frame per pose."""
    clock = FixedClock(datetime.now(UTC))
    key = b"bench-key-0123456789abcdef012345"
    rng = random.Random(3)  # noqa: S311 - a repeatable challenge for the figure, not a secret
    challenge = issue_challenge(nonce="bench-nonce", key=key, clock=clock, rng=rng)
    while len(challenge.poses) != 3:
        challenge = issue_challenge(nonce="bench-nonce", key=key, clock=clock, rng=rng)
    box = find_single_face(frame).box
    frames = [
        Frame(encode_jpeg(turn_head(frame, box, BENCH_TURN_DEGREES[p]))) for p in challenge.poses
    ]
    start = time.perf_counter()
    try:
        check_face(
            portrait=portrait,  # type: ignore[arg-type]
            token=challenge.token,
            frames=frames,
            expected_nonce="bench-nonce",
            key=key,
            clock=clock,
        )
    except FaceError as exc:  # the figure still says how long the work took
        raise RuntimeError(f"bench face check failed: {exc.code}: {exc.detail}") from exc
    return (time.perf_counter() - start) * 1000
