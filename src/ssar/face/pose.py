"""Head yaw from the 68 landmarks with ``cv2.solvePnP`` against a generic 3D face, and the pose
it stands for.

Poses are named from the person's point of view: ``left`` is the person turning their head to
their own left, which in an unmirrored camera frame points the nose towards the image's right.
"""

from __future__ import annotations

import enum
import math

import numpy as np

# 14 landmarks of a mean 3D face (brows, eye corners, nostrils, mouth, chin), converted to the
# camera's axes (x to the image's right, y down, z away from the camera): the nose is nearest
_MODEL_POINTS = -np.array(
    [
        [6.825897, 6.760612, 4.402142],  # 17 brow, outer end (image left)
        [1.330353, 7.122144, 6.903745],  # 21 brow, inner end
        [-1.330353, 7.122144, 6.903745],  # 22
        [-6.825897, 6.760612, 4.402142],  # 26
        [5.311432, 5.485328, 3.987654],  # 36 eye, outer corner
        [1.789930, 5.393625, 4.413414],  # 39 eye, inner corner
        [-1.789930, 5.393625, 4.413414],  # 42
        [-5.311432, 5.485328, 3.987654],  # 45
        [2.005628, 1.409845, 6.165652],  # 31 nostril
        [-2.005628, 1.409845, 6.165652],  # 35
        [2.774015, -2.080775, 5.048531],  # 48 mouth corner
        [-2.774015, -2.080775, 5.048531],  # 54
        [0.000000, -3.116408, 6.097667],  # 57 lower lip
        [0.000000, -7.415691, 4.070434],  # 8 chin
    ],
    dtype=np.float64,
)
_LANDMARKS = (17, 21, 22, 26, 36, 39, 42, 45, 31, 35, 48, 54, 57, 8)

# |yaw| at most this is "straight"; at least TURN_DEGREES a turn; in between a transition
STRAIGHT_DEGREES = 10.0
TURN_DEGREES = 18.0


class Pose(enum.StrEnum):
    STRAIGHT = "straight"
    LEFT = "left"
    RIGHT = "right"


def estimate_yaw(landmarks68: tuple[tuple[float, float], ...], *, width: int, height: int) -> float:
    """Yaw in degrees: positive when the nose points towards the image's right (the person
    turned to their left), 0 facing the camera."""
    import cv2

    points = np.array([landmarks68[i] for i in _LANDMARKS], dtype=np.float64)
    focal = float(max(width, height))
    camera = np.array(
        [[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]], dtype=np.float64
    )
    ok, rvec, _tvec = cv2.solvePnP(
        _MODEL_POINTS, points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return math.nan
    rotation, _ = cv2.Rodrigues(rvec)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # the way the face looks, camera axes
    return math.degrees(math.atan2(float(forward[0]), float(-forward[2])))


def classify_yaw(yaw: float) -> Pose | None:
    """The pose a yaw stands for, or ``None`` for a transition between poses."""
    if math.isnan(yaw):
        return None
    if abs(yaw) <= STRAIGHT_DEGREES:
        return Pose.STRAIGHT
    if yaw >= TURN_DEGREES:
        return Pose.LEFT
    if yaw <= -TURN_DEGREES:
        return Pose.RIGHT
    return None
