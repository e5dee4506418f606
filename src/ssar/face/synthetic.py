"""Synthetic head turns of a frontal photo, for the tests and the bench only (no camera there).

The face is treated as a texture on a vertical cylinder that turns by ``degrees``: the far side
foreshortens and the landmarks move as on a turned head, so the production pose estimator reads
a yaw of about 0.6x the angle. Positive degrees turn the person to their left (the nose moves
towards the image's right).
"""

from __future__ import annotations

import math

import numpy as np

from ssar.face.detection import FaceBox
from ssar.face.image import RgbImage


def turn_head(image: RgbImage, box: FaceBox, degrees: float, *, radius: float = 0.9) -> RgbImage:
    import cv2

    height, width = image.shape[:2]
    centre = (box.left + box.right) / 2
    r = box.width * radius
    xs = np.arange(width, dtype=np.float32) - centre
    map_x = np.arange(width, dtype=np.float32)
    inside = np.abs(xs) < r
    angle = np.arcsin(np.clip(xs[inside] / r, -1, 1)) - math.radians(degrees)
    map_x[inside] = r * np.sin(np.clip(angle, -np.pi / 2, np.pi / 2)) + centre
    grid_x = np.tile(map_x, (height, 1))
    grid_y = np.tile(np.arange(height, dtype=np.float32)[:, None], (1, width))
    turned = cv2.remap(image, grid_x, grid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(turned, dtype=np.uint8)


def encode_jpeg(image: RgbImage, quality: int = 90) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())
