"""TAP generation and the entropy floor (R25), without a database."""

from __future__ import annotations

import math

import pytest

from ssar.errors import ValidationFailed
from ssar.signin.tap import ALPHABET, MIN_LENGTH, check_length, generate_tap, tap_entropy_bits


def test_R25_minimum_length_is_the_first_with_64_bits() -> None:
    assert MIN_LENGTH == 11
    assert tap_entropy_bits(MIN_LENGTH) >= 64
    assert tap_entropy_bits(MIN_LENGTH - 1) < 64


def test_R25_default_length_tap_has_more_than_64_bits_from_a_readable_alphabet() -> None:
    tap = generate_tap(16)
    assert len(tap) == 16
    assert set(tap) <= set(ALPHABET)
    assert not set("0OIl") & set(ALPHABET)
    assert tap_entropy_bits(16) == pytest.approx(16 * math.log2(58))
    assert tap_entropy_bits(16) > 90


@pytest.mark.parametrize("length", [8, 10])
def test_R25_length_below_entropy_floor_is_refused_naming_the_minimum(length: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        generate_tap(length)
    assert "at least 11 characters" in caught.value.detail
    assert caught.value.field == "length"


def test_R25_length_above_48_is_refused() -> None:
    check_length(48)
    with pytest.raises(ValidationFailed):
        check_length(49)


def test_R25_taps_do_not_repeat() -> None:
    taps = {generate_tap(MIN_LENGTH) for _ in range(2000)}
    assert len(taps) == 2000
    # every alphabet character shows up: the draw covers the whole alphabet
    assert set("".join(taps)) == set(ALPHABET)
