"""R22: the profile's threshold (50-100, default 70) on Entra Face Check's confidence scale."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest

from ssar.errors import ValidationFailed
from ssar.face.calibration import (
    DEFAULT_THRESHOLD,
    check_threshold,
    confidence_from_distance,
    distance_for_confidence,
    estimated_fmr,
)
from ssar.face.errors import InvalidThreshold
from ssar.face.image import RgbImage
from ssar.face.matching import compare_faces, embed_image, embed_portrait, embed_selfie
from tests.conftest import shared_path


def test_R22_default_threshold_is_70() -> None:
    assert DEFAULT_THRESHOLD == 70


@pytest.mark.parametrize("threshold", [50, 50.0, 70, 99.5, 100])
def test_R22_thresholds_from_50_to_100_are_accepted(threshold: float) -> None:
    assert check_threshold(threshold) == threshold


@pytest.mark.parametrize("threshold", [49.9, 0, -1, 100.1, 1000, math.nan])
def test_R22_thresholds_outside_50_100_are_refused(threshold: float) -> None:
    with pytest.raises(InvalidThreshold) as caught:
        check_threshold(threshold)
    assert isinstance(caught.value, ValidationFailed)  # a usage error: CLI exit 2


def test_R22_confidence_is_monotonic_in_distance_and_clipped() -> None:
    distances = [i / 1000 for i in range(0, 1600)]
    values = [confidence_from_distance(d) for d in distances]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert values[0] == 100.0
    assert values[-1] == 0.0 or values[-1] < 1
    assert all(0.0 <= v <= 100.0 for v in values)


@pytest.mark.parametrize("confidence", [50, 70, 90])
def test_R22_confidence_c_means_estimated_fmr_of_ten_to_minus_c_over_10(confidence: int) -> None:
    distance = distance_for_confidence(confidence)
    assert estimated_fmr(distance) == pytest.approx(10 ** (-confidence / 10), rel=1e-3)


def test_R22_the_same_photo_transformed_matches(astronaut: RgbImage) -> None:
    reference = embed_image(astronaut)
    ok, jpeg = cv2.imencode(".jpg", astronaut[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    darker = (astronaut.astype(np.float32) * 0.7).astype(np.uint8)
    for probe in (embed_selfie(jpeg.tobytes()), embed_image(darker)):
        result = compare_faces(reference=reference, probe=probe)
        assert result.match
        assert result.threshold == 70


def test_R22_match_agrees_with_the_published_confidence(astronaut: RgbImage) -> None:
    reference = embed_image(astronaut)
    result = compare_faces(reference=reference, probe=reference, threshold=100)
    assert result.confidence == 100.0
    assert result.match


def test_R22_compare_refuses_a_bad_threshold(astronaut: RgbImage) -> None:
    embedding = embed_image(astronaut)
    with pytest.raises(InvalidThreshold):
        compare_faces(reference=embedding, probe=embedding, threshold=40)


def test_R23_an_embedding_never_shows_its_values(astronaut: RgbImage) -> None:
    embedding = embed_image(astronaut)
    assert "vector" not in repr(embedding)
    assert str(round(float(embedding.vector[0]), 4)) not in repr(embedding)
    assert not embedding.vector.flags.writeable


def _shared(name: str) -> bytes:
    return shared_path("faces", "tests", "test_images", name).read_bytes()


@pytest.mark.parametrize(
    ("a", "b"),
    [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg"), ("obama2.jpg", "obama3.jpg")],
)
def test_R22_same_person_pairs_match_at_the_default(a: str, b: str) -> None:
    result = compare_faces(reference=embed_portrait(_shared(a)), probe=embed_selfie(_shared(b)))
    assert result.match, result


def test_R22_different_people_do_not_match() -> None:
    obama = embed_portrait(_shared("obama.jpg"))
    biden = embed_selfie(_shared("biden.jpg"))
    result = compare_faces(reference=obama, probe=biden, threshold=50)
    assert not result.match
    assert result.confidence < 20
