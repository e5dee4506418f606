"""verify_mdoc: ISO 18013-5 Annex D vectors, one refusal per R17 check, R19 fuzzing."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssar.credentials import cose
from ssar.credentials.mdoc import (
    bench_sample,
    openid4vp_session_transcript,
    sign_device_response,
    verify_mdoc,
)
from ssar.credentials.trust import TrustConfig
from ssar.credentials.x509chain import clear_chain_cache
from ssar.errors import CredentialError
from tests.conftest import shared_path
from tests.unit.credentials.mdoc_support import (
    ANNEX_D_NOW,
    MDL,
    MDL_NS,
    TODAY,
    MdocIssuer,
    annex_d_ds_certificate,
    annex_d_issuer_signed,
    make_pki,
    transcript,
    vector_hex,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_chain_cache()


@pytest.fixture
def issuer() -> MdocIssuer:
    return MdocIssuer(pki=make_pki())


def annex_d_trust() -> TrustConfig:
    return TrustConfig(x509_anchors=(annex_d_ds_certificate(),))


def code_of(data: bytes, **kwargs: Any) -> str:
    kwargs.setdefault("now", NOW)
    with pytest.raises(CredentialError) as err:
        verify_mdoc(data, **kwargs)
    return err.value.code


def presented(
    issuer: MdocIssuer,
    *,
    session_transcript: bytes | None = None,
    doc_type: str = MDL,
    **issue: Any,
) -> bytes:
    return sign_device_response(
        issuer_signed=issuer.issuer_signed(**issue),
        doc_type=doc_type,
        device_key=issuer.device_key,
        alg=cose.ES256,
        session_transcript=session_transcript or transcript(),
    )


# --- Annex D vectors -------------------------------------------------------------------------


def test_annex_d_issuer_signed_verifies_inside_its_window() -> None:
    result = verify_mdoc(annex_d_issuer_signed(), trust=annex_d_trust(), now=ANNEX_D_NOW)
    assert result.format == "mso_mdoc"
    assert result.credential_type == MDL
    assert result.issuer == "C=US,CN=utopia ds"
    assert result.key_binding is False
    claims = result.claims[MDL_NS]
    assert claims["family_name"] == "Doe"
    assert claims["document_number"] == "123456789"
    assert claims["issue_date"] == "2019-10-20"
    assert claims["expiry_date"] == "2024-10-20"
    assert claims["portrait"].startswith("data:image/jpeg;base64,/9j/")
    assert claims["driving_privileges"][0] == {
        "vehicle_category_code": "A",
        "issue_date": "2018-08-09",
        "expiry_date": "2024-10-20",
    }
    assert result.valid_from == datetime(2020, 10, 1, 13, 30, 2, tzinfo=UTC)
    assert result.valid_until == datetime(2021, 10, 1, 13, 30, 2, tzinfo=UTC)
    assert result.holder_jwk is not None
    assert result.holder_jwk["crv"] == "P-256"


def test_annex_d_issuer_signed_as_hex_text_verifies() -> None:
    text = shared_path("vectors", "mdoc", "test", "definitions", "issuer_signed.cbor").read_bytes()
    assert verify_mdoc(text, trust=annex_d_trust(), now=ANNEX_D_NOW).claims[MDL_NS]


def test_annex_d_issuer_signed_is_expired_today() -> None:
    assert code_of(annex_d_issuer_signed(), trust=annex_d_trust(), now=TODAY) == "expired"


def test_annex_d_before_its_window_is_not_yet_valid() -> None:
    early = datetime(2020, 9, 1, tzinfo=UTC)
    assert code_of(annex_d_issuer_signed(), trust=annex_d_trust(), now=early) == "not_yet_valid"


def test_annex_d_tampered_element_is_digest_mismatch() -> None:
    data = annex_d_issuer_signed()
    assert data.count(b"cDoe") == 1
    tampered = data.replace(b"cDoe", b"cDoa")
    assert code_of(tampered, trust=annex_d_trust(), now=ANNEX_D_NOW) == "digest_mismatch"


def test_annex_d_changed_mso_byte_is_bad_signature() -> None:
    data = annex_d_issuer_signed()
    assert data.count(b"2021-10-01T13:30:02Z") == 1
    tampered = data.replace(b"2021-10-01T13:30:02Z", b"2029-10-01T13:30:02Z")
    assert code_of(tampered, trust=annex_d_trust(), now=ANNEX_D_NOW) == "bad_signature"


def test_annex_d_with_wrong_anchor_is_untrusted() -> None:
    trust = make_pki().trust
    assert code_of(annex_d_issuer_signed(), trust=trust, now=ANNEX_D_NOW) == "untrusted_issuer"


def test_annex_d_with_wrong_doctype_expected() -> None:
    code = code_of(
        annex_d_issuer_signed(),
        trust=annex_d_trust(),
        now=ANNEX_D_NOW,
        expected_doctypes={"eu.europa.ec.eudi.pid.1"},
    )
    assert code == "malformed"


def test_annex_d_issuer_signed_has_no_device_signature() -> None:
    session = vector_hex("definitions", "session", "session_transcript.cbor")
    code = code_of(
        annex_d_issuer_signed(),
        trust=annex_d_trust(),
        now=ANNEX_D_NOW,
        expected_session_transcript=session,
    )
    assert code == "key_binding_missing"


def test_annex_d_session_transcript_binds_a_device_signature(issuer: MdocIssuer) -> None:
    # The shared vectors hold the Annex D SessionTranscript but not the Annex D DeviceResponse,
    # so the device signature over it comes from our own holder helper.
    session = vector_hex("definitions", "session", "session_transcript.cbor")  # tag-24 wrapped
    data = presented(issuer, session_transcript=session)
    result = verify_mdoc(data, trust=issuer.pki.trust, now=NOW, expected_session_transcript=session)
    assert result.key_binding is True
    inner = cbor2.loads(session).value
    assert verify_mdoc(data, trust=issuer.pki.trust, now=NOW, expected_session_transcript=inner)
    other = transcript()
    code = code_of(data, trust=issuer.pki.trust, expected_session_transcript=other)
    assert code == "key_binding_invalid"


def test_synthetic_device_response_vector_is_refused() -> None:
    # isomdl's structural DeviceResponse vector: docType "aaa", MSO "This is the content."
    data = vector_hex("definitions", "device_response.cbor")
    assert code_of(data, trust=annex_d_trust()) == "malformed"


def _spec_hex(label: str) -> bytes:
    text = shared_path("vectors", "openid4vp", "1.0", "openid-4-verifiable-presentations-1_0.md")
    body = text.read_text()
    start = body.index(f"The following is a non-normative example of the `{label}` structure:")
    block = body[start:].split("Hex:", 1)[1].split("CBOR diagnostic:", 1)[0]
    return bytes.fromhex("".join(re.findall(r"[0-9a-f]+", block)))


def test_openid4vp_session_transcript_matches_the_spec_example() -> None:
    info = cbor2.loads(_spec_hex("OpenID4VPHandoverInfo"))
    client_id, nonce, thumbprint, response_uri = info
    result = openid4vp_session_transcript(
        client_id=client_id, nonce=nonce, jwk_thumbprint=thumbprint, response_uri=response_uri
    )
    assert result == _spec_hex("SessionTranscript")


def test_openid4vp_session_transcript_without_encryption_has_null_thumbprint() -> None:
    result = cbor2.loads(
        openid4vp_session_transcript(
            client_id="a", nonce="n", jwk_thumbprint=None, response_uri="u"
        )
    )
    assert result[0] is None
    assert result[1] is None
    assert result[2][0] == "OpenID4VPHandover"
    assert len(result[2][1]) == 32


# --- Own issuer: a correct presentation and one refusal per R17 check ---------------------


def test_presentation_with_device_signature_verifies(issuer: MdocIssuer) -> None:
    data = presented(issuer)
    result = verify_mdoc(
        data,
        trust=issuer.pki.trust,
        now=NOW,
        expected_session_transcript=transcript(),
        expected_doctypes={MDL},
    )
    assert result.key_binding is True
    assert result.claims == {
        MDL_NS: {
            "family_name": "Doe",
            "given_name": "Jane",
            "birth_date": "1990-05-17",
            "document_number": "D1234567",
            "portrait": "data:image/jpeg;base64,/9j/4GZha2UtanBlZw==",
            "age_over_18": True,
        }
    }
    assert result.extra["iaca"] == issuer.pki.iaca.subject.rfc4514_string()
    assert result.to_json()["valid"] is True


def test_presentation_without_expected_transcript_has_no_key_binding(issuer: MdocIssuer) -> None:
    result = verify_mdoc(presented(issuer), trust=issuer.pki.trust, now=NOW)
    assert result.key_binding is False


def test_R17_issuer_chain_must_reach_a_configured_anchor(issuer: MdocIssuer) -> None:
    data = presented(issuer)
    assert code_of(data, trust=make_pki().trust) == "untrusted_issuer"
    assert code_of(data, trust=TrustConfig()) == "untrusted_issuer"


def test_R17_document_signer_must_not_be_a_ca() -> None:
    ca_signer = MdocIssuer(pki=make_pki(ds_is_ca=True))
    assert code_of(presented(ca_signer), trust=ca_signer.pki.trust) == "untrusted_issuer"


def test_R17_issuer_chain_must_be_valid_now(issuer: MdocIssuer) -> None:
    data = presented(issuer)
    assert code_of(data, trust=issuer.pki.trust, now=datetime(2040, 1, 1, tzinfo=UTC)) == (
        "expired"
    )


def test_R17_mso_signature_is_checked(issuer: MdocIssuer) -> None:
    issuer_signed = issuer.issuer_signed()
    protected, unprotected, payload, signature = issuer_signed["issuerAuth"]
    forged = bytearray(payload)
    forged[-5] ^= 0x01
    issuer_signed["issuerAuth"] = [protected, unprotected, bytes(forged), signature]
    assert code_of(cbor2.dumps(issuer_signed), trust=issuer.pki.trust) == "bad_signature"


def test_R17_mso_signed_by_another_key_is_bad_signature(issuer: MdocIssuer) -> None:
    other = make_pki()
    issuer.pki.ds_key = other.ds_key  # the x5chain still names the real DS
    assert code_of(cbor2.dumps(issuer.issuer_signed()), trust=issuer.pki.trust) == "bad_signature"


def test_R17_every_returned_element_digest_is_checked(issuer: MdocIssuer) -> None:
    issuer_signed = issuer.issuer_signed()
    items = issuer_signed["nameSpaces"][MDL_NS]
    item = cbor2.loads(items[3].value)
    item["elementValue"] = "X9999999"  # the document number
    items[3] = cbor2.CBORTag(24, cbor2.dumps(item))
    assert code_of(cbor2.dumps(issuer_signed), trust=issuer.pki.trust) == "digest_mismatch"


def test_R17_element_without_digest_in_mso_is_refused(issuer: MdocIssuer) -> None:
    issuer_signed = issuer.issuer_signed()
    items = issuer_signed["nameSpaces"][MDL_NS]
    item = cbor2.loads(items[0].value)
    item["digestID"] = 999
    items[0] = cbor2.CBORTag(24, cbor2.dumps(item))
    assert code_of(cbor2.dumps(issuer_signed), trust=issuer.pki.trust) == "digest_mismatch"


def test_R17_namespace_unknown_to_mso_is_refused(issuer: MdocIssuer) -> None:
    issuer_signed = issuer.issuer_signed()
    issuer_signed["nameSpaces"]["org.example.extra"] = issuer_signed["nameSpaces"][MDL_NS]
    assert code_of(cbor2.dumps(issuer_signed), trust=issuer.pki.trust) == "digest_mismatch"


def test_R17_withheld_elements_are_fine(issuer: MdocIssuer) -> None:
    issuer_signed = issuer.issuer_signed()
    issuer_signed["nameSpaces"][MDL_NS] = issuer_signed["nameSpaces"][MDL_NS][:2]
    result = verify_mdoc(cbor2.dumps(issuer_signed), trust=issuer.pki.trust, now=NOW)
    assert set(result.claims[MDL_NS]) == {"family_name", "given_name"}


def test_R17_doctype_of_document_must_match_mso(issuer: MdocIssuer) -> None:
    data = presented(issuer, doc_type="org.iso.18013.5.1.mDL.fake")
    assert code_of(data, trust=issuer.pki.trust) == "malformed"


def test_R17_doctype_must_be_expected(issuer: MdocIssuer) -> None:
    data = presented(issuer)
    code = code_of(data, trust=issuer.pki.trust, expected_doctypes={"eu.europa.ec.eudi.pid.1"})
    assert code == "malformed"


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (datetime(2024, 6, 1, tzinfo=UTC), "not_yet_valid"),
        (datetime(2030, 6, 1, tzinfo=UTC), "expired"),
    ],
)
def test_R17_validity_window_is_checked(issuer: MdocIssuer, now: datetime, code: str) -> None:
    assert code_of(presented(issuer), trust=issuer.pki.trust, now=now) == code


def test_R17_signed_after_valid_from_is_refused(issuer: MdocIssuer) -> None:
    data = presented(issuer, signed=datetime(2025, 6, 1, tzinfo=UTC))
    assert code_of(data, trust=issuer.pki.trust) == "malformed"


def test_R17_device_signature_over_wrong_transcript_is_invalid(issuer: MdocIssuer) -> None:
    data = presented(issuer, session_transcript=transcript("nonce-A"))
    code = code_of(data, trust=issuer.pki.trust, expected_session_transcript=transcript("nonce-B"))
    assert code == "key_binding_invalid"


def test_R17_device_signature_by_another_key_is_invalid(issuer: MdocIssuer) -> None:
    data = sign_device_response(
        issuer_signed=issuer.issuer_signed(),
        doc_type=MDL,
        device_key=ec.generate_private_key(ec.SECP256R1()),
        alg=cose.ES256,
        session_transcript=transcript(),
    )
    code = code_of(data, trust=issuer.pki.trust, expected_session_transcript=transcript())
    assert code == "key_binding_invalid"


def test_R17_device_signature_required_when_transcript_expected(issuer: MdocIssuer) -> None:
    response = cbor2.loads(presented(issuer))
    del response["documents"][0]["deviceSigned"]
    code = code_of(
        cbor2.dumps(response), trust=issuer.pki.trust, expected_session_transcript=transcript()
    )
    assert code == "key_binding_missing"


def test_R17_device_mac_is_refused(issuer: MdocIssuer) -> None:
    response = cbor2.loads(presented(issuer))
    device_auth = response["documents"][0]["deviceSigned"]["deviceAuth"]
    mac0 = cbor2.loads(vector_hex("definitions", "cose", "mac0", "serialized.cbor"))
    response["documents"][0]["deviceSigned"]["deviceAuth"] = {"deviceMac": mac0}
    assert "deviceSignature" in device_auth
    code = code_of(
        cbor2.dumps(response), trust=issuer.pki.trust, expected_session_transcript=transcript()
    )
    assert code == "unsupported_alg"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"status": 10}, "malformed"),
        ({"status": 12}, "malformed"),
        ({"documents": []}, "malformed"),
        ({"version": "2.0"}, "malformed"),
    ],
)
def test_device_response_status_and_documents(
    issuer: MdocIssuer, change: dict[str, Any], code: str
) -> None:
    response = cbor2.loads(presented(issuer))
    response.update(change)
    assert code_of(cbor2.dumps(response), trust=issuer.pki.trust) == code


def test_two_documents_are_refused(issuer: MdocIssuer) -> None:
    response = cbor2.loads(presented(issuer))
    response["documents"] = response["documents"] * 2
    assert code_of(cbor2.dumps(response), trust=issuer.pki.trust) == "malformed"


def test_unsupported_digest_algorithm(issuer: MdocIssuer) -> None:
    data = presented(issuer, digest_algorithm="MD5")
    assert code_of(data, trust=issuer.pki.trust) == "unsupported_alg"


def test_sha384_digests_verify(issuer: MdocIssuer) -> None:
    data = presented(issuer, digest_algorithm="SHA-384")
    assert verify_mdoc(data, trust=issuer.pki.trust, now=NOW).claims[MDL_NS]["family_name"]


def test_bench_sample_verifies() -> None:
    data, kwargs = bench_sample()
    assert verify_mdoc(data, **kwargs).key_binding is True


# --- R19: only CredentialError escapes -----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_R19_random_bytes_raise_only_credential_error(data: bytes) -> None:
    with contextlib.suppress(CredentialError):
        verify_mdoc(data, trust=TrustConfig(), now=NOW)


_FUZZ_BASE: list[tuple[bytes, TrustConfig]] = []


def _fuzz_base() -> tuple[bytes, TrustConfig]:
    """One valid presentation to mutate (built once: hypothesis forbids function fixtures)."""
    if not _FUZZ_BASE:
        issuer = MdocIssuer(pki=make_pki())
        _FUZZ_BASE.append((presented(issuer), issuer.pki.trust))
    return _FUZZ_BASE[0]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_R19_mutated_device_responses_raise_only_credential_error(data: st.DataObject) -> None:
    base, trust = _fuzz_base()
    mutated = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    candidate = bytes(mutated[:cut]) if data.draw(st.booleans()) else bytes(mutated)
    with contextlib.suppress(CredentialError):
        verify_mdoc(candidate, trust=trust, now=NOW, expected_session_transcript=transcript())


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=20)
    | st.text(max_size=8)
    | st.sampled_from(["issuerAuth", "nameSpaces", "documents", "docType", "status"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "documents",
                    "status",
                    "docType",
                    "issuerSigned",
                    "deviceSigned",
                    "issuerAuth",
                    "nameSpaces",
                    "deviceAuth",
                    "deviceSignature",
                ]
            )
            | st.integers(-5, 40),
            children,
            max_size=5,
        )
        | st.builds(lambda v: cbor2.CBORTag(24, cbor2.dumps(v)), children)
        | st.builds(lambda v: cbor2.CBORTag(18, v), children)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cbor_values)
def test_R19_structured_cbor_raises_only_credential_error(value: object) -> None:
    data = cbor2.dumps(value)
    with contextlib.suppress(CredentialError):
        verify_mdoc(data, trust=_fuzz_base()[1], now=NOW)
    with contextlib.suppress(CredentialError):
        verify_mdoc(data, trust=TrustConfig(), now=NOW, expected_session_transcript=transcript())


def test_R19_certificate_with_invalid_version_is_malformed(issuer: MdocIssuer) -> None:
    # found by the mutation fuzzer: cryptography's InvalidVersion is not a ValueError
    issuer_signed = issuer.issuer_signed()
    protected, unprotected, payload, signature = issuer_signed["issuerAuth"]
    der = unprotected[33]
    assert der.count(b"\xa0\x03\x02\x01\x02") == 1
    unprotected = {33: der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07")}
    issuer_signed["issuerAuth"] = [protected, unprotected, payload, signature]
    assert code_of(cbor2.dumps(issuer_signed), trust=issuer.pki.trust) == "malformed"
