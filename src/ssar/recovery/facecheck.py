"""One face-check attempt of a recovery flow: frames never seen before (in any flow, R20), the
liveness burst against its challenge, its straight frame against the credential's portrait at
the profile's threshold (R22). Frames, the portrait and embeddings stay in this call (R23): only
SHA-256 digests of frames are stored, to refuse them if they come again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ssar.clock import Clock
from ssar.face.errors import FaceError
from ssar.face.liveness import Frame, check_face
from ssar.face.matching import embed_portrait
from ssar.store.db import Database
from ssar.store.tables import RecoveryFrameRow

#: what the person is told after a failed attempt (the code goes to the case record only)
RETRY_MESSAGES = {
    "no_face": "We couldn't see your face. Face the camera in good light and try again.",
    "many_faces": "We saw more than one face. Make sure you are alone in the picture.",
    "too_small": "Your face was too far away. Move closer to the camera and try again.",
    "low_quality": "The picture was too blurred or too dark. Try again in better light.",
    "pose_mismatch": "We couldn't follow the head movements. Follow each prompt and try again.",
    "challenge_expired": "That took too long. Start again and follow the prompts.",
}
DEFAULT_RETRY = "The face check did not succeed. Follow the prompts and try again."


@dataclass(frozen=True)
class FaceOutcome:
    passed: bool
    code: str  # matched | mismatch | a face or liveness error code
    confidence: float | None
    message: str


def _failed(code: str, confidence: float | None = None) -> FaceOutcome:
    return FaceOutcome(False, code, confidence, RETRY_MESSAGES.get(code, DEFAULT_RETRY))


def run_face_check(
    *,
    portrait: bytes | None,
    token: str,
    frames: Sequence[bytes],
    nonce: str,
    key: bytes,
    clock: Clock,
    threshold: float,
    database: Database,
    flow_id: str,
) -> FaceOutcome:
    if portrait is None:
        return _failed("portrait_missing")
    digests = {hashlib.sha256(frame).hexdigest() for frame in frames}
    now = clock.now()
    with database.transaction() as session:
        seen = set(
            session.execute(
                select(RecoveryFrameRow.digest).where(RecoveryFrameRow.digest.in_(digests))
            ).scalars()
        )
        session.add_all(
            RecoveryFrameRow(digest=digest, flow_id=flow_id, seen_at=now)
            for digest in sorted(digests - seen)
        )
    if seen:
        return _failed("replayed_frames")
    try:
        reference = embed_portrait(portrait)
    except FaceError as exc:
        return _failed(f"portrait_{exc.code}")
    try:
        result = check_face(
            portrait=reference,
            token=token,
            frames=[Frame(data=frame) for frame in frames],
            expected_nonce=nonce,
            key=key,
            clock=clock,
            threshold=threshold,
        )
    except FaceError as exc:
        return _failed(exc.code)
    if not result.match.match:
        return _failed("mismatch", result.match.confidence)
    return FaceOutcome(True, "matched", result.match.confidence, "")
