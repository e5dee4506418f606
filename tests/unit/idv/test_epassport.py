"""ePassport passive authentication (ICAO Doc 9303 Parts 10-12) on generated Utopian chip data:
the happy paths, each check's failure code, and R19 fuzz of the SOD and data group parsers."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, features
from skimage.data import astronaut

from ssar.credentials.x509chain import clear_chain_cache
from ssar.errors import ConfigurationError
from ssar.idv.epassport import (
    PassportEvidence,
    load_csca_certificates,
    parse_dg1,
    parse_dg2,
    parse_sod,
    read_tlv,
    verify_passport,
)
from ssar.idv.errors import DocumentError
from ssar.idv.testpassport import (
    TestCsca,
    TestPassport,
    facial_record,
    make_csca,
    make_dg1,
    make_dg2,
    make_document_signer,
    make_passport,
    make_sod,
    td3_zone,
    tlv,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
EXPIRY = date(2031, 4, 15)


@functools.cache
def _portrait() -> np.ndarray:
    return np.ascontiguousarray(astronaut())


@functools.cache
def _csca() -> TestCsca:
    return make_csca()


def _passport(**kwargs: object) -> TestPassport:
    arguments: dict[str, object] = {
        "given": "Anna Maria",
        "family": "Eriksson",
        "birthdate": date(1974, 8, 12),
        "expiry": EXPIRY,
        "number": "L898902C3",
        "portrait_rgb": _portrait(),
        "csca": _csca(),
    }
    arguments.update(kwargs)
    return make_passport(**arguments)  # type: ignore[arg-type]


def _signer(csca: TestCsca) -> tuple[object, x509.Certificate]:
    return make_document_signer(csca, not_before=date(2021, 4, 15), not_after=date(2031, 7, 1))


@functools.cache
def _default() -> TestPassport:
    return _passport()


def _verify(
    passport: TestPassport,
    *,
    sod: bytes | None = None,
    dg1: bytes | None = None,
    dg2: bytes | None = None,
    trust: tuple[x509.Certificate, ...] | None = None,
    now: datetime = NOW,
    **kwargs: object,
) -> PassportEvidence:
    return verify_passport(
        sod=passport.sod if sod is None else sod,
        dg1=passport.dg1 if dg1 is None else dg1,
        dg2=passport.dg2 if dg2 is None else dg2,
        csca_certificates=trust if trust is not None else (passport.csca.certificate,),
        now=now,
        **kwargs,  # type: ignore[arg-type]
    )


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(DocumentError) as info:
        call()
    return info.value.code


@pytest.fixture(autouse=True)
def _fresh_chain_cache() -> None:
    clear_chain_cache()


# --- the happy path ------------------------------------------------------------------------


def test_generated_passport_passes_passive_authentication() -> None:
    passport = _default()
    evidence = _verify(passport)
    assert evidence.mrz.family_name == "ERIKSSON"
    assert evidence.mrz.given_names == "ANNA MARIA"
    assert evidence.mrz.document_number == "L898902C3"
    assert evidence.mrz.birthdate == "1974-08-12"
    assert evidence.mrz.expiry == "2031-04-15"
    assert evidence.mrz.issuing_state == "UTO"
    assert evidence.mrz.format == "TD3"
    assert evidence.strength == "SUPERIOR"
    assert evidence.hash_algorithm == "sha256"
    assert evidence.signature_algorithm == "ecdsa-sha256"
    assert evidence.data_groups == (1, 2)
    assert evidence.csca_subject == "CN=CSCA Utopia TEST,O=Utopia,C=UT"
    assert evidence.ds_subject == "CN=Document Signer Utopia TEST,O=Utopia,C=UT"
    assert evidence.portrait_source_format == "jpeg"
    assert evidence.portrait_jpeg == passport.portrait  # JPEG passes through unchanged
    with Image.open(io.BytesIO(evidence.portrait_jpeg)) as image:
        assert image.format == "JPEG"
        assert image.size == (512, 512)
        decoded = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert np.abs(decoded - _portrait()).mean() < 4  # it is the astronaut, JPEG-compressed


@pytest.mark.parametrize(
    ("key_type", "hash_algorithm", "expected"),
    [
        ("ec-p384", "sha384", "ecdsa-sha384"),
        ("rsa-pkcs1", "sha256", "pkcs1v15-sha256"),
        ("rsa-pss", "sha512", "pss-sha512"),
        ("rsa-pss", "sha256", "pss-sha256"),
    ],
)
def test_signature_and_hash_algorithms(key_type: str, hash_algorithm: str, expected: str) -> None:
    evidence = _verify(_passport(key_type=key_type, hash_algorithm=hash_algorithm))
    assert evidence.signature_algorithm == expected
    assert evidence.hash_algorithm == hash_algorithm


def test_rsa_csca() -> None:
    csca = make_csca(key_type="rsa-pkcs1")
    assert _verify(_passport(csca=csca)).csca_subject.startswith("CN=CSCA Utopia TEST")


def test_jpeg2000_portrait_is_returned_as_jpeg() -> None:
    passport = _passport(image_format="jpeg2000")
    assert passport.portrait.startswith(b"\x00\x00\x00\x0cjP  ")
    evidence = _verify(passport)
    assert evidence.portrait_source_format == "jpeg2000"
    assert evidence.portrait_jpeg.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(evidence.portrait_jpeg)) as image:
        assert image.format == "JPEG"
        decoded = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert np.abs(decoded - _portrait()).mean() < 4


@pytest.mark.skipif(not features.check("jpg_2000"), reason="Pillow without OpenJPEG")
def test_jpeg2000_inside_dg2_is_standard_jp2() -> None:
    # an independent decoder (Pillow's OpenJPEG) reads the image the generator put in DG2
    with Image.open(io.BytesIO(_passport(image_format="jpeg2000").portrait)) as image:
        assert image.format == "JPEG2000"
        assert image.size == (512, 512)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_sod_verifies_with_openssl_cms(tmp_path: Path) -> None:
    # an independent CMS implementation accepts the generated EF.SOD and its DS → CSCA path
    passport = _default()
    _, start, _ = read_tlv(passport.sod)
    (tmp_path / "sod.der").write_bytes(passport.sod[start:])
    (tmp_path / "csca.pem").write_bytes(passport.csca_pem)
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sod.der"),
            "-CAfile",
            str(tmp_path / "csca.pem"),
            "-purpose",
            "any",
            "-attime",
            str(int(NOW.timestamp())),
            "-out",
            str(tmp_path / "lds.der"),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lds.der").read_bytes() == parse_sod(passport.sod).econtent


def test_extra_data_groups_are_hash_checked() -> None:
    csca = _csca()
    dg11 = tlv(0x6B, tlv(0x5C, b"\x5f\x0e") + tlv(0x5F0E, b"ERIKSSON<<ANNA<MARIA"))
    passport = _default()
    ds_key, ds_cert = _signer(csca)
    sod = make_sod(
        {1: passport.dg1, 2: passport.dg2, 11: dg11},
        ds_key=ds_key,
        ds_certificate=ds_cert,
        key_type="ec-p256",
    )
    evidence = _verify(passport, sod=sod, other_data_groups={11: dg11})
    assert evidence.data_groups == (1, 2, 11)
    tampered = dg11[:-1] + b"X"
    assert _code(lambda: _verify(passport, sod=sod, other_data_groups={11: tampered})) == (
        "dg_hash_mismatch"
    )
    assert _code(lambda: _verify(passport, other_data_groups={11: dg11})) == "dg_missing"


# --- each check's failure ------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 5, 20, -1])
def test_changed_dg1_byte_is_a_hash_mismatch(index: int) -> None:
    passport = _default()
    dg1 = bytearray(passport.dg1)
    dg1[index] ^= 0x01
    assert _code(lambda: _verify(passport, dg1=bytes(dg1))) == "dg_hash_mismatch"


def test_changed_dg2_byte_is_a_hash_mismatch() -> None:
    passport = _default()
    dg2 = bytearray(passport.dg2)
    dg2[len(dg2) // 2] ^= 0x80
    assert _code(lambda: _verify(passport, dg2=bytes(dg2))) == "dg_hash_mismatch"


def test_dg1_of_another_passport_is_a_hash_mismatch() -> None:
    other = _passport(number="X12345678")
    assert _code(lambda: _verify(_default(), dg1=other.dg1)) == "dg_hash_mismatch"


def test_ds_certificate_from_another_csca_is_untrusted() -> None:
    foreign = _passport(csca=make_csca(common_name="CSCA Utopia TEST"))  # same name, other key
    assert _code(lambda: _verify(foreign, trust=(_csca().certificate,))) == "csca_untrusted"
    assert _code(lambda: _verify(_default(), trust=())) == "csca_untrusted"


def test_expired_csca_is_untrusted() -> None:
    csca = make_csca(not_before=date(2015, 1, 1), not_after=date(2026, 1, 1))
    passport = _passport(csca=csca, ds_not_after=date(2031, 1, 1))
    assert _code(lambda: _verify(passport)) == "csca_untrusted"


def test_expired_document() -> None:
    passport = _passport(expiry=date(2026, 2, 1))  # the DS certificate is valid until May
    with pytest.raises(DocumentError) as info:
        _verify(passport)
    assert info.value.code == "document_expired"
    assert "2026-02-01" in info.value.detail
    assert _verify(passport, now=datetime(2026, 2, 1, 20, tzinfo=UTC)).mrz.expiry == "2026-02-01"


@pytest.mark.parametrize(
    ("now", "detail"),
    [(datetime(2031, 8, 1, tzinfo=UTC), "expired"), (datetime(2021, 1, 1, tzinfo=UTC), "before")],
)
def test_ds_certificate_outside_its_window(now: datetime, detail: str) -> None:
    with pytest.raises(DocumentError) as info:
        _verify(_default(), now=now)
    assert info.value.code == "ds_certificate_invalid"
    assert detail in info.value.detail


def test_csca_signing_the_sod_itself_is_not_a_document_signer() -> None:
    csca = _csca()
    passport = _default()
    sod = make_sod(
        {1: passport.dg1, 2: passport.dg2},
        ds_key=csca.key,
        ds_certificate=csca.certificate,
        key_type="ec-p384",
        hash_name="sha384",
    )
    assert _code(lambda: _verify(passport, sod=sod)) == "ds_certificate_invalid"


def test_tampered_sod_signature() -> None:
    passport = _default()
    signature = parse_sod(passport.sod).signature
    tampered = signature[:-1] + bytes([signature[-1] ^ 0x01])
    sod = passport.sod.replace(signature, tampered)
    assert sod != passport.sod
    assert _code(lambda: _verify(passport, sod=sod)) == "sod_signature_invalid"


def test_tampered_hash_inside_the_security_object() -> None:
    # the eContent changes (a forged DG1 hash), the signed message-digest no longer matches
    passport = _default()
    forged_dg1 = make_dg1(
        td3_zone(
            given="Mallory",
            family="Eriksson",
            number="L898902C3",
            birthdate=date(1974, 8, 12),
            expiry=EXPIRY,
        )
    )
    real = hashlib.sha256(passport.dg1).digest()
    sod = passport.sod.replace(real, hashlib.sha256(forged_dg1).digest())
    assert _code(lambda: _verify(passport, sod=sod, dg1=forged_dg1)) == "sod_signature_invalid"


def _with_signature(sod: bytes, signature: bytes) -> bytes:
    _, start, _ = read_tlv(sod)
    info = cms.ContentInfo.load(sod[start:])
    info["content"]["signer_infos"][0]["signature"] = signature
    return tlv(0x77, info.dump(force=True))


def test_signature_by_another_key_under_the_same_certificate() -> None:
    passport = _default()
    resigned = _with_signature(passport.sod, parse_sod(passport.sod).signature)
    assert _verify(passport, sod=resigned).mrz.family_name == "ERIKSSON"  # re-encoding is exact
    signature = parse_sod(_passport().sod).signature
    sod = _with_signature(passport.sod, signature)
    assert _code(lambda: _verify(passport, sod=sod)) == "sod_signature_invalid"


def test_dg2_missing() -> None:
    passport = _default()
    assert _code(lambda: verify_passport(
        sod=passport.sod, dg1=passport.dg1, dg2=None, csca_certificates=(passport.csca.certificate,), now=NOW
    )) == "dg_missing"  # fmt: skip
    assert _code(lambda: _verify(passport, dg2=b"")) == "dg_missing"
    assert _code(lambda: _verify(passport, dg1=b"")) == "dg_missing"


def test_dg2_not_listed_in_the_security_object() -> None:
    passport = _default()
    ds_key, ds_cert = _signer(_csca())
    sod = make_sod({1: passport.dg1}, ds_key=ds_key, ds_certificate=ds_cert, key_type="ec-p256")
    with pytest.raises(DocumentError) as info:
        _verify(passport, sod=sod)
    assert info.value.code == "dg_missing"
    assert "DG2" in info.value.detail


def test_signed_dg1_with_a_bad_check_digit_is_malformed() -> None:
    passport = _default()
    zone = passport.mrz
    broken = zone[:-1] + ("1" if zone[-1] != "1" else "2")  # composite check digit
    dg1 = make_dg1(broken)
    ds_key, ds_cert = _signer(_csca())
    sod = make_sod(
        {1: dg1, 2: passport.dg2}, ds_key=ds_key, ds_certificate=ds_cert, key_type="ec-p256"
    )
    with pytest.raises(DocumentError) as info:
        _verify(passport, sod=sod, dg1=dg1)
    assert info.value.code == "dg1_malformed"
    assert "composite" in info.value.detail


# --- the parsers on their own --------------------------------------------------------------


def test_parse_dg1() -> None:
    assert parse_dg1(_default().dg1).document_number == "L898902C3"
    assert _code(lambda: parse_dg1(tlv(0x61, tlv(0x5F1F, b"P<UTO")))) == "dg1_malformed"
    assert _code(lambda: parse_dg1(tlv(0x75, b""))) == "dg1_malformed"
    assert _code(lambda: parse_dg1(_default().dg1 + b"\x00")) == "dg1_malformed"
    assert _code(lambda: parse_dg1(tlv(0x61, tlv(0x5F1F, "É".encode())))) == "dg1_malformed"


def _dg2_with(bdb: bytes, header: bytes = b"\x81\x01\x02", count: int = 1) -> bytes:
    template = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, bdb))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, bytes([count])) + template * count))


def test_parse_dg2_rejects_what_it_cannot_read() -> None:
    image = _default().portrait
    record = facial_record(image, width=512, height=512, jpeg2000=False, sex="F")
    assert parse_dg2(make_dg2(record)).width == 512
    cases = {
        "version": record[:4] + b"030\x00" + record[8:],
        "format id": b"XYZ\x00" + record[4:],
        "record length": record[:8] + (len(record) + 1).to_bytes(4, "big") + record[12:],
        "image type": record[:35] + b"\x07" + record[36:],
        "not an image": record[:46] + b"GIF89a" + record[52:],
        "truncated": record[:40],
    }
    for name, bdb in cases.items():
        assert _code(lambda bdb=bdb: parse_dg2(make_dg2(bdb))) == "dg2_malformed", name
    assert _code(lambda: parse_dg2(_dg2_with(record, header=b"\x81\x01\x08"))) == "dg2_malformed"
    assert _code(lambda: parse_dg2(_dg2_with(record, count=2)[:-3])) == "dg2_malformed"
    enciphered = tlv(
        0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, tlv(0xA1, b"") + tlv(0x7F2E, b"x")))
    )
    with pytest.raises(DocumentError) as info:
        parse_dg2(enciphered)
    assert "0x7F2E" in info.value.detail


def test_parse_dg2_refuses_decompression_bombs() -> None:
    image = bytearray(_default().portrait)
    # rewrite the JPEG frame header's height and width to 60000 x 60000
    sof = next(i for i in range(2, len(image)) if image[i] == 0xFF and image[i + 1] == 0xC0)
    image[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    record = facial_record(bytes(image), width=512, height=512, jpeg2000=False, sex="F")
    with pytest.raises(DocumentError) as info:
        parse_dg2(make_dg2(record))
    assert info.value.code == "dg2_malformed"
    assert "60000x60000" in info.value.detail


def test_parse_sod_rejects_wrong_structures() -> None:
    passport = _default()
    _, start, _ = read_tlv(passport.sod)
    assert parse_sod(passport.sod[start:]).hash_algorithm == "sha256"  # without the 0x77 wrapper
    assert _code(lambda: parse_sod(b"")) == "sod_malformed"
    assert _code(lambda: parse_sod(b"\x77\x80" + passport.sod[start:])) == "sod_malformed"
    assert _code(lambda: parse_sod(passport.sod + b"\x00")) == "sod_malformed"
    assert _code(lambda: parse_sod(tlv(0x77, b"\x30\x03\x02\x01\x00"))) == "sod_malformed"
    assert _code(lambda: parse_sod(b"\x77" + b"\x00" * (300 * 1024))) == "sod_malformed"


def test_load_csca_certificates() -> None:
    csca = _csca().certificate
    other = make_csca(common_name="CSCA Utopia TEST 2").certificate
    pem = csca.public_bytes(serialization.Encoding.PEM)
    bundle = pem + other.public_bytes(serialization.Encoding.PEM)
    der = csca.public_bytes(serialization.Encoding.DER)
    assert load_csca_certificates([bundle, der]) == (csca, other, csca)
    with pytest.raises(ConfigurationError):
        load_csca_certificates([b"not a certificate"])
    with pytest.raises(ConfigurationError):
        load_csca_certificates([])


def test_test_passport_exports() -> None:
    passport = _default()
    assert x509.load_pem_x509_certificate(passport.ds_pem) == passport.ds_certificate
    assert x509.load_pem_x509_certificate(passport.csca_pem) == passport.csca.certificate
    ds = passport.ds_certificate
    assert ds.not_valid_after_utc == datetime(2031, 7, 16, tzinfo=UTC)
    csca = passport.csca.certificate
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert passport.mrz.split("\n")[1].startswith("L898902C3")


# --- R19: only DocumentError escapes --------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_R19_random_bytes_raise_only_document_error(data: bytes) -> None:
    for call in (parse_sod, parse_dg1, parse_dg2):
        with contextlib.suppress(DocumentError):
            call(data)
    with contextlib.suppress(DocumentError):
        parse_sod(b"\x77" + bytes([min(len(data), 0x7F)]) + data[:0x7F])


_MUTATIONS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[:cut] if cut is not None else mutated)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MUTATIONS, st.one_of(st.none(), st.integers(0, 4000)))
def test_R19_mutated_sod_raises_only_document_error(
    edits: list[tuple[int, int]], cut: int | None
) -> None:
    passport = _default()
    sod = _mutate(passport.sod, edits, cut)
    with contextlib.suppress(DocumentError):
        parse_sod(sod)
    with contextlib.suppress(DocumentError):
        _verify(passport, sod=sod)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3))
def test_R19_mutated_ds_certificate_raises_only_document_error(
    edits: list[tuple[int, int]],
) -> None:
    # the certificate is parsed by cryptography, whose lenient-parsing warnings and own
    # exception types (InvalidVersion) must not escape either
    passport = _default()
    certificate = parse_sod(passport.sod).certificates[0]
    start = passport.sod.index(certificate)
    sod = bytearray(passport.sod)
    for position, value in edits:
        sod[start + position % len(certificate)] = value
    with contextlib.suppress(DocumentError):
        _verify(passport, sod=bytes(sod))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MUTATIONS, st.one_of(st.none(), st.integers(0, 400)))
def test_R19_mutated_data_groups_raise_only_document_error(
    edits: list[tuple[int, int]], cut: int | None
) -> None:
    passport = _default()
    for parse, data in ((parse_dg1, passport.dg1), (parse_dg2, passport.dg2)):
        with contextlib.suppress(DocumentError):
            parse(_mutate(data, edits, cut))
    # the DG2 structure itself (the first 80 bytes hold every header up to the image)
    header_edits = [(position % 80, value) for position, value in edits]
    with contextlib.suppress(DocumentError):
        parse_dg2(_mutate(passport.dg2, header_edits, None))


def test_R19_wrong_argument_types() -> None:
    assert _code(lambda: parse_sod("text")) == "sod_malformed"  # type: ignore[arg-type]
    passport = _default()
    assert _code(lambda: _verify(passport, now=NOW + timedelta(days=3650 * 3))) in {
        "ds_certificate_invalid",
        "document_expired",
    }
