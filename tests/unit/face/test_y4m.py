"""The Y4M writer behind the fake-camera videos of the browser tests (tests/support/y4m.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ssar.face.image import RgbImage
from tests.support.face_videos import head_turn_angles, still_video
from tests.support.y4m import header, planes_to_rgb, read_y4m, rgb_to_planes, write_y4m


def test_header_and_frame_sizes(tmp_path: Path) -> None:
    frames = [np.full((480, 640, 3), value, np.uint8) for value in (0, 100, 255)]
    path = tmp_path / "three.y4m"
    assert write_y4m(path, frames, fps=10) == 3
    raw = path.read_bytes()
    first = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
    assert raw.startswith(first)
    frame_size = len(b"FRAME\n") + 640 * 480 + 2 * 320 * 240
    assert len(raw) == len(first) + 3 * frame_size
    for i in range(3):
        assert raw[len(first) + i * frame_size :].startswith(b"FRAME\n")
    video = read_y4m(path)
    assert (video.width, video.height, video.fps, video.frame_count) == (640, 480, 10, 3)
    assert video.colour_space == "420jpeg"


def test_known_colours_map_to_bt601_full_range() -> None:
    def ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        y, cb, cr = rgb_to_planes(np.full((2, 2, 3), rgb, np.uint8))
        return int(y[0, 0]), int(cb[0, 0]), int(cr[0, 0])

    assert ycbcr((0, 0, 0)) == (0, 128, 128)
    assert ycbcr((255, 255, 255)) == (255, 128, 128)
    assert ycbcr((255, 0, 0)) == (76, 85, 255)
    assert ycbcr((0, 0, 255)) == (29, 255, 107)


def test_chroma_is_the_mean_of_each_2x2_block() -> None:
    frame = np.zeros((2, 4, 3), np.uint8)
    frame[0, 0] = (255, 0, 0)  # one red pixel of four: a quarter of red's chroma offset
    _, cb, cr = rgb_to_planes(frame)
    assert cb.shape == cr.shape == (1, 2)
    assert int(cr[0, 0]) == round(128 + (255 - 128) / 4)
    assert int(cr[0, 1]) == 128


def test_a_frame_survives_the_round_trip(tmp_path: Path, webcam_frame: RgbImage) -> None:
    path = tmp_path / "one.y4m"
    write_y4m(path, [webcam_frame])
    (back,) = list(read_y4m(path).frames())
    assert back.shape == webcam_frame.shape
    error = np.abs(back.astype(int) - webcam_frame.astype(int))
    # luma is exact to rounding; chroma loses detail inside each 2x2 block only
    assert error.mean() < 3.0
    assert np.percentile(error, 99) < 30
    # the channels are not swapped or inverted: each channel's mean stays put
    for channel in range(3):
        assert abs(back[..., channel].mean() - webcam_frame[..., channel].mean()) < 1.5


def test_planes_to_rgb_inverts_rgb_to_planes_on_flat_colours() -> None:
    for rgb in [(12, 200, 90), (250, 240, 10), (128, 128, 128)]:
        frame = np.full((4, 4, 3), rgb, np.uint8)
        back = planes_to_rgb(*rgb_to_planes(frame))
        assert np.abs(back.astype(int) - frame.astype(int)).max() <= 2


def test_odd_sizes_and_mixed_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        write_y4m(tmp_path / "odd.y4m", [np.zeros((3, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="same size"):
        write_y4m(
            tmp_path / "mixed.y4m", [np.zeros((4, 4, 3), np.uint8), np.zeros((2, 4, 3), np.uint8)]
        )
    assert header(640, 480, Fraction(30000, 1001)).startswith(b"YUV4MPEG2 W640 H480 F30000:1001 ")


def test_face_videos_have_the_expected_shape(tmp_path: Path, astronaut: RgbImage) -> None:
    angles = head_turn_angles()
    assert len(angles) == 4 * 12 + 4 * 3
    assert max(angles) > 0 > min(angles)
    video = read_y4m(still_video(astronaut, tmp_path / "still.y4m", seconds=1.0))
    assert (video.width, video.height, video.frame_count) == (640, 480, 10)
    first, *rest = list(video.frames())
    assert all(np.array_equal(first, frame) for frame in rest)
