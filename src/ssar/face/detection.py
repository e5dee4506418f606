"""Finding the single usable face in an image (R21) and aligning it for the embedding.

Detection runs dlib's HOG detector on a copy scaled down to at most ``DETECT_MAX_SIDE`` pixels
(upsample 0; once more with upsample 1 when nothing is found). A face counts when its box is at
least ``min_face_px`` wide in the original image; alignment (5-point landmarks) and the quality
measures use the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssar.face.errors import LowQuality, ManyFaces, NoFace, TooSmall
from ssar.face.image import RgbImage
from ssar.face.models import load_models, model_lock

DETECT_MAX_SIDE = 1024
MIN_FACE_PX = 80
# HOG scores of the faces in the calibration set are 0.4-2.8; textures (the astronaut's suit
# patches) score 0.04-0.13 and are not faces
MIN_DETECTION_SCORE = 0.25
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# variance of the Laplacian of the grey 150x150 aligned chip: sharp photos measure 85-1900,
# a Gaussian blur of sigma 2 px (at 640 px width) 8-17, sigma 1 px 23-52 (see FACE_ACCURACY.md)
MIN_SHARPNESS = 20.0
MIN_BRIGHTNESS, MAX_BRIGHTNESS = 40.0, 215.0
MIN_CONTRAST = 15.0


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class FaceQuality:
    sharpness: float
    brightness: float
    contrast: float


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face: where it is, how good it is, and its aligned chip (in memory only)."""

    box: FaceBox
    score: float
    quality: FaceQuality
    chip: RgbImage = field(repr=False)
    landmarks68: tuple[tuple[float, float], ...] | None = field(default=None, repr=False)


def _detect(image: RgbImage) -> list[tuple[FaceBox, float]]:
    import cv2

    detector = load_models().detector
    height, width = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = (
        image
        if scale == 1.0
        else cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
    )
    for upsample in (0, 1):
        with model_lock:
            rects, scores, _ = detector.run(small, upsample, MIN_DETECTION_SCORE)
        if len(rects):
            break
    found = []
    for rect, score in zip(rects, scores, strict=True):
        box = FaceBox(
            left=max(0, round(rect.left() / scale)),
            top=max(0, round(rect.top() / scale)),
            right=min(width, round(rect.right() / scale)),
            bottom=min(height, round(rect.bottom() / scale)),
        )
        found.append((box, float(score)))
    return found


def _quality(chip: RgbImage) -> FaceQuality:
    import cv2

    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    # the central part of the chip: the face, not the background the padding brings in
    inner = grey[25:-25, 25:-25]
    return FaceQuality(
        sharpness=float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        brightness=float(inner.mean()),
        contrast=float(inner.std()),
    )


def find_single_face(
    image: RgbImage,
    *,
    min_face_px: int = MIN_FACE_PX,
    min_image_px: int = 0,
    with_landmarks68: bool = False,
) -> DetectedFace:
    """The one usable face of ``image``, aligned; raises ``NoFace``, ``ManyFaces``,
    ``TooSmall`` or ``LowQuality`` (R21)."""
    import dlib

    height, width = image.shape[:2]
    if min(height, width) < min_image_px:
        raise TooSmall(
            f"image is {width}x{height} px; at least {min_image_px}x{min_image_px} needed"
        )
    found = _detect(image)
    if not found:
        raise NoFace("no face found")
    usable = [(box, score) for box, score in found if box.width >= min_face_px]
    if not usable:
        largest = max(box.width for box, _ in found)
        raise TooSmall(f"face is {largest} px wide; at least {min_face_px} px needed")
    if len(usable) > 1:
        raise ManyFaces(f"{len(usable)} faces found")
    box, score = usable[0]
    models = load_models()
    rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
    with model_lock:
        shape = models.shape5(image, rect)
        chip: RgbImage = np.asarray(dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING))
    quality = _quality(chip)
    if quality.sharpness < MIN_SHARPNESS:
        raise LowQuality(f"face too blurred (sharpness {quality.sharpness:.1f} < {MIN_SHARPNESS})")
    if not MIN_BRIGHTNESS <= quality.brightness <= MAX_BRIGHTNESS:
        raise LowQuality(f"face too dark or too bright (mean level {quality.brightness:.0f})")
    if quality.contrast < MIN_CONTRAST:
        raise LowQuality(f"face without contrast (deviation {quality.contrast:.1f})")
    landmarks = None
    if with_landmarks68:
        with model_lock:
            full = models.shape68(image, rect)
        landmarks = tuple((float(full.part(i).x), float(full.part(i).y)) for i in range(68))
    chip.setflags(write=False)
    return DetectedFace(box=box, score=score, quality=quality, chip=chip, landmarks68=landmarks)
