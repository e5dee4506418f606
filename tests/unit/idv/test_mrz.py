"""MRZ parsing: the ICAO Doc 9303 specimens, every check digit, field rules, dates, fuzz (R19)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.idv.errors import DocumentError
from ssar.idv.mrz import MrzData, check_digit, parse_mrz

# The "Utopia" specimens of ICAO Doc 9303 (8th edition, 2021): TD3 from Part 4 Appendix A
# (Figure A-1, the specimen data page), TD1 from Part 5 Appendix A (Figure A-1), TD2 from
# Part 6 Appendix A (Figure A-1). Holder ERIKSSON, ANNA MARIA, born 12 August 1974, document
# valid until 15 April 2012.
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
TD2_SPECIMEN = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _code(text: str, **kwargs: datetime) -> str:
    with pytest.raises(DocumentError) as info:
        parse_mrz(text, **kwargs)
    return info.value.code


def _td3(
    *,
    state: str = "UTO",
    name: str = "ERIKSSON<<ANNA<MARIA",
    number: str = "L898902C3",
    nationality: str = "UTO",
    birth: str = "740812",
    sex: str = "F",
    expiry: str = "320415",
    personal: str = "ZE184226B",
    code: str = "P<",
) -> str:
    """A TD3 zone with correct check digits for the given fields."""
    line1 = (code + state + name).ljust(44, "<")
    number = number.ljust(9, "<")
    personal = personal.ljust(14, "<")
    personal_cd = "<" if set(personal) == {"<"} else str(check_digit(personal))
    line2 = (
        number
        + str(check_digit(number))
        + nationality
        + birth
        + str(check_digit(birth))
        + sex
        + expiry
        + str(check_digit(expiry))
        + personal
        + personal_cd
    )
    line2 += str(check_digit(line2[0:10] + line2[13:20] + line2[21:43]))
    return f"{line1}\n{line2}"


def _replace(text: str, line: int, position: int, char: str) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:position] + char + lines[line][position + 1 :]
    return "\n".join(lines)


# --- specimens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "number", "doc_type", "optional"),
    [
        (TD3_SPECIMEN, "TD3", "L898902C3", "P", "ZE184226B"),
        (TD1_SPECIMEN, "TD1", "D23145890", "I", ""),
        (TD2_SPECIMEN, "TD2", "D23145890", "I", ""),
    ],
)
def test_icao_specimens_parse(
    text: str, fmt: str, number: str, doc_type: str, optional: str
) -> None:
    data = parse_mrz(text)
    assert data == MrzData(
        format=fmt,  # type: ignore[arg-type]
        document_type=doc_type,
        issuing_state="UTO",
        document_number=number,
        family_name="ERIKSSON",
        given_names="ANNA MARIA",
        nationality="UTO",
        birthdate="1974-08-12",
        sex="F",
        expiry="2012-04-15",
        optional_data=optional,
    )


@pytest.mark.parametrize("text", [TD3_SPECIMEN, TD1_SPECIMEN, TD2_SPECIMEN])
def test_specimens_are_expired_today(text: str) -> None:
    assert _code(text, now=NOW) == "document_expired"


def test_specimen_valid_on_its_last_day() -> None:
    assert parse_mrz(TD3_SPECIMEN, now=datetime(2012, 4, 15, 23, 59, tzinfo=UTC)).expiry == (
        "2012-04-15"
    )
    assert _code(TD3_SPECIMEN, now=datetime(2012, 4, 16, tzinfo=UTC)) == "document_expired"


def test_dg1_run_without_line_breaks() -> None:
    assert parse_mrz(TD3_SPECIMEN.replace("\n", "")).format == "TD3"
    assert parse_mrz(TD1_SPECIMEN.replace("\n", "")).format == "TD1"
    assert parse_mrz(TD2_SPECIMEN.replace("\n", "")).format == "TD2"


def test_crlf_and_surrounding_whitespace() -> None:
    assert parse_mrz("  " + TD3_SPECIMEN.replace("\n", "\r\n") + "\n").document_number == (
        "L898902C3"
    )


# --- check digits --------------------------------------------------------------------------


def test_check_digit_examples_from_part_3() -> None:
    # Doc 9303 Part 3 §4.9 worked example: date 520727 has check digit 3.
    assert check_digit("520727") == 3
    assert check_digit("L898902C3") == 6
    assert check_digit("<<<<") == 0


@pytest.mark.parametrize(
    ("text", "line", "position", "field"),
    [
        (TD3_SPECIMEN, 1, 9, "document number"),
        (TD3_SPECIMEN, 1, 19, "birth date"),
        (TD3_SPECIMEN, 1, 27, "expiry date"),
        (TD3_SPECIMEN, 1, 42, "optional data"),
        (TD3_SPECIMEN, 1, 43, "composite"),
        (TD1_SPECIMEN, 0, 14, "document number"),
        (TD1_SPECIMEN, 1, 6, "birth date"),
        (TD1_SPECIMEN, 1, 14, "expiry date"),
        (TD1_SPECIMEN, 1, 29, "composite"),
        (TD2_SPECIMEN, 1, 9, "document number"),
        (TD2_SPECIMEN, 1, 19, "birth date"),
        (TD2_SPECIMEN, 1, 27, "expiry date"),
        (TD2_SPECIMEN, 1, 35, "composite"),
    ],
)
def test_every_check_digit_is_checked(text: str, line: int, position: int, field: str) -> None:
    original = text.split("\n")[line][position]
    for digit in "0123456789<":
        if digit == original:
            continue
        with pytest.raises(DocumentError) as info:
            parse_mrz(_replace(text, line, position, digit))
        assert info.value.code == "mrz_check_digit", digit
        assert field in info.value.detail


@pytest.mark.parametrize(
    ("text", "line", "position", "char", "field"),
    [
        # a changed data character with its own check digit left alone
        (TD3_SPECIMEN, 1, 3, "7", "document number"),
        (TD3_SPECIMEN, 1, 15, "9", "birth date"),
        (TD3_SPECIMEN, 1, 23, "5", "expiry date"),
        (TD3_SPECIMEN, 1, 30, "X", "optional data"),
        (TD1_SPECIMEN, 0, 6, "3", "document number"),
        (TD1_SPECIMEN, 0, 20, "X", "composite"),  # optional data: only the composite covers it
        (TD1_SPECIMEN, 1, 20, "X", "composite"),
        (TD2_SPECIMEN, 1, 30, "X", "composite"),
    ],
)
def test_changed_field_fails_its_check_digit(
    text: str, line: int, position: int, char: str, field: str
) -> None:
    with pytest.raises(DocumentError) as info:
        parse_mrz(_replace(text, line, position, char))
    assert info.value.code == "mrz_check_digit"
    assert field in info.value.detail


def test_empty_personal_number_may_have_filler_check_digit() -> None:
    assert parse_mrz(_td3(personal="")).optional_data == ""
    zero = _replace(_td3(personal=""), 1, 42, "0")
    zero = _replace(zero, 1, 43, str(check_digit(zero[45:55] + zero[58:65] + zero[66:88])))
    assert parse_mrz(zero).optional_data == ""


def test_filler_check_digit_refused_when_personal_number_present() -> None:
    text = _replace(TD3_SPECIMEN, 1, 42, "<")
    with pytest.raises(DocumentError) as info:
        parse_mrz(text)
    assert info.value.code == "mrz_check_digit"
    assert "optional data" in info.value.detail


def test_td1_long_document_number() -> None:
    # Part 5 §4.2.4: number D23145890734 (check digit 9): nine characters, a filler at the check
    # digit position, the remaining characters and the check digit in the optional data.
    number = "D23145890734"
    assert check_digit(number) == 9
    line1 = "I<UTO" + number[:9] + "<" + number[9:] + "9"
    line1 = line1.ljust(30, "<")
    line2 = "7408122F1204159UTO<<<<<<<<<<<"
    line2 += str(check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]))
    data = parse_mrz(f"{line1}\n{line2}\nERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    assert data.document_number == number
    assert data.optional_data == ""
    broken = _replace(f"{line1}\n{line2}\nERIKSSON<<ANNA<MARIA<<<<<<<<<<", 0, 18, "8")
    assert _code(broken) == "mrz_check_digit"


# --- fields --------------------------------------------------------------------------------


def test_names_single_name_and_multi_part_family_name() -> None:
    data = parse_mrz(_td3(name="VAN<DER<BERG<<JAN"))
    assert (data.family_name, data.given_names) == ("VAN DER BERG", "JAN")
    data = parse_mrz(_td3(name="MADONNA"))
    assert (data.family_name, data.given_names) == ("MADONNA", "")


@pytest.mark.parametrize("name", ["<<ANNA", "ERIKSSON<<ANNA<<MARIA", "ERIKSSON<<<ANNA", "<ANNA"])
def test_malformed_names(name: str) -> None:
    assert _code(_td3(name=name)) == "mrz_malformed"


def test_state_codes_uto_and_germany_with_fillers() -> None:
    data = parse_mrz(_td3(state="D<<", nationality="D<<"))
    assert (data.issuing_state, data.nationality) == ("D", "D")


@pytest.mark.parametrize("state", ["U1O", "<UT", "U<T", "<<<"])
def test_bad_state_codes(state: str) -> None:
    assert _code(_td3(state=state)) == "mrz_malformed"
    assert _code(_td3(nationality=state)) == "mrz_malformed"


@pytest.mark.parametrize(("char", "sex"), [("F", "F"), ("M", "M"), ("<", "X"), ("X", "X")])
def test_sex(char: str, sex: str) -> None:
    assert parse_mrz(_td3(sex=char)).sex == sex


def test_bad_sex() -> None:
    assert _code(_td3(sex="Q")) == "mrz_malformed"


@pytest.mark.parametrize("birth", ["741312", "740832", "7408<2", "750229", "740000"])
def test_bad_dates(birth: str) -> None:
    assert _code(_td3(birth=birth)) == "mrz_malformed"


def test_leap_day_birth() -> None:
    assert parse_mrz(_td3(birth="000229"), now=NOW).birthdate == "2000-02-29"


def test_century_birth_in_the_past_expiry_within_20_years() -> None:
    assert parse_mrz(_td3(birth="100101", expiry="300101"), now=NOW).birthdate == "2010-01-01"
    assert parse_mrz(_td3(birth="300101", expiry="300102"), now=NOW).birthdate == "1930-01-01"
    assert parse_mrz(_td3(birth="260302", expiry="300101"), now=NOW).birthdate == "1926-03-02"
    assert parse_mrz(_td3(expiry="460301"), now=NOW).expiry == "2046-03-01"
    # 2047 would be more than 20 years ahead: read as 1947, which is expired
    assert _code(_td3(birth="300101", expiry="470301"), now=NOW) == "document_expired"


def test_birth_after_expiry_is_malformed() -> None:
    assert _code(_td3(birth="200101", expiry="150101"), now=NOW) == "mrz_malformed"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P<UTO",
        TD3_SPECIMEN.lower(),
        TD3_SPECIMEN.replace("<", " "),
        TD3_SPECIMEN + "<",
        TD3_SPECIMEN + "\n" + "<" * 44,
        TD1_SPECIMEN[:-1],
        TD3_SPECIMEN.replace("\n", "\n\n"),
        "É" * 44 + "\n" + "<" * 44,
    ],
)
def test_malformed_layout(text: str) -> None:
    assert _code(text) == "mrz_malformed"


def test_visa_and_wrong_document_codes() -> None:
    assert _code(_td3(code="V<")) == "mrz_malformed"
    assert _code(_replace(TD1_SPECIMEN, 0, 0, "P")) == "mrz_malformed"
    assert _code(_replace(TD2_SPECIMEN, 0, 1, "1")) == "mrz_malformed"


def test_document_number_with_inner_filler() -> None:
    assert _code(_td3(number="L89<902C3")) == "mrz_malformed"
    assert _code(_td3(number="<<<<<<<<<")) == "mrz_malformed"


def test_not_text() -> None:
    assert _code(b"P<UTO")  # type: ignore[arg-type]


# --- R19: only DocumentError escapes --------------------------------------------------------

_ALPHABET = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<")


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_R19_arbitrary_text_raises_only_document_error(text: str) -> None:
    with contextlib.suppress(DocumentError):
        parse_mrz(text, now=NOW)


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from([TD3_SPECIMEN, TD1_SPECIMEN, TD2_SPECIMEN]),
    st.lists(st.tuples(st.integers(0, 200), _ALPHABET), min_size=1, max_size=6),
    st.booleans(),
)
def test_R19_mutated_specimens_raise_only_document_error(
    text: str, edits: list[tuple[int, str]], with_now: bool
) -> None:
    chars = list(text)
    for position, char in edits:
        index = position % len(chars)
        if chars[index] != "\n":
            chars[index] = char
    try:
        data = parse_mrz("".join(chars), now=NOW if with_now else None)
    except DocumentError:
        return
    assert data.birthdate < data.expiry
