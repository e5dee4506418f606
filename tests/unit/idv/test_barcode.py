"""PDF417 on the back of a card: the round trip generator -> image -> zxing-cpp -> parser, and
refusing images without exactly one PDF417 (``barcode_unreadable``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import cv2
import numpy as np
import pytest
from skimage import data

from ssar.face.image import RgbImage
from ssar.idv.aamva import parse_aamva
from ssar.idv.barcode import encode_pdf417, read_pdf417, read_pdf417_image
from ssar.idv.errors import DocumentError
from ssar.idv.testdocs import make_licence

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _png(image: RgbImage) -> bytes:
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    assert ok
    return buffer.tobytes()


def _jpeg(image: RgbImage, quality: int = 85) -> bytes:
    ok, buffer = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def portrait() -> RgbImage:
    return np.ascontiguousarray(data.astronaut())


@pytest.mark.parametrize("version", [1, 3, 8, 10])
@pytest.mark.parametrize("jurisdiction", ["CA", "ON"])
def test_round_trip_card_back_to_licence(
    portrait: RgbImage, version: int, jurisdiction: str
) -> None:
    _, back, payload = make_licence(
        given="Eileen Marie",
        family="Collins",
        birthdate=date(1956, 11, 19),
        portrait_rgb=portrait,
        issued=date(2024, 1, 2),
        expires=date(2032, 1, 2),
        jurisdiction=jurisdiction,
        version=version,
        number="C7654321",
    )
    text = read_pdf417(back)
    assert text == payload
    licence = parse_aamva(text, now=NOW)
    assert (licence.given_name, licence.family_name) == ("EILEEN MARIE", "COLLINS")
    assert (licence.birthdate, licence.expiry_date) == ("1956-11-19", "2032-01-02")
    assert (licence.document_number, licence.version) == ("C7654321", version)
    assert licence.jurisdiction == jurisdiction


def test_photo_of_the_back_slightly_skewed_and_compressed_still_reads() -> None:
    # zxing-cpp's PDF417 detector follows a skew of about 2 degrees (at 4 it finds nothing):
    # the capture page asks for a straight photo of the back
    payload = "@\n\x1e\rANSI 636014100001DL00310010DLDAQX1\r"
    symbol = encode_pdf417(payload)
    page = np.full((900, 1200, 3), 200, np.uint8)
    page[300 : 300 + symbol.shape[0], 200 : 200 + symbol.shape[1]] = symbol
    turn = cv2.getRotationMatrix2D((600, 450), 2, 1.0)
    photo = cv2.warpAffine(page, turn, (1200, 900), borderValue=(200, 200, 200))
    assert read_pdf417(_jpeg(photo)) == payload


def test_encode_keeps_control_characters() -> None:
    text = "@\n\x1e\rANSI \x00 tab\t end"
    assert read_pdf417_image(encode_pdf417(text)) == text


def test_encode_refuses_non_ascii() -> None:
    with pytest.raises(ValueError):
        encode_pdf417("Zoë")


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not an image at all", id="garbage-bytes"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, id="broken-png"),
    ],
)
def test_garbage_bytes_are_unreadable(image: bytes) -> None:
    with pytest.raises(DocumentError) as info:
        read_pdf417(image)
    assert info.value.code == "barcode_unreadable"


def test_image_without_pdf417_is_unreadable(portrait: RgbImage) -> None:
    with pytest.raises(DocumentError) as info:
        read_pdf417(_png(portrait))
    assert info.value.code == "barcode_unreadable"


def test_noise_image_is_unreadable() -> None:
    noise = np.random.default_rng(7).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    with pytest.raises(DocumentError) as info:
        read_pdf417(_png(noise))
    assert info.value.code == "barcode_unreadable"


def test_two_symbols_are_refused() -> None:
    first, second = encode_pdf417("FIRST SYMBOL"), encode_pdf417("SECOND SYMBOL")
    height = first.shape[0] + second.shape[0] + 60
    width = max(first.shape[1], second.shape[1]) + 40
    page = np.full((height, width, 3), 255, np.uint8)
    page[20 : 20 + first.shape[0], 20 : 20 + first.shape[1]] = first
    below = 40 + first.shape[0]
    page[below : below + second.shape[0], 20 : 20 + second.shape[1]] = second
    with pytest.raises(DocumentError) as info:
        read_pdf417(_png(page))
    assert info.value.code == "barcode_unreadable"
    assert info.value.detail == "2 PDF417 symbols found"


def test_qr_code_is_not_a_pdf417() -> None:
    import zxingcpp

    code = zxingcpp.create_barcode("@\n\x1e\rANSI ", zxingcpp.BarcodeFormat.QRCode)
    grey = np.asarray(code.to_image(scale=8), np.uint8)
    with pytest.raises(DocumentError) as info:
        read_pdf417(_png(np.stack([grey] * 3, axis=-1)))
    assert info.value.code == "barcode_unreadable"
