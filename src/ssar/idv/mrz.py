"""Strict parsing of the machine readable zone of ICAO Doc 9303 travel documents (TD1, TD2, TD3).

Every field's character set and every check digit (Part 3 §4.9, weights 7-3-1) is checked; any
defect raises :class:`DocumentError` with a stable code (``mrz_malformed``, ``mrz_check_digit``,
``document_expired``) and a detail naming the field. Layouts: Part 4 (TD3, 2x44), Part 5 (TD1,
3x30), Part 6 (TD2, 2x36).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from ssar.idv.errors import DocumentError

MrzFormat = Literal["TD1", "TD2", "TD3"]

_LINE_LENGTHS: dict[tuple[int, ...], MrzFormat] = {
    (30, 30, 30): "TD1",
    (36, 36): "TD2",
    (44, 44): "TD3",
}
_WEIGHTS = (7, 3, 1)
_MRZ_CHARS = re.compile(r"[A-Z0-9<]*")
# A state or organisation code: three letters, or letters padded with fillers ("D<<").
_STATE = re.compile(r"[A-Z]{3}|[A-Z]{2}<|[A-Z]<<")
_NAME_PART = re.compile(r"[A-Z]+(?:<[A-Z]+)*")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]+<*")
# How far ahead an expiry date may lie (Doc 9303 documents are valid for at most 10 years;
# 20 leaves room for the century decision without guessing wrong for real documents).
_EXPIRY_HORIZON_YEARS = 20


@dataclass(frozen=True, slots=True)
class MrzData:
    """The fields of a machine readable zone whose check digits all passed."""

    format: MrzFormat
    document_type: str  # e.g. "P", "ID", "I", "AC" (fillers removed)
    issuing_state: str  # e.g. "UTO", "D" (fillers removed)
    document_number: str
    family_name: str  # primary identifier, "<" inside it read as a space
    given_names: str  # secondary identifier, "" when the holder has a single name
    nationality: str
    birthdate: str  # ISO 8601 date
    sex: Literal["F", "M", "X"]  # "X": unspecified ("<" in the zone)
    expiry: str  # ISO 8601 date
    optional_data: str  # TD3: personal number; TD1: line 1 optional data; TD2: optional data
    optional_data_2: str = ""  # TD1 line 2 optional data, kept apart for callers that need it


def _malformed(detail: str) -> DocumentError:
    return DocumentError(f"MRZ: {detail}", code="mrz_malformed")


def check_digit(field: str) -> int:
    """The Doc 9303 Part 3 check digit of ``field``: digits count as themselves, A-Z as 10-35,
    the filler ``<`` as 0, weighted 7, 3, 1 repeating, sum modulo 10."""
    total = 0
    for index, char in enumerate(field):
        if "0" <= char <= "9":
            value = ord(char) - 48
        elif "A" <= char <= "Z":
            value = ord(char) - 55
        elif char == "<":
            value = 0
        else:
            raise _malformed(f"character {char!r} is not allowed")
        total += value * _WEIGHTS[index % 3]
    return total % 10


def _expect_check(field: str, digit: str, name: str, *, filler_allowed: bool = False) -> None:
    if filler_allowed and digit == "<" and set(field) <= {"<"}:
        return
    if not digit.isdigit() or int(digit) != check_digit(field):
        raise DocumentError(f"MRZ: check digit of the {name} is wrong", code="mrz_check_digit")


def _strip(field: str) -> str:
    return field.rstrip("<")


def _state(field: str, name: str) -> str:
    if _STATE.fullmatch(field) is None:
        raise _malformed(f"{name} {field!r} is not a three-letter code")
    return _strip(field)


def _names(field: str) -> tuple[str, str]:
    """Primary and secondary identifier from the name field (Part 3 §4.6)."""
    trimmed = _strip(field)
    primary, separator, secondary = trimmed.partition("<<")
    if _NAME_PART.fullmatch(primary) is None:
        raise _malformed("the primary identifier (family name) is missing or malformed")
    if separator and _NAME_PART.fullmatch(secondary) is None:
        raise _malformed("the secondary identifier (given names) is malformed")
    return primary.replace("<", " "), secondary.replace("<", " ")


def _sex(char: str) -> Literal["F", "M", "X"]:
    if char == "F":
        return "F"
    if char == "M":
        return "M"
    if char in ("<", "X"):
        return "X"
    raise _malformed(f"sex {char!r} is not F, M or <")


def _date_parts(field: str, name: str) -> tuple[int, int, int]:
    if len(field) != 6 or not field.isdigit():
        raise _malformed(f"{name} {field!r} is not YYMMDD")
    yy, mm, dd = int(field[:2]), int(field[2:4]), int(field[4:])
    try:
        date(2000, mm, dd)  # a leap year, so 29 February passes here and is checked below
    except ValueError as exc:
        raise _malformed(f"{name} {field!r} is not a calendar date") from exc
    return yy, mm, dd


def _latest_not_after(yy: int, mm: int, dd: int, bound: date, name: str) -> date:
    """The latest date with these two year digits that is on or before ``bound``."""
    century = bound.year - bound.year % 100
    for start in (century, century - 100, century - 200):
        try:
            candidate = date(start + yy, mm, dd)
        except ValueError:  # 29 February in a year that has none
            continue
        if candidate <= bound:
            return candidate
    raise _malformed(f"{name} is not a calendar date")


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _dates(birth: str, expiry: str, today: date | None) -> tuple[date, date]:
    """Birth and expiry with their centuries decided: the birth date lies in the past and the
    expiry date at most 20 years ahead of ``today``. Without a ``today`` the expiry is read in
    2000-2099 and the birth date as the latest one before the expiry."""
    b = _date_parts(birth, "birth date")
    e = _date_parts(expiry, "expiry date")
    if today is not None:
        expiry_date = _latest_not_after(*e, _add_years(today, _EXPIRY_HORIZON_YEARS), "expiry")
        birth_date = _latest_not_after(*b, today, "birth date")
    else:
        expiry_date = _latest_not_after(*e, date(2099, 12, 31), "expiry")
        birth_date = _latest_not_after(*b, expiry_date, "birth date")
    if birth_date >= expiry_date:
        raise _malformed("the birth date is not before the expiry date")
    return birth_date, expiry_date


def _lines(text: str) -> tuple[MrzFormat, list[str]]:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) == 1:  # chip DG1 stores the zone without line breaks
        single = lines[0]
        for lengths in _LINE_LENGTHS:
            if len(single) == sum(lengths):
                width = lengths[0]
                lines = [single[i : i + width] for i in range(0, len(single), width)]
                break
    fmt_or_none = _LINE_LENGTHS.get(tuple(len(line) for line in lines))
    if fmt_or_none is None:
        raise _malformed("the zone is not 3x30 (TD1), 2x36 (TD2) or 2x44 (TD3) characters")
    for line in lines:
        if _MRZ_CHARS.fullmatch(line) is None:
            raise _malformed("only A-Z, 0-9 and < may appear in the zone")
    return fmt_or_none, lines


def _document_number(number: str, digit: str, optional: str) -> tuple[str, str]:
    """The document number and what is left of the optional data. A TD1/TD2 number longer than
    nine characters continues in the optional data, ended by its check digit, and its own check
    digit position holds a filler (Part 5 §4.2.4 note j, Part 6 note j)."""
    if digit == "<" and optional[:1].isalnum():
        extension, _, rest = optional.partition("<")
        if len(extension) < 2 or not extension[-1].isdigit():
            raise _malformed("the long document number is not ended by its check digit")
        full = number + extension[:-1]
        _expect_check(full, extension[-1], "document number")
        return full, rest
    _expect_check(number, digit, "document number")
    return number, optional


def _document_code(field: str, allowed: str) -> str:
    if field[0] not in allowed or not (field[1].isalpha() or field[1] == "<"):
        raise _malformed(f"document code {field!r} is not supported for this format")
    return _strip(field)


def _check_number(number: str) -> str:
    if _DOCUMENT_NUMBER.fullmatch(number) is None:
        raise _malformed("the document number is missing or malformed")
    return _strip(number)


def parse_mrz(text: str, *, now: datetime | None = None) -> MrzData:
    """Parse the machine readable zone ``text`` (lines separated by line breaks, or one run of
    88/90/72 characters as stored in DG1) and check every check digit.

    With ``now`` the expiry is checked (``document_expired`` when it lies before today's UTC
    date) and the two-digit years are read relative to it. Raises :class:`DocumentError`
    (``mrz_malformed``, ``mrz_check_digit``, ``document_expired``).
    """
    if not isinstance(text, str):
        raise _malformed("the zone is not text")
    today = now.astimezone(UTC).date() if now is not None else None
    fmt, lines = _lines(text)
    if fmt == "TD3":
        data = _parse_td3(lines, today)
    elif fmt == "TD2":
        data = _parse_td2(lines, today)
    else:
        data = _parse_td1(lines, today)
    if today is not None and date.fromisoformat(data.expiry) < today:
        raise DocumentError(f"the document expired on {data.expiry}", code="document_expired")
    return data


def _parse_td3(lines: list[str], today: date | None) -> MrzData:
    # Part 4 §4.2.2: line 1 code(2) state(3) name(39); line 2 number(9)+cd, nationality(3),
    # birth(6)+cd, sex, expiry(6)+cd, personal number(14)+cd, composite.
    l1, l2 = lines
    if l1[0] != "P":
        raise _malformed(
            "a 2x44 zone must be a passport (document code P); visas are not supported"
        )
    document_type = _document_code(l1[0:2], "P")
    issuing_state = _state(l1[2:5], "issuing state")
    family, given = _names(l1[5:44])
    number_field = l2[0:9]
    _expect_check(number_field, l2[9], "document number")
    number = _check_number(number_field)
    nationality = _state(l2[10:13], "nationality")
    _expect_check(l2[13:19], l2[19], "birth date")
    sex = _sex(l2[20])
    _expect_check(l2[21:27], l2[27], "expiry date")
    personal = l2[28:42]
    _expect_check(personal, l2[42], "optional data", filler_allowed=True)
    _expect_check(l2[0:10] + l2[13:20] + l2[21:43], l2[43], "composite")
    birth, expiry = _dates(l2[13:19], l2[21:27], today)
    return MrzData(
        format="TD3",
        document_type=document_type,
        issuing_state=issuing_state,
        document_number=number,
        family_name=family,
        given_names=given,
        nationality=nationality,
        birthdate=birth.isoformat(),
        sex=sex,
        expiry=expiry.isoformat(),
        optional_data=_strip(personal),
    )


def _parse_td2(lines: list[str], today: date | None) -> MrzData:
    # Part 6 §4.2.2: line 1 code(2) state(3) name(31); line 2 number(9)+cd, nationality(3),
    # birth(6)+cd, sex, expiry(6)+cd, optional(7), composite.
    l1, l2 = lines
    document_type = _document_code(l1[0:2], "ACI")
    issuing_state = _state(l1[2:5], "issuing state")
    family, given = _names(l1[5:36])
    number, optional = _document_number(l2[0:9], l2[9], l2[28:35])
    number = _check_number(number)
    nationality = _state(l2[10:13], "nationality")
    _expect_check(l2[13:19], l2[19], "birth date")
    sex = _sex(l2[20])
    _expect_check(l2[21:27], l2[27], "expiry date")
    _expect_check(l2[0:10] + l2[13:20] + l2[21:35], l2[35], "composite")
    birth, expiry = _dates(l2[13:19], l2[21:27], today)
    return MrzData(
        format="TD2",
        document_type=document_type,
        issuing_state=issuing_state,
        document_number=number,
        family_name=family,
        given_names=given,
        nationality=nationality,
        birthdate=birth.isoformat(),
        sex=sex,
        expiry=expiry.isoformat(),
        optional_data=_strip(optional),
    )


def _parse_td1(lines: list[str], today: date | None) -> MrzData:
    # Part 5 §4.2.2: line 1 code(2) state(3) number(9)+cd optional(15); line 2 birth(6)+cd, sex,
    # expiry(6)+cd, nationality(3), optional(11), composite; line 3 name(30).
    l1, l2, l3 = lines
    document_type = _document_code(l1[0:2], "ACI")
    issuing_state = _state(l1[2:5], "issuing state")
    number, optional_1 = _document_number(l1[5:14], l1[14], l1[15:30])
    number = _check_number(number)
    _expect_check(l2[0:6], l2[6], "birth date")
    sex = _sex(l2[7])
    _expect_check(l2[8:14], l2[14], "expiry date")
    nationality = _state(l2[15:18], "nationality")
    optional_2 = l2[18:29]
    _expect_check(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29], "composite")
    family, given = _names(l3)
    birth, expiry = _dates(l2[0:6], l2[8:14], today)
    return MrzData(
        format="TD1",
        document_type=document_type,
        issuing_state=issuing_state,
        document_number=number,
        family_name=family,
        given_names=given,
        nationality=nationality,
        birthdate=birth.isoformat(),
        sex=sex,
        expiry=expiry.isoformat(),
        optional_data=_strip(optional_1),
        optional_data_2=_strip(optional_2),
    )
