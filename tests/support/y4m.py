"""YUV4MPEG2 (``.y4m``) files from RGB frames, for Chromium's fake camera
(``--use-file-for-fake-video-capture=FILE.y4m``, which loops the file).

The colour space is ``C420jpeg``: BT.601 full range (as in JPEG), chroma subsampled 4:2:0 by
averaging each 2x2 block, chroma sited between the luma samples.

    write_y4m(path, frames, fps=10)   # frames: RGB uint8 arrays (height, width, 3), even sides
    read_y4m(path) -> Y4mVideo        # the header and each frame back as RGB (tests)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

Rgb = npt.NDArray[np.uint8]

FRAME_MARKER = b"FRAME\n"

# BT.601 full range (JFIF): Y in 0-255, Cb/Cr centred on 128
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)
_YCBCR_TO_RGB = np.array(
    [
        [1.0, 0.0, 1.402],
        [1.0, -0.344136, -0.714136],
        [1.0, 1.772, 0.0],
    ]
)


def header(width: int, height: int, fps: Fraction | int = 10) -> bytes:
    rate = Fraction(fps)
    return (
        f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n"
    ).encode("ascii")


def rgb_to_planes(frame: Rgb) -> tuple[Rgb, Rgb, Rgb]:
    """The Y, Cb and Cr planes of one frame (Cb and Cr at half width and height)."""
    height, width = frame.shape[:2]
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError("a frame is an RGB uint8 array (height, width, 3)")
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 needs even sides, not {width}x{height}")
    ycc = frame.astype(np.float64) @ _RGB_TO_YCBCR.T
    ycc[..., 1:] += 128.0
    y = ycc[..., 0]
    chroma = ycc[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))

    def plane(values: npt.NDArray[np.float64]) -> Rgb:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)

    return plane(y), plane(chroma[..., 0]), plane(chroma[..., 1])


def planes_to_rgb(y: Rgb, cb: Rgb, cr: Rgb) -> Rgb:
    """The RGB frame of Y, Cb and Cr planes (chroma repeated over each 2x2 block)."""
    full_cb = np.repeat(np.repeat(cb, 2, axis=0), 2, axis=1).astype(np.float64) - 128.0
    full_cr = np.repeat(np.repeat(cr, 2, axis=0), 2, axis=1).astype(np.float64) - 128.0
    ycc = np.stack([y.astype(np.float64), full_cb, full_cr], axis=-1)
    rgb: npt.NDArray[np.float64] = ycc @ _YCBCR_TO_RGB.T
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def write_y4m(path: Path, frames: Iterable[Rgb], *, fps: Fraction | int = 10) -> int:
    """Write ``frames`` (all the same even size) to ``path``; returns the number written."""
    count = 0
    with path.open("wb") as out:
        size: tuple[int, int] | None = None
        for frame in frames:
            y, cb, cr = rgb_to_planes(frame)
            if size is None:
                size = (frame.shape[1], frame.shape[0])
                out.write(header(*size, fps))
            elif size != (frame.shape[1], frame.shape[0]):
                raise ValueError("all frames of a video have the same size")
            out.write(FRAME_MARKER)
            out.write(y.tobytes())
            out.write(cb.tobytes())
            out.write(cr.tobytes())
            count += 1
    if not count:
        path.unlink()
        raise ValueError("a video needs at least one frame")
    return count


@dataclass(frozen=True)
class Y4mVideo:
    width: int
    height: int
    fps: Fraction
    colour_space: str
    frame_count: int
    path: Path

    def frames(self) -> Iterator[Rgb]:
        """Each frame as RGB."""
        w, h = self.width, self.height
        luma, chroma = w * h, (w // 2) * (h // 2)
        with self.path.open("rb") as src:
            src.readline()
            for _ in range(self.frame_count):
                marker = src.readline()
                if not marker.startswith(b"FRAME"):
                    raise ValueError(f"expected FRAME, got {marker[:20]!r}")
                y = np.frombuffer(src.read(luma), np.uint8).reshape(h, w)
                cb = np.frombuffer(src.read(chroma), np.uint8).reshape(h // 2, w // 2)
                cr = np.frombuffer(src.read(chroma), np.uint8).reshape(h // 2, w // 2)
                yield planes_to_rgb(y, cb, cr)


def read_y4m(path: Path) -> Y4mVideo:
    """The header of a ``C420jpeg`` file written by ``write_y4m`` (frames without parameters)."""
    with path.open("rb") as src:
        first = src.readline()
    if not first.startswith(b"YUV4MPEG2 ") or not first.endswith(b"\n"):
        raise ValueError("not a YUV4MPEG2 file")
    tags = {t[:1]: t[1:] for t in first[10:-1].decode("ascii").split(" ")}
    width, height = int(tags["W"]), int(tags["H"])
    num, den = tags["F"].split(":")
    frame_size = len(FRAME_MARKER) + width * height * 3 // 2
    body = path.stat().st_size - len(first)
    if body % frame_size:
        raise ValueError("the file does not hold a whole number of frames")
    return Y4mVideo(
        width=width,
        height=height,
        fps=Fraction(int(num), int(den)),
        colour_space=tags.get("C", "420jpeg"),
        frame_count=body // frame_size,
        path=path,
    )
