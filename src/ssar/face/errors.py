"""The face tier's errors: one class per reason, each with a stable ``code``.

SsarError
└── FaceError                       a face image or a liveness burst failed a check
    ├── UnreadableImage             not a decodable image, or too large (``unreadable_image``)
    ├── NoFace                      no face found (``no_face``)
    ├── ManyFaces                   more than one usable face (``many_faces``)
    ├── TooSmall                    image or face below the minimum size (``too_small``)
    ├── LowQuality                  blurred, too dark, too bright, flat (``low_quality``)
    ├── InvalidThreshold            a threshold outside 50-100 (``invalid_threshold``; also a
    │                               ValidationFailed, so the CLI exits 2)
    └── LivenessError               the active liveness check failed
        ├── ChallengeInvalid        token forged, altered, or issued for another nonce
        ├── ChallengeExpired        frames verified outside the challenge's time window
        ├── ReplayedFrames          byte-identical frames, or frames already submitted
        ├── PoseMismatch            the head poses do not follow the challenged sequence
        └── FaceChanged             the frames do not all show the same person

The user sees one uniform retry message; ``code`` and ``detail`` are for the case record.
"""

from __future__ import annotations

from ssar.errors import SsarError, ValidationFailed


class FaceError(SsarError):
    code = "face_error"
    title = "Face check failed"


class UnreadableImage(FaceError):
    code = "unreadable_image"
    title = "The image could not be read"


class NoFace(FaceError):
    code = "no_face"
    title = "No face found"


class ManyFaces(FaceError):
    code = "many_faces"
    title = "More than one face found"


class TooSmall(FaceError):
    code = "too_small"
    title = "The face is too small"


class LowQuality(FaceError):
    code = "low_quality"
    title = "The image is too blurred or badly lit"


class InvalidThreshold(FaceError, ValidationFailed):
    code = "invalid_threshold"
    title = "Invalid face-check threshold"


class LivenessError(FaceError):
    code = "liveness_failed"
    title = "Liveness check failed"


class ChallengeInvalid(LivenessError):
    code = "challenge_invalid"
    title = "The liveness challenge is not valid for this flow"


class ChallengeExpired(LivenessError):
    code = "challenge_expired"
    title = "The liveness challenge has expired"


class ReplayedFrames(LivenessError):
    code = "replayed_frames"
    title = "The frames were replayed"


class PoseMismatch(LivenessError):
    code = "pose_mismatch"
    title = "The head movements did not follow the challenge"


class FaceChanged(LivenessError):
    code = "face_changed"
    title = "The frames do not all show the same person"
