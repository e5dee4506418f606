"""The face tier (pure, in memory only): detect the single usable face, embed it, compare it on
Entra Face Check's confidence scale, and check an active liveness challenge (R20-R23)."""

from ssar.face.calibration import DEFAULT_THRESHOLD, check_threshold, confidence_from_distance
from ssar.face.liveness import (
    Challenge,
    FaceCheckResult,
    Frame,
    LivenessResult,
    check_face,
    issue_challenge,
    read_challenge,
    verify_liveness,
)
from ssar.face.matching import (
    FaceEmbedding,
    MatchResult,
    compare_faces,
    embed_portrait,
    embed_selfie,
)
from ssar.face.pose import Pose

__all__ = [
    "DEFAULT_THRESHOLD",
    "Challenge",
    "FaceCheckResult",
    "FaceEmbedding",
    "Frame",
    "LivenessResult",
    "MatchResult",
    "Pose",
    "check_face",
    "check_threshold",
    "compare_faces",
    "confidence_from_distance",
    "embed_portrait",
    "embed_selfie",
    "issue_challenge",
    "read_challenge",
    "verify_liveness",
]
