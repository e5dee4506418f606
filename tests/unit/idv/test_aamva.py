"""The AAMVA DL/ID payload parser: published samples of several versions, the generator's
payloads of every version, each check's refusal with its code, and a fuzz test (R19)."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.idv.aamva import AamvaLicence, mandatory_elements, parse_aamva
from ssar.idv.errors import DocumentError
from ssar.idv.testdocs import build_aamva_payload

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)

# Published samples, byte for byte as their sources write them (escapes included).
# AAMVA DL/ID Card Design Standard 2020, Annex D example (version 10, Virginia specimen
# "SAMPLE, MICHAEL JOHN"), as quoted in benhovinga/aamva_barcode_library README.md and
# aamva/test_barcode.py
AAMVA_2020_EXAMPLE = (
    "@\n\x1e\rANSI 636000100102DL00410278ZV03190008DLDAQT64235789\n"
    "DCSSAMPLE\nDDEN\nDACMICHAEL\nDDFN\nDADJOHN\nDDGN\nDCUJR\nDCAD\n"
    "DCBK\nDCDPH\nDBD06062019\nDBB06061986\nDBA12102024\nDBC1\n"
    "DAU068 in\nDAYBRO\nDAG2300 WEST BROAD STREET\nDAIRICHMOND\nDAJVA\n"
    "DAK232690000  \nDCF2424244747474786102204\nDCGUSA\nDCK123456789\n"
    "DDAF\nDDB06062018\nDDC06062020\nDDD1\rZVZVA01\r"
)
# AAMVA DL/ID-2000 (version 1) example "PUBLIC, JOHN Q", benhovinga/aamva_barcode_library
# aamva/test_barcode.py ("AAMVA Version 1")
AAMVA_2000_EXAMPLE = (
    "@\n\x1e\rANSI 6360000102DL00390187ZV02260032DLDAQ0123456789ABC\n"
    "DAAPUBLIC,JOHN,Q\nDAG123 MAIN STREET\nDAIANYTOWN\nDAJVA\n"
    "DAK123459999  \nDARDM  \nDAS          \nDAT     \nDAU509\nDAW175\n"
    "DAYBL \nDAZBR \nDBA20011201\nDBB19761123\nDBCM\nDBD19961201\r"
    "ZVZVAJURISDICTIONDEFINEDELEMENT\r"
)
# Maryland, version 1 with the "AAMVA" file type: winfinit/aamvajs test/PDF417_MD.js
MARYLAND_2000 = (
    "@\n\u001e\rAAMVA6360030101DL00290192DLDAQK-134-123-145-103\nDAAJOHNSON,JACK,,3RD\n"
    "DAG1234 BARNEYS INN PL\nDAIBALTIMORE\nDAJMD\nDAK21230 \nDARC \nDAS \nDAT \nDAU505\n"
    "DAW135\nDBA20170209\nDBB19910209\nDBC1\nDBD20120210\nDBHN\r"
)
# Virginia, version 3 ("VA issued 2021"): digitalbazaar/aamva-parse test/ (sample1)
VIRGINIA_2005 = (
    "@\n\u001e\rANSI 636000030001DL00310447DLDCADM2 \nDCBNONE      \nDCDNONE \nDBA12302028\n"
    "DCSBROWN                                 \n"
    "DCTMATTHEW,ALAN                                                                    \n"
    "DBD01052021\nDBB12301970\nDBC1\nDAYGRN\nDAU072 in\n"
    "DAG10 ELM LN                        \nDAILEXINGTON           \nDAJVA\nDAK244507000  \n"
    "DAQT65903333                \nDCF087482850                \nDCGUSA\nDCHD   \n"
    "DDC00000000\nDDB12102008\nDDDN\nDDAN\nDCK0060101594126677         \nDCADM2 \r"
)

PUBLISHED = [
    pytest.param(
        AAMVA_2020_EXAMPLE,
        datetime(2020, 1, 1, tzinfo=UTC),
        ("MICHAEL JOHN", "SAMPLE", "1986-06-06", "T64235789", "2019-06-06", "2024-12-10"),
        (10, "VA", "M"),
        id="aamva-2020-annex-d-v10",
    ),
    pytest.param(
        AAMVA_2000_EXAMPLE,
        datetime(2000, 1, 1, tzinfo=UTC),
        ("JOHN Q", "PUBLIC", "1976-11-23", "0123456789ABC", "1996-12-01", "2001-12-01"),
        (1, "VA", "M"),
        id="aamva-2000-example-v1",
    ),
    pytest.param(
        MARYLAND_2000,
        datetime(2015, 1, 1, tzinfo=UTC),
        ("JACK", "JOHNSON", "1991-02-09", "K-134-123-145-103", "2012-02-10", "2017-02-09"),
        (1, "MD", "M"),
        id="maryland-aamva-file-type-v1",
    ),
    pytest.param(
        VIRGINIA_2005,
        datetime(2022, 1, 1, tzinfo=UTC),
        ("MATTHEW ALAN", "BROWN", "1970-12-30", "T65903333", "2021-01-05", "2028-12-30"),
        (3, "VA", "M"),
        id="virginia-v3",
    ),
]


@pytest.mark.parametrize(("payload", "now", "names_dates", "meta"), PUBLISHED)
def test_published_samples_parse(
    payload: str,
    now: datetime,
    names_dates: tuple[str, str, str, str, str, str],
    meta: tuple[int, str, str],
) -> None:
    licence = parse_aamva(payload, now=now)
    assert (
        licence.given_name,
        licence.family_name,
        licence.birthdate,
        licence.document_number,
        licence.issue_date,
        licence.expiry_date,
    ) == names_dates
    assert (licence.version, licence.jurisdiction, licence.sex) == meta
    assert licence.country == "USA"
    assert licence.document_type == "driving_licence"


def test_published_sample_elements_and_subfiles() -> None:
    licence = parse_aamva(AAMVA_2020_EXAMPLE, now=datetime(2020, 1, 1, tzinfo=UTC))
    assert licence.elements["DCU"] == "JR"
    assert licence.elements["DAK"] == "232690000  "
    assert [(s.type, s.offset, s.length) for s in licence.subfiles] == [
        ("DL", 41, 278),
        ("ZV", 319, 8),
    ]
    assert (licence.iin, licence.jurisdiction_version) == ("636000", 1)


def _payload(**overrides: object) -> str:
    fields: dict[str, object] = {
        "given": "Eileen Marie",
        "family": "Collins",
        "birthdate": date(1956, 11, 19),
        "issued": date(2024, 1, 2),
        "expires": date(2032, 1, 2),
    }
    fields.update(overrides)
    return build_aamva_payload(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", range(1, 11))
@pytest.mark.parametrize("jurisdiction", ["CA", "ON"])
def test_generated_payload_of_every_version_parses(version: int, jurisdiction: str) -> None:
    licence = parse_aamva(_payload(version=version, jurisdiction=jurisdiction), now=NOW)
    assert licence == AamvaLicence(
        given_name="EILEEN MARIE",
        family_name="COLLINS",
        birthdate="1956-11-19",
        document_number="S1234567",
        issue_date="2024-01-02",
        expiry_date="2032-01-02",
        jurisdiction=jurisdiction,
        country="CAN" if jurisdiction == "ON" else "USA",
        sex="F",
        version=version,
        jurisdiction_version=0,
        iin="636012" if jurisdiction == "ON" else "636014",
        document_type="driving_licence",
        elements=licence.elements,
        subfiles=licence.subfiles,
    )


def test_date_order_follows_the_country() -> None:
    us = _payload(version=10, jurisdiction="CA")
    canada = _payload(version=10, jurisdiction="ON")
    assert "DBB11191956" in us
    assert "DBB19561119" in canada
    assert "DBB19561119" in _payload(version=1, jurisdiction="CA")  # version 1: CCYYMMDD


def test_id_card_needs_no_driving_privileges() -> None:
    payload = _payload(document_type="ID", version=8)
    assert "DCA" not in payload
    licence = parse_aamva(payload, now=NOW)
    assert licence.document_type == "id_card"
    assert "DCA" in mandatory_elements(8, "DL")
    assert "DCA" not in mandatory_elements(8, "ID")


def _code(payload: str, now: datetime = NOW) -> str:
    with pytest.raises(DocumentError) as info:
        parse_aamva(payload, now=now)
    return info.value.code


def test_expired() -> None:
    assert _code(_payload(expires=date(2025, 5, 31))) == "document_expired"
    # valid through its expiry day
    parse_aamva(_payload(expires=date(2025, 6, 1)), now=NOW)


def test_not_yet_valid() -> None:
    assert _code(_payload(issued=date(2025, 6, 2))) == "document_not_yet_valid"


@pytest.mark.parametrize(
    ("version", "element"), [(10, "DAQ"), (10, "DAC"), (10, "DCG"), (3, "DCT"), (1, "DBB")]
)
def test_mandatory_element_missing(version: int, element: str) -> None:
    payload = _payload(version=version)
    match = re.search(rf"(?<=[\nL]){element}[^\n\r]*", payload)
    assert match is not None
    at, end = match.span()
    if payload[end] == "\n":
        end += 1
    else:  # the last element: drop the separator before it
        at -= 1
    # designators recomputed for the shorter subfile, so only the missing element is wrong
    assert _code(_rebuild(payload[:at] + payload[end:])) == "mandatory_element_missing"


def _rebuild(payload: str) -> str:
    """``payload`` with its subfile designators recomputed (after a test edited a subfile)."""
    version = int(payload[15:17])
    header_end = 19 if version == 1 else 21
    entries = int(payload[header_end - 2 : header_end])
    designators_end = header_end + 10 * entries
    body = payload[designators_end:]
    subfiles = [part + "\r" for part in body.split("\r") if part]
    designators, offset = "", designators_end
    for text in subfiles:
        designators += f"{text[:2]}{offset:04d}{len(text):04d}"
        offset += len(text)
    return payload[:header_end] + designators + "".join(subfiles)


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda p: "#" + p[1:], id="compliance-indicator"),
        pytest.param(lambda p: p[0] + "\r" + p[2:], id="element-separator"),
        pytest.param(lambda p: p[:2] + "\x1d" + p[3:], id="record-separator"),
        pytest.param(lambda p: p[:3] + "\n" + p[4:], id="segment-terminator"),
        pytest.param(lambda p: p.replace("ANSI ", "ANSIX", 1), id="file-type"),
        pytest.param(lambda p: p.replace("ANSI ", "AAMVA", 1), id="aamva-file-type-after-v1"),
        pytest.param(lambda p: p[:9] + "63601X" + p[15:], id="iin"),
        pytest.param(lambda p: p[:19] + "00" + p[21:], id="no-entries"),
        pytest.param(lambda p: p[:21] + "XX" + p[23:], id="subfile-type"),
        pytest.param(lambda p: p[:23] + "0042" + p[27:], id="subfile-offset"),
        pytest.param(lambda p: p[:27] + "0O41" + p[31:], id="subfile-length-digits"),
        pytest.param(lambda p: p[:20], id="header-cut"),
        pytest.param(lambda p: p[:35], id="designators-cut"),
        pytest.param(lambda p: p[:-40], id="truncated-subfile"),
        pytest.param(lambda p: p.replace("\rZ", "\nZ", 1), id="missing-terminator"),
        pytest.param(lambda p: p + "DAQ123\r", id="trailing-data"),
        pytest.param(lambda p: p.replace("\nDCS", "\ndcs", 1), id="element-id"),
        pytest.param(lambda p: p.replace("\nDCS", "\nDCS\x07", 1), id="control-character"),
        pytest.param(lambda p: "", id="empty"),
    ],
)
def test_bad_structure(broken: object) -> None:
    payload = broken(_payload(version=10))  # type: ignore[operator]
    assert _code(payload) == "aamva_malformed"


def test_truncated_first_subfile_is_refused_even_when_it_ends_with_a_terminator() -> None:
    payload = _payload(version=10)
    dl_end = 41 + int(payload[27:31])
    assert _code(payload[: dl_end - 30] + "\r") == "aamva_malformed"


@pytest.mark.parametrize("version", ["00", "11", "99"])
def test_unsupported_versions(version: str) -> None:
    payload = _payload(version=10)
    assert _code(payload[:15] + version + payload[17:]) == "aamva_version_unsupported"


def test_duplicate_element_with_another_value_is_malformed() -> None:
    payload = _payload(version=10).replace("\nDCS", "\nDCSOTHER\nDCS", 1)
    assert _code(_rebuild(payload)) == "aamva_malformed"


def test_unknown_jurisdiction() -> None:
    assert _code(_payload().replace("DAJCA", "DAJXX")) == "jurisdiction_unknown"
    # a Canadian province on a card that says it is from the USA
    assert _code(_payload().replace("DAJCA", "DAJON")) == "jurisdiction_unknown"


def test_country_other_than_usa_or_canada() -> None:
    assert _code(_payload().replace("DCGUSA", "DCGMEX")) == "element_invalid"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("DBB11191956", "DBB13191956"),  # month 13
        ("DBB11191956", "DBB02301956"),  # 30 February
        ("DBB11191956", "DBB1119195X"),
        ("DBA01022032", "DBA20320102"),  # Canadian order on a US card: month 20
        ("DBD01022024", "DBD0102202"),
    ],
)
def test_wrong_dates(old: str, new: str) -> None:
    payload = _payload()
    assert old in payload
    assert _code(_rebuild(payload.replace(old, new))) == "date_invalid"


def test_issued_after_expiry() -> None:
    assert _code(_payload(issued=date(2024, 1, 2), expires=date(2023, 1, 1))) == "date_invalid"


@pytest.mark.parametrize(
    "birthdate",
    [date(2025, 6, 2), date(1894, 1, 1), date(2024, 1, 3)],
    ids=["future", "older-than-130", "after-issue"],
)
def test_implausible_birthdate(birthdate: date) -> None:
    assert _code(_payload(birthdate=birthdate)) == "birthdate_implausible"


def test_sex_codes() -> None:
    assert parse_aamva(_payload(sex="M"), now=NOW).sex == "M"
    assert parse_aamva(_payload(sex="X"), now=NOW).sex == "X"
    assert _code(_payload().replace("DBC2", "DBC7")) == "element_invalid"


def test_version_1_name_without_comma_is_invalid() -> None:
    payload = _payload(version=1).replace("DAACOLLINS,EILEEN,MARIE", "DAACOLLINS EILEEN")
    assert _code(_rebuild(payload)) == "element_invalid"


def test_no_dl_or_id_subfile() -> None:
    payload = _payload().replace("DL0041", "EN0041", 1).replace("\rDL", "\rEN")
    payload = payload[:41] + "EN" + payload[43:]
    assert _code(payload) == "mandatory_element_missing"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=600))
def test_R19_any_text_raises_only_document_errors(text: str) -> None:
    with contextlib.suppress(DocumentError):
        parse_aamva(text, now=NOW)


_VALID = _payload(version=10)
_MUTATION = st.text(alphabet=st.sampled_from("0123456789@\n\r\x1eDLZCAN ,ansi\x00é"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(_VALID) - 1),
    st.integers(min_value=0, max_value=40),
    _MUTATION,
)
def test_R19_mutated_payloads_raise_only_document_errors(at: int, cut: int, insert: str) -> None:
    with contextlib.suppress(DocumentError):
        parse_aamva(_VALID[:at] + insert + _VALID[at + cut :], now=NOW)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=43, max_value=len(_VALID) - 1),
    st.integers(min_value=0, max_value=40),
    _MUTATION,
)
def test_R19_mutated_subfiles_with_true_designators_raise_only_document_errors(
    at: int, cut: int, insert: str
) -> None:
    """Mutations inside the subfiles with the designators kept consistent, so the element and
    date checks (not only the structural ones) meet them."""
    mutated = _VALID[:at] + insert + _VALID[at + cut :]
    with contextlib.suppress(DocumentError):
        parse_aamva(_rebuild(mutated), now=NOW)
