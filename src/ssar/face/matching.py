"""Embedding a face (dlib's 128-d ResNet on the aligned chip) and comparing two embeddings on
the confidence scale of ``ssar.face.calibration``.

Embeddings live in memory only (R23): they have no ``repr`` of their values, and nothing here
writes or logs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ssar.face.calibration import DEFAULT_THRESHOLD, check_threshold, confidence_from_distance
from ssar.face.detection import MIN_FACE_PX, DetectedFace, find_single_face
from ssar.face.image import RgbImage, decode_image
from ssar.face.models import load_models, model_lock

# a credential portrait must be at least 200x200 px (ICAO portraits are larger)
MIN_PORTRAIT_PX = 200

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FaceEmbedding:
    """A 128-d face embedding. Compare with :func:`compare_faces`, never persist."""

    vector: Vector = field(repr=False)

    def distance(self, other: FaceEmbedding) -> float:
        return float(np.linalg.norm(self.vector - other.vector))


@dataclass(frozen=True)
class MatchResult:
    confidence: float
    threshold: float
    match: bool
    distance: float


def embed_face(face: DetectedFace) -> FaceEmbedding:
    recogniser = load_models().recogniser
    with model_lock:
        vector = np.asarray(recogniser.compute_face_descriptor(face.chip), np.float64)
    vector.setflags(write=False)
    return FaceEmbedding(vector=vector)


def embed_image(
    image: RgbImage, *, min_face_px: int = MIN_FACE_PX, min_image_px: int = 0
) -> FaceEmbedding:
    face = find_single_face(image, min_face_px=min_face_px, min_image_px=min_image_px)
    return embed_face(face)


def embed_portrait(data: bytes) -> FaceEmbedding:
    """The embedding of a credential portrait (at least 200x200 px, one usable face)."""
    return embed_image(decode_image(data), min_image_px=MIN_PORTRAIT_PX)


def embed_selfie(data: bytes) -> FaceEmbedding:
    """The embedding of a live capture (one usable face)."""
    return embed_image(decode_image(data))


def compare_faces(
    *, reference: FaceEmbedding, probe: FaceEmbedding, threshold: float = DEFAULT_THRESHOLD
) -> MatchResult:
    """Whether ``probe`` shows the person of ``reference`` at the profile's threshold (R22)."""
    threshold = check_threshold(threshold)
    distance = reference.distance(probe)
    # the published confidence is the one compared, so the two never disagree
    confidence = round(confidence_from_distance(distance), 1)
    return MatchResult(
        confidence=confidence,
        threshold=threshold,
        match=confidence >= threshold,
        distance=round(distance, 4),
    )
