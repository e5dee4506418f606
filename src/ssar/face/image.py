"""Decoding untrusted image bytes into an RGB array, in memory only."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ssar.face.errors import UnreadableImage

RgbImage = npt.NDArray[np.uint8]

MAX_IMAGE_BYTES = 15 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000


def _header_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG or JPEG header, to refuse decompression bombs before
    decoding; ``None`` when the header does not say (the decoder's own limit then applies)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height = int.from_bytes(data[i + 5 : i + 7], "big")
                width = int.from_bytes(data[i + 7 : i + 9], "big")
                return width, height
            i += 2 + length
    return None


def decode_image(data: bytes) -> RgbImage:
    """An RGB ``uint8`` array (height, width, 3) from JPEG/PNG/WebP bytes; EXIF orientation is
    applied and an alpha channel dropped."""
    import cv2

    if not data:
        raise UnreadableImage("empty image")
    if len(data) > MAX_IMAGE_BYTES:
        raise UnreadableImage(f"image larger than {MAX_IMAGE_BYTES} bytes")
    dims = _header_dimensions(data)
    if dims is not None and dims[0] * dims[1] > MAX_IMAGE_PIXELS:
        raise UnreadableImage(f"image larger than {MAX_IMAGE_PIXELS} pixels")
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise UnreadableImage("the image could not be decoded") from exc
    if bgr is None or bgr.ndim != 3:
        raise UnreadableImage("the image could not be decoded")
    rgb: RgbImage = np.ascontiguousarray(bgr[:, :, ::-1])
    return rgb
