"""Active liveness (R20): a random sequence of head poses bound to the flow's nonce, and the
check of the burst of frames that answers it.

The challenge is stateless: its token carries the poses and the time window, and an HMAC over
them and the flow nonce, so the server verifies it with the flow's nonce and its key alone.
The checks run in this order, each failing with its own error:

1. the token is intact and was issued for ``expected_nonce``        ``ChallengeInvalid``
2. now (and any frame's capture time) lies in the challenge window   ``ChallengeExpired``
3. 2-12 frames, none byte-identical to another or already submitted  ``ReplayedFrames``
4. every frame shows exactly one usable face (R21)                   ``NoFace`` ... ``LowQuality``
5. the poses, read from the 68 landmarks, follow the challenge       ``PoseMismatch``
6. every frame shows the person of the first straight frame          ``FaceChanged``

What this defends against and what it does not: docs/LIVENESS.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ssar.clock import Clock
from ssar.face.calibration import DEFAULT_THRESHOLD
from ssar.face.detection import find_single_face
from ssar.face.errors import (
    ChallengeExpired,
    ChallengeInvalid,
    FaceChanged,
    LivenessError,
    PoseMismatch,
    ReplayedFrames,
)
from ssar.face.image import decode_image
from ssar.face.matching import FaceEmbedding, MatchResult, compare_faces, embed_face
from ssar.face.pose import Pose, classify_yaw, estimate_yaw

DEFAULT_LIFETIME = timedelta(seconds=60)
MAX_FRAMES = 12
# frames of one burst, turned up to ~30 degrees, lie well inside this distance (same person:
# 0.25-0.45 across different photos; different people: 0.70 and more on the calibration set)
SAME_PERSON_MAX_DISTANCE = 0.55
_TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a secret
_MAC_LABEL = b"ssar/face/liveness-challenge/v1\x00"


@dataclass(frozen=True)
class Challenge:
    poses: tuple[Pose, ...]
    issued_at: datetime
    deadline: datetime
    token: str


@dataclass(frozen=True)
class Frame:
    """One captured frame; ``captured_at`` is what the client says, checked against the window."""

    data: bytes = field(repr=False)
    captured_at: datetime | None = None


@dataclass(frozen=True)
class LivenessResult:
    poses: tuple[Pose, ...]
    yaws: tuple[float, ...]
    frame_digests: tuple[str, ...]
    max_identity_distance: float
    embedding: FaceEmbedding = field(repr=False)
    """the sharpest straight frame's embedding, to compare with the portrait"""


@dataclass(frozen=True)
class FaceCheckResult:
    liveness: LivenessResult
    match: MatchResult


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, nonce: str, payload: str) -> bytes:
    message = _MAC_LABEL + nonce.encode("utf-8") + b"\x00" + payload.encode("ascii")
    return hmac.new(key, message, hashlib.sha256).digest()


def random_poses(rng: random.Random) -> tuple[Pose, ...]:
    """2 or 3 poses, each different from the one before, with at least one turn and one
    straight pose (the straight frame is the one compared with the portrait)."""
    while True:
        count = rng.choice((2, 3))
        poses = [rng.choice(list(Pose))]
        while len(poses) < count:
            poses.append(rng.choice([p for p in Pose if p != poses[-1]]))
        if Pose.STRAIGHT in poses and any(p != Pose.STRAIGHT for p in poses):
            return tuple(poses)


