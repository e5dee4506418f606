"""Face images for recovery tests, from scikit-image's public-domain ``astronaut`` (always
available): a credential portrait and webcam frames in the head poses a challenge asks for.
Every frame gets fresh pixel noise, so no two encodings are byte-identical (the service refuses
a frame it has seen before, in any flow)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache

import cv2
import numpy as np
from skimage import data

from ssar.face.detection import find_single_face
from ssar.face.errors import FaceError
from ssar.face.image import RgbImage
from ssar.face.synthetic import encode_jpeg, turn_head

# cylinder turns the pose estimator reads as clearly left / right on the astronaut
TURN = {"straight": 0.0, "left": 45.0, "right": -50.0}


@cache
def _astronaut() -> RgbImage:
    return np.ascontiguousarray(data.astronaut())


@cache
def _webcam() -> RgbImage:
    return np.ascontiguousarray(cv2.resize(_astronaut(), (640, 640))[40:520])


def portrait_jpeg() -> bytes:
    """The astronaut's head and shoulders, 300x360 px, as a credential carries it."""
    return encode_jpeg(np.ascontiguousarray(_astronaut()[0:360, 90:390]))


def portrait_data_uri() -> str:
    return "data:image/jpeg;base64," + base64.b64encode(portrait_jpeg()).decode()


def other_portrait_jpeg(image: RgbImage) -> bytes:
    return encode_jpeg(image)


def frames_for(poses: Sequence[str], *, seed: int, image: RgbImage | None = None) -> list[bytes]:
    """Two JPEG frames per pose of ``poses`` (in order), from ``image`` (default: the astronaut
    as a 640x480 webcam frame). A noisy frame the detector cannot read in the asked pose is
    drawn again (a camera gives many frames; the capture page keeps readable ones too)."""
    from ssar.face.image import decode_image
    from ssar.face.pose import classify_yaw, estimate_yaw

    frame = _webcam() if image is None else image
    box = find_single_face(frame).box
    rng = np.random.default_rng(seed)
    frames = []
    for pose in poses:
        turned = turn_head(frame, box, TURN[pose])
        kept = 0
        for _ in range(20):
            noise = rng.integers(-2, 3, size=turned.shape, dtype=np.int16)
            jpeg = encode_jpeg(np.clip(turned.astype(np.int16) + noise, 0, 255).astype(np.uint8))
            decoded = decode_image(jpeg)
            try:
                face = find_single_face(decoded, with_landmarks68=True)
            except FaceError:
                continue
            assert face.landmarks68 is not None
            yaw = estimate_yaw(face.landmarks68, width=decoded.shape[1], height=decoded.shape[0])
            seen = classify_yaw(yaw)
            if seen is None or seen.value != pose:
                continue
            frames.append(jpeg)
            kept += 1
            if kept == 2:
                break
        assert kept == 2, f"could not draw readable {pose} frames"
    return frames


def still_frames(count: int, *, seed: int) -> list[bytes]:
    """A photo held up to the camera: the frontal frame ``count`` times, with sensor noise so
    that the bytes differ but the pose never changes."""
    frame = _webcam()
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        noise = rng.integers(-2, 3, size=frame.shape, dtype=np.int16)
        frames.append(encode_jpeg(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)))
    return frames
