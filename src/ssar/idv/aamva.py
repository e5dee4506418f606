"""Reading the PDF417 payload of a North American driving licence or ID card (AAMVA DL/ID Card
Design Standard, versions 1-10) strictly, and checking its dates and jurisdiction.

The payload (Annex D of the standard)::

    @ LF RS CR                       compliance indicator, element separator, record separator,
                                     segment terminator
    "ANSI " (version 1: or "AAMVA")  file type
    IIN(6) version(2) [jurisdiction version(2), from version 2] entries(2)
    entries x (type(2) offset(4) length(4))           subfile designators
    subfiles: type(2) element LF element LF ... element CR

Each element is a three-letter id and its value (``DAQ``, ``DCS``, ...). Anything that is not
exactly this raises :class:`~ssar.idv.errors.DocumentError` with a stable code; nothing else
escapes (R19).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal

from ssar.idv.errors import DocumentError

COMPLIANCE_INDICATOR = "@"
ELEMENT_SEPARATOR = "\n"
RECORD_SEPARATOR = "\x1e"
SEGMENT_TERMINATOR = "\r"
FILE_TYPE = "ANSI "
FILE_TYPE_V1 = "AAMVA"  # some AAMVA DL/ID-2000 cards (Maryland) carry this file type
HEADER_PREFIX = COMPLIANCE_INDICATOR + ELEMENT_SEPARATOR + RECORD_SEPARATOR + SEGMENT_TERMINATOR
SUPPORTED_VERSIONS = range(1, 11)
DESIGNATOR_LENGTH = 10
MAX_PAYLOAD_CHARS = 10_000  # a PDF417 symbol holds at most 1,850 text characters
MAX_AGE_YEARS = 130

# codes (stable: they go to the case record and the audit log)
MALFORMED = "aamva_malformed"
VERSION_UNSUPPORTED = "aamva_version_unsupported"
MANDATORY_MISSING = "mandatory_element_missing"
ELEMENT_INVALID = "element_invalid"
DATE_INVALID = "date_invalid"
BIRTHDATE_IMPLAUSIBLE = "birthdate_implausible"
EXPIRED = "document_expired"
NOT_YET_VALID = "document_not_yet_valid"
JURISDICTION_UNKNOWN = "jurisdiction_unknown"

_US_STATES = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
_US_TERRITORIES = "AS GU MP PR VI"
_CANADA = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
US_JURISDICTIONS = frozenset(f"{_US_STATES} {_US_TERRITORIES}".split())
CANADIAN_JURISDICTIONS = frozenset(_CANADA.split())

# Mandatory data elements of the DL/ID subfile per version (the "M" rows of the standard's
# element tables). Names are checked separately (version 1: DAA, or DAB and DAC). Elements that
# describe driving privileges are mandatory on driving licences only.
_V1: tuple[str, ...] = ("DAQ", "DAG", "DAI", "DAJ", "DAK", "DBA", "DBB", "DBC", "DBD")
_V2_V3: tuple[str, ...] = (
    *("DBA", "DCS", "DCT", "DBD", "DBB", "DBC", "DAY", "DAU"),
    *("DAG", "DAI", "DAJ", "DAK", "DAQ", "DCF", "DCG"),
)
_V4_ON: tuple[str, ...] = (
    *("DBA", "DCS", "DAC", "DAD", "DBD", "DBB", "DBC", "DAY", "DAU"),
    *("DAG", "DAI", "DAJ", "DAK", "DAQ", "DCF", "DCG", "DDE", "DDF", "DDG"),
)
_DL_ONLY_V1: tuple[str, ...] = ("DAR", "DAS", "DAT")
_DL_ONLY_V2_V3: tuple[str, ...] = ("DCA", "DCB", "DCD", "DCH")
_DL_ONLY_V4_ON: tuple[str, ...] = ("DCA", "DCB", "DCD")


def mandatory_elements(version: int, subfile_type: str) -> tuple[str, ...]:
    """The elements a ``subfile_type`` ("DL" or "ID") subfile of ``version`` must carry."""
    if version == 1:
        common, dl_only = _V1, _DL_ONLY_V1
    elif version <= 3:
        common, dl_only = _V2_V3, _DL_ONLY_V2_V3
    else:
        common, dl_only = _V4_ON, _DL_ONLY_V4_ON
    return common + dl_only if subfile_type == "DL" else common


DocumentType = Literal["driving_licence", "id_card"]
Country = Literal["USA", "CAN"]


@dataclass(frozen=True)
class SubfileDesignator:
    type: str
    offset: int
    length: int


@dataclass(frozen=True)
class AamvaLicence:
    """A parsed and checked AAMVA card. Dates are ISO 8601 (``YYYY-MM-DD``); ``given_name`` holds
    the first and middle names, space-separated, as printed on the card."""

    given_name: str
    family_name: str
    birthdate: str
    document_number: str
    issue_date: str
    expiry_date: str
    jurisdiction: str
    country: Country
    sex: Literal["M", "F", "X"]
    version: int
    jurisdiction_version: int
    iin: str
    document_type: DocumentType
    elements: MappingProxyType[str, str] = field(repr=False)
    subfiles: tuple[SubfileDesignator, ...] = field(repr=False)


@dataclass(frozen=True)
class _Header:
    iin: str
    version: int
    jurisdiction_version: int
    entries: int
    designators: tuple[SubfileDesignator, ...]


def _malformed(detail: str) -> DocumentError:
    return DocumentError(detail, code=MALFORMED)


def _number(text: str, what: str) -> int:
    if len(text) == 0 or not all("0" <= c <= "9" for c in text):
        raise _malformed(f"{what} is not a number")
    return int(text)


def _read_header(payload: str) -> _Header:
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _malformed("payload too long for a PDF417 symbol")
    if not payload.startswith(HEADER_PREFIX):
        raise _malformed("compliance indicator or separators missing")
    file_type = payload[4:9]
    if file_type not in (FILE_TYPE, FILE_TYPE_V1):
        raise _malformed("file type is not 'ANSI '")
    if len(payload) < 17:
        raise _malformed("header truncated")
    iin = payload[9:15]
    _number(iin, "issuer identification number")
    version = _number(payload[15:17], "AAMVA version")
    if version not in SUPPORTED_VERSIONS:
        raise DocumentError(f"AAMVA version {version} not supported", code=VERSION_UNSUPPORTED)
    if file_type == FILE_TYPE_V1 and version != 1:
        raise _malformed("file type 'AAMVA' is only used by version 1")
    if version == 1:
        jurisdiction_version, entries_at = 0, 17
    else:
        jurisdiction_version = _number(payload[17:19], "jurisdiction version")
        entries_at = 19
    entries = _number(payload[entries_at : entries_at + 2], "number of entries")
    if entries < 1:
        raise _malformed("no subfiles")
    header_end = entries_at + 2
    designators_end = header_end + entries * DESIGNATOR_LENGTH
    if len(payload) < designators_end:
        raise _malformed("subfile designators truncated")
    designators = []
    for i in range(entries):
        at = header_end + i * DESIGNATOR_LENGTH
        kind = payload[at : at + 2]
        if not re.fullmatch(r"DL|ID|EN|Z[A-Z]", kind):
            raise _malformed(f"subfile type {kind!r} unknown")
        offset = _number(payload[at + 2 : at + 6], "subfile offset")
        length = _number(payload[at + 6 : at + 10], "subfile length")
        designators.append(SubfileDesignator(type=kind, offset=offset, length=length))
    return _Header(
        iin=iin,
        version=version,
        jurisdiction_version=jurisdiction_version,
        entries=entries,
        designators=tuple(designators),
    )


def _read_subfile(payload: str, designator: SubfileDesignator, *, last: bool) -> dict[str, str]:
    start, end = designator.offset, designator.offset + designator.length
    if designator.length < 3:
        raise _malformed(f"subfile {designator.type} too short")
    if end > len(payload):
        # Cards of several jurisdictions declare a last subfile longer than they encode (the
        # published Maryland 2000 and Virginia 2005 samples); it is accepted only when the
        # payload still ends with a segment terminator, so a cut-off payload is refused.
        if not (last and payload.endswith(SEGMENT_TERMINATOR) and len(payload) - start >= 3):
            raise _malformed(f"subfile {designator.type} truncated")
        end = len(payload)
    text = payload[start:end]
    if not text.startswith(designator.type):
        raise _malformed(f"subfile {designator.type} does not start with its type")
    if not text.endswith(SEGMENT_TERMINATOR):
        raise _malformed(f"subfile {designator.type} without segment terminator")
    body = text[2:-1]
    # some issuers end the last element with a separator before the terminator
    if body.endswith(ELEMENT_SEPARATOR):
        body = body[:-1]
    prefix = "D" if designator.type in ("DL", "ID", "EN") else designator.type
    elements: dict[str, str] = {}
    for item in body.split(ELEMENT_SEPARATOR):
        element_id, value = item[:3], item[3:]
        if not re.fullmatch(r"[A-Z]{3}", element_id) or not element_id.startswith(prefix):
            raise _malformed(f"element id {element_id!r} invalid in subfile {designator.type}")
        if not value.isprintable():
            raise _malformed(f"element {element_id} has control characters")
        if element_id in elements and elements[element_id] != value:
            raise _malformed(f"element {element_id} repeated with another value")
        elements[element_id] = value
    return elements


def _read_subfiles(payload: str, header: _Header) -> dict[str, dict[str, str]]:
    expected = header_length(header.version) + header.entries * DESIGNATOR_LENGTH
    subfiles: dict[str, dict[str, str]] = {}
    for i, designator in enumerate(header.designators):
        # subfiles follow the designators in their order, without gaps or overlaps
        if designator.offset != expected:
            raise _malformed(
                f"subfile {designator.type} at offset {designator.offset}, expected {expected}"
            )
        if designator.type in subfiles:
            raise _malformed(f"subfile {designator.type} repeated")
        last = i == len(header.designators) - 1
        subfiles[designator.type] = _read_subfile(payload, designator, last=last)
        expected = min(designator.offset + designator.length, len(payload))
    if payload[expected:].strip(" \r\n"):
        raise _malformed("data after the last subfile")
    return subfiles


def header_length(version: int) -> int:
    """Characters before the first subfile designator (version 1 has no jurisdiction version)."""
    return 19 if version == 1 else 21


def _parse_date(value: str, *, element: str, country: Country, version: int) -> date:
    if not re.fullmatch(r"[0-9]{8}", value):
        raise DocumentError(f"{element} is not a date", code=DATE_INVALID)
    # version 1 and Canadian cards write CCYYMMDD, US cards from version 2 on MMDDCCYY
    if version == 1 or country == "CAN":
        year, month, day = int(value[0:4]), int(value[4:6]), int(value[6:8])
    else:
        month, day, year = int(value[0:2]), int(value[2:4]), int(value[4:8])
    try:
        return date(year, month, day)
    except ValueError:
        raise DocumentError(f"{element} is not a calendar date", code=DATE_INVALID) from None


def _clean(value: str) -> str:
    return " ".join(value.split())


def _absent(value: str) -> bool:
    return _clean(value).upper() in ("", "NONE", "UNAVL", "UNAVAIL")


def _names(elements: dict[str, str], version: int) -> tuple[str, str]:
    """(given names, family name)."""
    if version == 1:
        if "DAA" in elements:
            parts = [_clean(p) for p in elements["DAA"].split(",")]
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise DocumentError("DAA is not 'family,given[,middle]'", code=ELEMENT_INVALID)
            return " ".join(p for p in parts[1:3] if p), parts[0]
        if "DAB" in elements and "DAC" in elements:
            given = " ".join(_clean(elements[e]) for e in ("DAC", "DAD") if e in elements)
            family, given = _clean(elements["DAB"]), _clean(given)
        else:
            raise DocumentError("name (DAA) missing", code=MANDATORY_MISSING)
    elif version <= 3:
        # DCT: given names, first and middle separated by a comma or a space
        family, given = _clean(elements["DCS"]), _clean(elements["DCT"].replace(",", " "))
    else:
        middle = "" if _absent(elements["DAD"]) else elements["DAD"].replace(",", " ")
        family, given = _clean(elements["DCS"]), _clean(f"{elements['DAC']} {middle}")
    if not family or not given or _absent(family) or _absent(given):
        raise DocumentError("family or given name empty", code=MANDATORY_MISSING)
    return given, family


def _country(elements: dict[str, str], version: int, jurisdiction: str) -> Country:
    if version == 1:
        return "CAN" if jurisdiction in CANADIAN_JURISDICTIONS else "USA"
    value = _clean(elements["DCG"])
    if value == "USA":
        return "USA"
    if value == "CAN":
        return "CAN"
    raise DocumentError(f"country {value!r} is neither USA nor CAN", code=ELEMENT_INVALID)


def _sex(value: str) -> Literal["M", "F", "X"]:
    value = _clean(value)
    if value in ("1", "M"):
        return "M"
    if value in ("2", "F"):
        return "F"
    if value in ("9", "X"):
        return "X"
    raise DocumentError("sex (DBC) is not 1, 2 or 9", code=ELEMENT_INVALID)


def _years_between(earlier: date, later: date) -> int:
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


def parse_aamva(payload: str, *, now: datetime) -> AamvaLicence:
    """The card in ``payload`` (the PDF417 text), checked against the standard and valid at
    ``now``; raises :class:`DocumentError` (and nothing else, R19) otherwise."""
    if not isinstance(payload, str):
        raise _malformed("payload is not text")
    header = _read_header(payload)
    subfiles = _read_subfiles(payload, header)
    main = next((t for t in ("DL", "ID") if t in subfiles), None)
    if main is None:
        raise DocumentError("no DL or ID subfile", code=MANDATORY_MISSING)
    elements = subfiles[main]
    missing = [e for e in mandatory_elements(header.version, main) if e not in elements]
    if missing:
        raise DocumentError(
            f"mandatory elements missing: {', '.join(missing)}", code=MANDATORY_MISSING
        )
    given, family = _names(elements, header.version)

    jurisdiction = _clean(elements["DAJ"])
    country = _country(elements, header.version, jurisdiction)
    known = US_JURISDICTIONS if country == "USA" else CANADIAN_JURISDICTIONS
    if jurisdiction not in known:
        raise DocumentError(
            f"jurisdiction {jurisdiction!r} is not a {country} jurisdiction",
            code=JURISDICTION_UNKNOWN,
        )
    number = _clean(elements["DAQ"])
    if _absent(number):
        raise DocumentError("document number (DAQ) empty", code=MANDATORY_MISSING)

    dates = {
        e: _parse_date(elements[e], element=e, country=country, version=header.version)
        for e in ("DBB", "DBD", "DBA")
    }
    birth, issued, expires = dates["DBB"], dates["DBD"], dates["DBA"]
    today = now.date()
    if birth > today:
        raise DocumentError("birth date in the future", code=BIRTHDATE_IMPLAUSIBLE)
    if _years_between(birth, today) > MAX_AGE_YEARS:
        raise DocumentError(f"born more than {MAX_AGE_YEARS} years ago", code=BIRTHDATE_IMPLAUSIBLE)
    if birth > issued:
        raise DocumentError("born after the card was issued", code=BIRTHDATE_IMPLAUSIBLE)
    if issued > expires:
        raise DocumentError("issued after it expires", code=DATE_INVALID)
    if today < issued:
        raise DocumentError(f"issued on {issued.isoformat()}", code=NOT_YET_VALID)
    if today > expires:
        raise DocumentError(f"expired on {expires.isoformat()}", code=EXPIRED)

    return AamvaLicence(
        given_name=given,
        family_name=family,
        birthdate=birth.isoformat(),
        document_number=number,
        issue_date=issued.isoformat(),
        expiry_date=expires.isoformat(),
        jurisdiction=jurisdiction,
        country=country,
        sex=_sex(elements["DBC"]),
        version=header.version,
        jurisdiction_version=header.jurisdiction_version,
        iin=header.iin,
        document_type="driving_licence" if main == "DL" else "id_card",
        elements=MappingProxyType(dict(elements)),
        subfiles=header.designators,
    )
