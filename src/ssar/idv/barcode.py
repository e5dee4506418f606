"""The PDF417 symbol on the back of a driving licence or ID card: decoding it from a photo
(zxing-cpp) and, for test documents, drawing one."""

from __future__ import annotations

import numpy as np

from ssar.face.errors import UnreadableImage
from ssar.face.image import RgbImage, decode_image
from ssar.idv.errors import DocumentError

UNREADABLE = "barcode_unreadable"
# a PDF417 symbol holds at most 1,850 text characters; AAMVA payloads are a few hundred
MAX_TEXT_CHARS = 1850


def read_pdf417(image_bytes: bytes) -> str:
    """The text of the one PDF417 symbol on the image (JPEG/PNG/WebP bytes); raises
    :class:`DocumentError` ``barcode_unreadable`` when the image cannot be decoded or shows no
    PDF417, or more than one."""
    try:
        image = decode_image(image_bytes)
    except UnreadableImage as exc:
        raise DocumentError(f"image unreadable: {exc.detail}", code=UNREADABLE) from None
    return read_pdf417_image(image)


def read_pdf417_image(image: RgbImage) -> str:
    """:func:`read_pdf417` on a decoded RGB image."""
    import cv2
    import zxingcpp

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    found = zxingcpp.read_barcodes(
        grey,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.PDF417),
        text_mode=zxingcpp.TextMode.Plain,
    )
    # zxing may report one symbol more than once (found again inverted or downscaled); the
    # same content twice is one symbol
    contents = {barcode.bytes for barcode in found if barcode.valid}
    if not contents:
        raise DocumentError("no PDF417 symbol found", code=UNREADABLE)
    if len(contents) > 1:
        raise DocumentError(f"{len(contents)} PDF417 symbols found", code=UNREADABLE)
    # the AAMVA payload is ASCII; Latin-1 maps every byte, so nothing is lost or guessed and
    # the parser sees exactly what the symbol holds
    text = contents.pop().decode("latin-1")
    if not text or len(text) > MAX_TEXT_CHARS:
        raise DocumentError("PDF417 symbol empty or too long", code=UNREADABLE)
    return text


def encode_pdf417(text: str, *, module_px: int = 3, columns: int = 10) -> RgbImage:
    """An RGB image of a PDF417 symbol holding ``text`` (ASCII), with quiet zones; used to
    make test documents."""
    import zxingcpp

    if not text.isascii():
        raise ValueError("PDF417 test symbols hold ASCII text only")
    barcode = zxingcpp.create_barcode(
        text, zxingcpp.BarcodeFormat.PDF417, ec_level="5", columns=columns
    )
    grey = np.asarray(barcode.to_image(scale=module_px, add_quiet_zones=True), dtype=np.uint8)
    rgb: RgbImage = np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    return rgb
