"""Face images the tests may always use: scikit-image's public-domain ``astronaut`` (Eileen
Collins) and transformations of it. The labelled photos of ../shared/faces are read in place
through ``shared_path`` (skipped when absent) and never copied into the repository."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from ssar.face.detection import find_single_face
from ssar.face.image import RgbImage
from ssar.face.pose import Pose
from ssar.face.synthetic import encode_jpeg, turn_head

# cylinder turns that the pose estimator reads as clearly left / right on the astronaut
TURN = {Pose.STRAIGHT: 0.0, Pose.LEFT: 45.0, Pose.RIGHT: -50.0}


@pytest.fixture(scope="session")
def astronaut() -> RgbImage:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def webcam_frame(astronaut: RgbImage) -> RgbImage:
    """640x480, face about 110 px wide."""
    return np.ascontiguousarray(cv2.resize(astronaut, (640, 640))[40:520])


@pytest.fixture(scope="session")
def pose_frames(webcam_frame: RgbImage) -> dict[Pose, bytes]:
    box = find_single_face(webcam_frame).box
    return {pose: encode_jpeg(turn_head(webcam_frame, box, deg)) for pose, deg in TURN.items()}


def png(image: RgbImage) -> bytes:
    ok, buf = cv2.imencode(".png", image[:, :, ::-1])
    assert ok
    return buf.tobytes()