def issue_challenge(
    *,
    nonce: str,
    key: bytes,
    clock: Clock,
    lifetime: timedelta = DEFAULT_LIFETIME,
    rng: random.Random | None = None,
) -> Challenge:
    """A fresh challenge for the flow whose nonce is ``nonce``."""
    if not nonce:
        raise ValueError("a challenge needs the flow nonce")
    poses = random_poses(rng or secrets.SystemRandom())
    issued_at = clock.now().astimezone(UTC).replace(microsecond=0)
    deadline = issued_at + lifetime
    body = {
        "poses": [p.value for p in poses],
        "iat": int(issued_at.timestamp()),
        "exp": int(deadline.timestamp()),
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    token = f"{_TOKEN_VERSION}.{payload}.{_b64(_mac(key, nonce, payload))}"
    return Challenge(poses=poses, issued_at=issued_at, deadline=deadline, token=token)


def read_challenge(*, token: str, expected_nonce: str, key: bytes) -> Challenge:
    """The challenge in ``token``, once its MAC shows it was issued for ``expected_nonce``."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _TOKEN_VERSION:
        raise ChallengeInvalid("malformed challenge token")
    _, payload, mac = parts
    try:
        given = _unb64(mac)
    except ValueError as exc:
        raise ChallengeInvalid("malformed challenge token") from exc
    if not hmac.compare_digest(given, _mac(key, expected_nonce, payload)):
        raise ChallengeInvalid("challenge token not issued for this flow")
    try:
        body = json.loads(_unb64(payload))
        poses = tuple(Pose(p) for p in body["poses"])
        issued_at = datetime.fromtimestamp(int(body["iat"]), UTC)
        deadline = datetime.fromtimestamp(int(body["exp"]), UTC)
    except (ValueError, KeyError, TypeError) as exc:
        raise ChallengeInvalid("malformed challenge payload") from exc
    return Challenge(poses=poses, issued_at=issued_at, deadline=deadline, token=token)


def _runs(poses: Sequence[Pose | None]) -> tuple[Pose, ...]:
    """The sequence of poses held, transitions dropped: L L - S S R -> (L, S, R)."""
    runs: list[Pose] = []
    for pose in poses:
        if pose is not None and (not runs or runs[-1] != pose):
            runs.append(pose)
    return tuple(runs)


def verify_liveness(
    *,
    token: str,
    frames: Sequence[Frame],
    expected_nonce: str,
    key: bytes,
    clock: Clock,
    already_seen: Collection[str] = (),
) -> LivenessResult:
    """Check a burst of frames against its challenge; raises a ``LivenessError`` (or the R21
    error of a frame without a single usable face). ``already_seen`` are the digests of frames
    of the flow's earlier attempts (kept in memory for the flow, not stored)."""
    challenge = read_challenge(token=token, expected_nonce=expected_nonce, key=key)
    now = clock.now()
    if not challenge.issued_at <= now <= challenge.deadline:
        raise ChallengeExpired(f"frames checked at {now.isoformat()}, outside the challenge window")
    for frame in frames:
        if frame.captured_at is not None and not (
            challenge.issued_at <= frame.captured_at <= challenge.deadline
        ):
            raise ChallengeExpired("a frame was captured outside the challenge window")
    if not len(challenge.poses) <= len(frames) <= MAX_FRAMES:
        raise LivenessError(
            f"{len(frames)} frames for {len(challenge.poses)} poses (at most {MAX_FRAMES})",
            code="frame_count",
        )
    digests = tuple(hashlib.sha256(frame.data).hexdigest() for frame in frames)
    if len(set(digests)) != len(digests):
        raise ReplayedFrames("the burst repeats a frame byte for byte")
    if any(d in already_seen for d in digests):
        raise ReplayedFrames("a frame of an earlier attempt was submitted again")

    yaws: list[float] = []
    poses: list[Pose | None] = []
    embeddings: list[FaceEmbedding] = []
    sharpness: list[float] = []
    for frame in frames:
        image = decode_image(frame.data)
        face = find_single_face(image, with_landmarks68=True)
        assert face.landmarks68 is not None
        yaw = estimate_yaw(face.landmarks68, width=image.shape[1], height=image.shape[0])
        yaws.append(round(yaw, 1))
        poses.append(classify_yaw(yaw))
        embeddings.append(embed_face(face))
        sharpness.append(face.quality.sharpness)

    seen = _runs(poses)
    if seen != challenge.poses:
        raise PoseMismatch(
            f"poses {[p.value for p in seen]} for challenge {[p.value for p in challenge.poses]}"
        )
    straight = [i for i, pose in enumerate(poses) if pose == Pose.STRAIGHT]
    anchor = embeddings[straight[0]]
    distance = max(anchor.distance(e) for e in embeddings)
    if distance > SAME_PERSON_MAX_DISTANCE:
        raise FaceChanged(f"frames differ by distance {distance:.3f}")
    best = max(straight, key=lambda i: sharpness[i])
    return LivenessResult(
        poses=seen,
        yaws=tuple(yaws),
        frame_digests=digests,
        max_identity_distance=round(distance, 4),
        embedding=embeddings[best],
    )


def check_face(
    *,
    portrait: FaceEmbedding,
    token: str,
    frames: Sequence[Frame],
    expected_nonce: str,
    key: bytes,
    clock: Clock,
    threshold: float = DEFAULT_THRESHOLD,
    already_seen: Collection[str] = (),
) -> FaceCheckResult:
    """One face check: the liveness burst, then its straight frame against the portrait."""
    liveness = verify_liveness(
        token=token,
        frames=frames,
        expected_nonce=expected_nonce,
        key=key,
        clock=clock,
        already_seen=already_seen,
    )
    match = compare_faces(reference=portrait, probe=liveness.embedding, threshold=threshold)
    return FaceCheckResult(liveness=liveness, match=match)
