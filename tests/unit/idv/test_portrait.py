"""The portrait on a card's front: the largest face, cropped to a JPEG the face check accepts
as its reference, and typed errors when there is none (R21)."""

from __future__ import annotations

from datetime import date

import cv2
import numpy as np
import pytest
from skimage import data

from ssar.face.detection import find_single_face
from ssar.face.image import RgbImage, decode_image
from ssar.face.matching import MIN_PORTRAIT_PX, compare_faces, embed_portrait, embed_selfie
from ssar.idv.errors import DocumentError
from ssar.idv.portrait import extract_portrait
from ssar.idv.testdocs import make_licence


def _png(image: RgbImage) -> bytes:
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def astronaut() -> RgbImage:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="module")
def front(astronaut: RgbImage) -> bytes:
    front, _, _ = make_licence(
        given="Eileen",
        family="Collins",
        birthdate=date(1956, 11, 19),
        portrait_rgb=astronaut,
        issued=date(2024, 1, 2),
        expires=date(2032, 1, 2),
    )
    return front


def test_card_front_is_card_sized_with_a_face_of_at_least_200_px(front: bytes) -> None:
    image = decode_image(front)
    assert image.shape == (638, 1012, 3)
    assert find_single_face(image).box.width >= 200


def test_R21_portrait_from_a_generated_card_is_a_usable_reference(
    front: bytes, astronaut: RgbImage
) -> None:
    jpeg = extract_portrait(front)
    assert jpeg[:2] == b"\xff\xd8"
    portrait = decode_image(jpeg)
    assert min(portrait.shape[:2]) >= MIN_PORTRAIT_PX
    # the face check takes it as the reference, and it matches the person
    match = compare_faces(reference=embed_portrait(jpeg), probe=embed_selfie(_png(astronaut)))
    assert match.match


def test_largest_face_wins_over_a_ghost_image(front: bytes) -> None:
    card = decode_image(front)
    main_face = find_single_face(card).box
    # a smaller second portrait (the ghost image many cards print) in the free corner
    ghost = cv2.resize(card[150:575, 40:380], (170, 212), interpolation=cv2.INTER_AREA)
    card = card.copy()
    card[400:612, 820:990] = ghost
    portrait = decode_image(extract_portrait(_png(card)))
    face = find_single_face(portrait).box
    # the crop is the main portrait's (its face keeps its size), not the ghost's
    assert face.width >= 0.9 * main_face.width


def test_small_face_on_a_low_resolution_photo_is_scaled_to_the_minimum(front: bytes) -> None:
    card = decode_image(front)
    small = cv2.resize(card, (506, 319), interpolation=cv2.INTER_AREA)
    portrait = decode_image(extract_portrait(_png(small)))
    assert min(portrait.shape[:2]) >= MIN_PORTRAIT_PX


def _code(image: bytes) -> str:
    with pytest.raises(DocumentError) as info:
        extract_portrait(image)
    return info.value.code


def test_no_face() -> None:
    blank = np.full((638, 1012, 3), 230, np.uint8)
    assert _code(_png(blank)) == "portrait_not_found"


def test_face_too_small(front: bytes) -> None:
    tiny = cv2.resize(decode_image(front), (253, 160), interpolation=cv2.INTER_AREA)
    assert _code(_png(tiny)) == "portrait_too_small"


def test_blurred_portrait_is_unusable(front: bytes) -> None:
    blurred = cv2.GaussianBlur(decode_image(front), (0, 0), 6)
    assert _code(_png(blurred)) == "portrait_unusable"


@pytest.mark.parametrize("image", [b"", b"garbage", b"\xff\xd8\xff\xe0broken jpeg"])
def test_garbage_image(image: bytes) -> None:
    assert _code(image) == "image_unreadable"
