"""The holder's portrait on the front of a driving licence or ID card: the largest face (the
main portrait, not the smaller ghost image many cards print too), cropped with a margin into a
JPEG the face check can use as its reference. In memory only (R23)."""

from __future__ import annotations

import numpy as np

from ssar.face.detection import (
    DETECT_MAX_SIDE,
    MIN_DETECTION_SCORE,
    MIN_FACE_PX,
    FaceBox,
    find_single_face,
)
from ssar.face.errors import FaceError, UnreadableImage
from ssar.face.image import RgbImage, decode_image
from ssar.face.matching import MIN_PORTRAIT_PX
from ssar.idv.errors import DocumentError

IMAGE_UNREADABLE = "image_unreadable"
PORTRAIT_NOT_FOUND = "portrait_not_found"
PORTRAIT_TOO_SMALL = "portrait_too_small"
PORTRAIT_UNUSABLE = "portrait_unusable"
# margin around dlib's face box (which spans brows to chin), as shares of the box width
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM = 0.45, 0.7, 0.5
JPEG_QUALITY = 92


def _face_boxes(image: RgbImage) -> list[FaceBox]:
    """Every face dlib's detector finds, in original pixels (as ``find_single_face`` looks)."""
    import cv2

    from ssar.face.models import load_models

    detector = load_models().detector
    height, width = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = image
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    for upsample in (0, 1):
        rects, _, _ = detector.run(small, upsample, MIN_DETECTION_SCORE)
        if len(rects):
            break
    return [
        FaceBox(
            left=max(0, round(r.left() / scale)),
            top=max(0, round(r.top() / scale)),
            right=min(width, round(r.right() / scale)),
            bottom=min(height, round(r.bottom() / scale)),
        )
        for r in rects
    ]


def _crop(image: RgbImage, box: FaceBox) -> RgbImage:
    import cv2

    height, width = image.shape[:2]
    left = max(0, round(box.left - MARGIN_SIDE * box.width))
    right = min(width, round(box.right + MARGIN_SIDE * box.width))
    top = max(0, round(box.top - MARGIN_TOP * box.width))
    bottom = min(height, round(box.bottom + MARGIN_BOTTOM * box.width))
    crop = image[top:bottom, left:right]
    shortest = min(crop.shape[:2])
    if shortest < MIN_PORTRAIT_PX:
        # a usable face on a low-resolution photo of the card: scaled up to the minimum size
        factor = MIN_PORTRAIT_PX / shortest
        size = (max(MIN_PORTRAIT_PX, round(crop.shape[1] * factor)),
                max(MIN_PORTRAIT_PX, round(crop.shape[0] * factor)))  # fmt: skip
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC), np.uint8)
    return np.ascontiguousarray(crop)


def extract_portrait(front_image_bytes: bytes) -> bytes:
    """A JPEG (at least 200x200 px) of the largest face on the card's front; raises
    :class:`DocumentError` (``image_unreadable``, ``portrait_not_found``,
    ``portrait_too_small``, ``portrait_unusable``) otherwise."""
    import cv2

    try:
        image = decode_image(front_image_bytes)
    except UnreadableImage as exc:
        raise DocumentError(exc.detail, code=IMAGE_UNREADABLE) from None
    boxes = _face_boxes(image)
    if not boxes:
        raise DocumentError("no face on the document", code=PORTRAIT_NOT_FOUND)
    box = max(boxes, key=lambda b: b.width * b.height)
    if box.width < MIN_FACE_PX:
        raise DocumentError(
            f"portrait face is {box.width} px wide; at least {MIN_FACE_PX} px needed",
            code=PORTRAIT_TOO_SMALL,
        )
    portrait = _crop(image, box)
    try:
        # the same checks (one face, sharp, lit) the face check will apply to it
        find_single_face(portrait, min_image_px=MIN_PORTRAIT_PX)
    except FaceError as exc:
        raise DocumentError(f"portrait unusable: {exc.detail}", code=PORTRAIT_UNUSABLE) from None
    ok, buffer = cv2.imencode(
        ".jpg", portrait[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB array
        raise DocumentError("portrait could not be encoded", code=PORTRAIT_UNUSABLE)
    return bytes(buffer.tobytes())
