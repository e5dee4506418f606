"""Fake-camera videos of one photo, for the browser tests of the face check (Chromium plays them
with ``--use-file-for-fake-video-capture``; see ``fake_camera_args``).

    head_turn_video(photo_rgb, path)   # straight -> left -> straight -> right, looped by Chromium
    still_video(photo_rgb, path)       # the same frame over and over: a photo held up

The photo is scaled and cropped (edges replicated) into a 640x480 frame with the face about
``FACE_WIDTH`` pixels wide, as a laptop webcam sees a face at arm's length. The head turns are
``ssar.face.synthetic.turn_head`` (the pose estimator reads about 0.6x the angle). Every frame of
the head-turn video carries its own sub-pixel shift and sensor noise, so no two captures of it
are byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssar.face.detection import FaceBox, find_single_face
from ssar.face.synthetic import turn_head
from tests.support.y4m import Rgb, write_y4m

WIDTH, HEIGHT = 640, 480
FPS = 10
FACE_WIDTH = 140
HOLD_SECONDS = 1.2
TRANSITION_FRAMES = 3
LOOPS = 2
# cylinder turns read as clearly left / right on scikit-image's astronaut (yaw ~ +28 / -30)
LEFT_DEGREES = 45.0
RIGHT_DEGREES = -50.0


def fake_camera_args(video: Path) -> list[str]:
    """Chromium flags that make ``video`` the camera and grant camera access without a prompt."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]


def webcam_frame(photo_rgb: Rgb, *, face_width: int = FACE_WIDTH) -> Rgb:
    """``photo_rgb`` scaled so its one face is ``face_width`` px wide, centred in 640x480 (the
    face a little above the middle)."""
    import cv2

    box = find_single_face(photo_rgb).box
    scale = face_width / box.width
    height, width = photo_rgb.shape[:2]
    scaled = cv2.resize(
        photo_rgb,
        (round(width * scale), round(height * scale)),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
    )
    centre_x = (box.left + box.right) / 2 * scale
    centre_y = (box.top + box.bottom) / 2 * scale
    left = round(centre_x - WIDTH / 2)
    top = round(centre_y - HEIGHT * 0.45)
    pad = max(WIDTH, HEIGHT)
    padded = cv2.copyMakeBorder(scaled, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    frame = padded[top + pad : top + pad + HEIGHT, left + pad : left + pad + WIDTH]
    return np.ascontiguousarray(frame, dtype=np.uint8)


def _jittered(frame: Rgb, rng: np.random.Generator) -> Rgb:
    """``frame`` moved by under a pixel, with a little sensor noise."""
    import cv2

    dx, dy = rng.uniform(-0.8, 0.8, size=2)
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float64)
    moved = cv2.warpAffine(
        frame, shift, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )
    noise = rng.normal(0.0, 1.5, size=frame.shape)
    return np.clip(moved.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def head_turn_angles(
    *,
    fps: int = FPS,
    hold_seconds: float = HOLD_SECONDS,
    transition_frames: int = TRANSITION_FRAMES,
    left_degrees: float = LEFT_DEGREES,
    right_degrees: float = RIGHT_DEGREES,
) -> list[float]:
    """The turn of each frame of one loop: straight, left, straight, right, each held
    ``hold_seconds`` with ``transition_frames`` in between (the last leads back to the first)."""
    hold = max(1, round(hold_seconds * fps))
    angles: list[float] = []
    targets = (0.0, left_degrees, 0.0, right_degrees)
    for i, target in enumerate(targets):
        angles.extend([target] * hold)
        following = targets[(i + 1) % len(targets)]
        steps = transition_frames + 1
        angles.extend(target + (following - target) * k / steps for k in range(1, steps))
    return angles


def head_turn_frames(
    photo_rgb: Rgb,
    *,
    seed: int = 0,
    left_degrees: float = LEFT_DEGREES,
    right_degrees: float = RIGHT_DEGREES,
) -> list[Rgb]:
    """The frames of ``head_turn_video``: ``LOOPS`` turns, each with its own jitter and noise,
    so that no frame repeats within 12 s (a challenge that ends straight after a right turn
    would otherwise capture the video's first frame again, byte for byte, which the service
    refuses as a replay)."""
    base = webcam_frame(photo_rgb)
    box: FaceBox = find_single_face(base).box
    rng = np.random.default_rng(seed)
    frames = []
    angles = head_turn_angles(left_degrees=left_degrees, right_degrees=right_degrees)
    for degrees in angles * LOOPS:
        wobble = rng.uniform(-1.5, 1.5)
        frames.append(_jittered(turn_head(base, box, degrees + wobble), rng))
    return frames


def head_turn_video(
    photo_rgb: Rgb,
    path: Path,
    *,
    seed: int = 0,
    left_degrees: float = LEFT_DEGREES,
    right_degrees: float = RIGHT_DEGREES,
) -> Path:
    """A Y4M loop of the person of ``photo_rgb`` looking straight, to their left, straight,
    to their right (6.0 s at 10 fps, twice with other noise), written to ``path``; returns
    ``path``."""
    frames = head_turn_frames(
        photo_rgb, seed=seed, left_degrees=left_degrees, right_degrees=right_degrees
    )
    write_y4m(path, frames, fps=FPS)
    return path


def still_video(photo_rgb: Rgb, path: Path, *, seconds: float = 2.0) -> Path:
    """A Y4M loop of one unchanging frame of ``photo_rgb`` (what a printed photo shows),
    written to ``path``; returns ``path``."""
    frame = webcam_frame(photo_rgb)
    write_y4m(path, [frame] * max(1, round(seconds * FPS)), fps=FPS)
    return path
