"""Test documents: specimen driving licences (front with portrait and printed name, back with an
AAMVA PDF417) for the tests, ``ssar idv make-test-documents`` and the demo. Every card says
SPECIMEN; nothing here is a real person's document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ssar.face.image import RgbImage
from ssar.idv.aamva import CANADIAN_JURISDICTIONS, US_JURISDICTIONS
from ssar.idv.barcode import encode_pdf417

CARD_WIDTH, CARD_HEIGHT = 1012, 638  # ID-1 (85.6 x 54 mm) at 300 dpi
PORTRAIT_WIDTH, PORTRAIT_HEIGHT = 340, 425
# the portrait is cropped so the face box (dlib's) is this share of its width: 340 / 1.55 =
# 219 px, above the 200 px a credential portrait needs
FACE_SHARE = 1 / 1.55
# issuer identification numbers of the jurisdictions the tests use (AAMVA's IIN list)
TEST_IINS = {"CA": "636014", "VA": "636000", "NY": "636001", "TX": "636015", "ON": "636012"}
DEFAULT_IIN = "636000"


@dataclass(frozen=True)
class _Holder:
    first: str
    middle: str
    family: str
    birthdate: date
    issued: date
    expires: date
    jurisdiction: str
    number: str
    sex: str


def _date(value: date, *, version: int, canadian: bool) -> str:
    if version == 1 or canadian:
        return value.strftime("%Y%m%d")
    return value.strftime("%m%d%Y")


def _elements(holder: _Holder, *, version: int, document_type: str) -> list[tuple[str, str]]:
    canadian = holder.jurisdiction in CANADIAN_JURISDICTIONS

    def d(value: date) -> str:
        return _date(value, version=version, canadian=canadian)

    sex = {"M": "1", "F": "2"}.get(holder.sex, "9")
    postal = "M5V 2T6" if canadian else "940430000  "
    address = [
        ("DAG", "1 SPECIMEN STREET"),
        ("DAI", "TESTVILLE"),
        ("DAJ", holder.jurisdiction),
        ("DAK", postal),
    ]
    dates = [("DBA", d(holder.expires)), ("DBB", d(holder.birthdate)), ("DBD", d(holder.issued))]
    driving = document_type == "DL"
    if version == 1:
        full = ",".join(p for p in (holder.family, holder.first, holder.middle) if p)
        privileges = [("DAR", "C"), ("DAS", "NONE"), ("DAT", "NONE")] if driving else []
        return [("DAQ", holder.number), ("DAA", full), *address, *privileges, *dates, ("DBC", sex)]
    if version <= 3:
        names = [("DCS", holder.family), ("DCT", f"{holder.first},{holder.middle}".rstrip(","))]
        privileges = [("DCA", "C"), ("DCB", "NONE"), ("DCD", "NONE"), ("DCH", "NONE")]
    else:
        names = [
            ("DCS", holder.family),
            ("DAC", holder.first),
            ("DAD", holder.middle or "NONE"),
            ("DDE", "N"),
            ("DDF", "N"),
            ("DDG", "N"),
        ]
        privileges = [("DCA", "C"), ("DCB", "NONE"), ("DCD", "NONE")]
    return [
        ("DAQ", holder.number),
        *names,
        *(privileges if driving else []),
        *dates,
        ("DBC", sex),
        ("DAY", "BRO"),
        ("DAU", "170 cm" if canadian else "067 in"),
        *address,
        ("DCF", f"SPECIMEN{holder.number}"),
        ("DCG", "CAN" if canadian else "USA"),
    ]


def build_aamva_payload(
    *,
    given: str,
    family: str,
    birthdate: date,
    issued: date,
    expires: date,
    jurisdiction: str = "CA",
    version: int = 10,
    number: str = "S1234567",
    sex: str = "F",
    document_type: str = "DL",
) -> str:
    """The PDF417 text of a specimen card: a DL or ID subfile with the version's mandatory
    elements, and a jurisdiction subfile, laid out as Annex D of the standard says."""
    if jurisdiction not in US_JURISDICTIONS | CANADIAN_JURISDICTIONS:
        raise ValueError(f"unknown jurisdiction {jurisdiction!r}")
    if not 1 <= version <= 10:
        raise ValueError("AAMVA versions 1-10 only")
    if document_type not in ("DL", "ID"):
        raise ValueError("document_type is DL or ID")
    first, _, middle = given.strip().upper().partition(" ")
    holder = _Holder(
        first=first,
        middle=" ".join(middle.split()),
        family=family.strip().upper(),
        birthdate=birthdate,
        issued=issued,
        expires=expires,
        jurisdiction=jurisdiction,
        number=number,
        sex=sex,
    )
    elements = _elements(holder, version=version, document_type=document_type)
    main = document_type + "\n".join(f"{key}{value}" for key, value in elements) + "\r"
    z = "Z" + jurisdiction[0]
    extra = f"{z}{z}A01\r"
    subfiles = [(document_type, main), (z, extra)]
    header_length = 19 if version == 1 else 21
    offset = header_length + 10 * len(subfiles)
    designators = ""
    for kind, text in subfiles:
        designators += f"{kind}{offset:04d}{len(text):04d}"
        offset += len(text)
    jurisdiction_version = "" if version == 1 else "00"
    iin = TEST_IINS.get(jurisdiction, DEFAULT_IIN)
    header = f"@\n\x1e\rANSI {iin}{version:02d}{jurisdiction_version}{len(subfiles):02d}"
    return header + designators + "".join(text for _, text in subfiles)


def _blank_card(colour: tuple[int, int, int]) -> RgbImage:
    card = np.empty((CARD_HEIGHT, CARD_WIDTH, 3), np.uint8)
    card[:] = colour
    return card


def _text(card: RgbImage, text: str, at: tuple[int, int], *, size: float = 1.0) -> None:
    import cv2

    cv2.putText(card, text, at, cv2.FONT_HERSHEY_SIMPLEX, size, (20, 30, 60), 2, cv2.LINE_AA)


def _portrait(portrait_rgb: RgbImage) -> RgbImage:
    """The face of ``portrait_rgb`` cropped and scaled for the card, face at least 200 px."""
    import cv2

    from ssar.face.detection import find_single_face

    box = find_single_face(portrait_rgb).box
    crop_w = box.width / FACE_SHARE
    crop_h = crop_w * PORTRAIT_HEIGHT / PORTRAIT_WIDTH
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    left, top = round(cx - crop_w / 2), round(cy - crop_h * 0.45)
    # pad with a plain background where the crop leaves the photo
    pad = round(max(crop_w, crop_h))
    padded = cv2.copyMakeBorder(portrait_rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[top + pad : top + pad + round(crop_h), left + pad : left + pad + round(crop_w)]
    resized = cv2.resize(crop, (PORTRAIT_WIDTH, PORTRAIT_HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.asarray(resized, np.uint8)


def _png(image: RgbImage) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB array
        raise RuntimeError("PNG encoding failed")
    return bytes(buffer.tobytes())


def make_licence(
    *,
    given: str,
    family: str,
    birthdate: date,
    portrait_rgb: RgbImage,
    issued: date,
    expires: date,
    jurisdiction: str = "CA",
    version: int = 10,
    number: str = "S1234567",
    sex: str = "F",
    document_type: str = "DL",
) -> tuple[bytes, bytes, str]:
    """A specimen card: ``(front PNG, back PNG, PDF417 payload)``. The front shows the
    portrait (face at least 200 px wide) and the printed names and dates; the back the PDF417
    of the payload."""
    import cv2

    payload = build_aamva_payload(
        given=given,
        family=family,
        birthdate=birthdate,
        issued=issued,
        expires=expires,
        jurisdiction=jurisdiction,
        version=version,
        number=number,
        sex=sex,
        document_type=document_type,
    )
    title = "DRIVER LICENSE" if document_type == "DL" else "IDENTIFICATION CARD"
    front = _blank_card((222, 232, 242))
    front[:90] = (40, 70, 130)
    cv2.putText(
        front, f"{jurisdiction}  {title}", (30, 62), cv2.FONT_HERSHEY_SIMPLEX, 1.5,
        (255, 255, 255), 3, cv2.LINE_AA,
    )  # fmt: skip
    top, left = 150, 40
    front[top : top + PORTRAIT_HEIGHT, left : left + PORTRAIT_WIDTH] = _portrait(portrait_rgb)
    x = left + PORTRAIT_WIDTH + 40
    printed = "%Y/%m/%d" if jurisdiction in CANADIAN_JURISDICTIONS else "%m/%d/%Y"
    lines = [
        (f"DL {number}" if document_type == "DL" else f"ID {number}", 1.1),
        (family.upper(), 1.3),
        (given.upper(), 1.3),
        (f"DOB {birthdate.strftime(printed)}   SEX {sex}", 0.9),
        (f"ISS {issued.strftime(printed)}", 0.9),
        (f"EXP {expires.strftime(printed)}", 0.9),
    ]
    for i, (text, size) in enumerate(lines):
        _text(front, text, (x, 190 + i * 62), size=size)
    cv2.putText(
        front, "SPECIMEN", (x, 600), cv2.FONT_HERSHEY_DUPLEX, 1.6, (180, 40, 40), 3, cv2.LINE_AA
    )

    back = _blank_card((235, 235, 235))
    module = encode_pdf417(payload, module_px=1)
    scale = max(1, min((CARD_WIDTH - 80) // module.shape[1], 420 // module.shape[0]))
    dsize = (module.shape[1] * scale, module.shape[0] * scale)
    symbol = np.asarray(cv2.resize(module, dsize, interpolation=cv2.INTER_NEAREST), np.uint8)
    sy, sx = (CARD_HEIGHT - symbol.shape[0]) // 2, (CARD_WIDTH - symbol.shape[1]) // 2
    back[sy : sy + symbol.shape[0], sx : sx + symbol.shape[1]] = symbol
    _text(back, "SPECIMEN - NOT A VALID DOCUMENT", (40, CARD_HEIGHT - 30), size=0.8)
    return _png(front), _png(back), payload
