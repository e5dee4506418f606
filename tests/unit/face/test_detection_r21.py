"""R21: exactly one face of usable size and sharpness, else a distinct, clear reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ssar.face.detection import MIN_SHARPNESS, find_single_face
from ssar.face.errors import LowQuality, ManyFaces, NoFace, TooSmall, UnreadableImage
from ssar.face.image import RgbImage, decode_image
from ssar.face.matching import MIN_PORTRAIT_PX, embed_portrait

from .conftest import png


def test_R21_one_usable_face_is_found(astronaut: RgbImage) -> None:
    face = find_single_face(astronaut)
    assert 80 <= face.box.width <= 120
    assert face.chip.shape == (150, 150, 3)
    assert face.quality.sharpness > MIN_SHARPNESS


def test_R21_no_face_in_a_plain_image() -> None:
    with pytest.raises(NoFace) as caught:
        find_single_face(np.full((480, 640, 3), 128, np.uint8))
    assert caught.value.code == "no_face"


def test_R21_two_faces_are_refused(astronaut: RgbImage) -> None:
    with pytest.raises(ManyFaces) as caught:
        find_single_face(np.ascontiguousarray(np.hstack([astronaut, astronaut])))
    assert caught.value.code == "many_faces"


def test_R21_a_small_face_is_too_small(astronaut: RgbImage) -> None:
    small = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)  # face ~53 px
    with pytest.raises(TooSmall) as caught:
        find_single_face(small)
    assert caught.value.code == "too_small"


def test_R21_a_portrait_under_200_px_is_too_small(astronaut: RgbImage) -> None:
    crop = np.ascontiguousarray(astronaut[40:230, 130:310])  # the face, 180x190
    find_single_face(crop)  # usable as a probe
    with pytest.raises(TooSmall):
        embed_portrait(png(crop))
    assert MIN_PORTRAIT_PX == 200


def test_R21_a_blurred_face_is_low_quality(astronaut: RgbImage) -> None:
    with pytest.raises(LowQuality) as caught:
        find_single_face(cv2.GaussianBlur(astronaut, (0, 0), 2.5))
    assert caught.value.code == "low_quality"


def test_R21_a_dark_face_is_low_quality(astronaut: RgbImage) -> None:
    dark = (astronaut.astype(np.float32) * 0.2).astype(np.uint8)
    with pytest.raises(LowQuality):
        find_single_face(dark)


def test_R21_each_reason_has_its_own_code() -> None:
    codes = {cls.code for cls in (NoFace, ManyFaces, TooSmall, LowQuality, UnreadableImage)}
    assert codes == {"no_face", "many_faces", "too_small", "low_quality", "unreadable_image"}


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_unreadable_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        decode_image(data)


def test_a_decompression_bomb_header_is_refused_before_decoding() -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (50_000).to_bytes(4, "big") * 2
    with pytest.raises(UnreadableImage, match="pixels"):
        decode_image(header + b"\0" * 32)


def test_a_32_bit_png_with_alpha_is_read_as_rgb(astronaut: RgbImage) -> None:
    rgba = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGRA)
    ok, buf = cv2.imencode(".png", rgba)
    assert ok
    assert decode_image(buf.tobytes()).shape == astronaut.shape
