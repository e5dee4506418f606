"""Cross-check: mdocs issued by an independent implementation (pymdoccbor) verify, and tampered
ones fail with the right code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ssar.credentials import cose
from ssar.credentials.mdoc import sign_device_response, verify_mdoc
from ssar.credentials.x509chain import clear_chain_cache
from ssar.errors import CredentialError
from tests.unit.credentials.mdoc_support import MDL, MDL_NS, Pki, make_pki, transcript

pymdoc_issuer = pytest.importorskip("pymdoccbor.mdoc.issuer")

PID = "eu.europa.ec.eudi.pid.1"


def _cose_private(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    size = 32
    return {
        "KTY": "EC2",
        "CURVE": "P_256",
        "ALG": "ES256",
        "D": key.private_numbers().private_value.to_bytes(size, "big"),
        "KID": b"ssar-test",
    }


def _cose_public(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "KTY": "EC2",
        "CURVE": "P_256",
        "X": numbers.x.to_bytes(32, "big"),
        "Y": numbers.y.to_bytes(32, "big"),
    }


def _issue(pki: Pki, device_key: ec.EllipticCurvePrivateKey, doc_type: str = MDL) -> dict[str, Any]:
    issuer = pymdoc_issuer.MdocCborIssuer(private_key=_cose_private(pki.ds_key), alg="ES256")
    today = datetime.now(UTC).date()
    response = issuer.new(
        data={
            MDL_NS: {
                "family_name": "Mustermann",
                "given_name": "Erika",
                "birth_date": "1964-08-12",
                "document_number": "T22000129",
                "age_over_18": True,
            }
        },
        doctype=doc_type,
        validity={
            "issuance_date": today.isoformat(),
            "expiry_date": (today + timedelta(days=30)).isoformat(),
        },
        devicekeyinfo=_cose_public(device_key),
        x509_chain=[pki.ds.public_bytes(serialization.Encoding.DER)],
    )
    return dict(response)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_chain_cache()


@pytest.fixture
def setup() -> tuple[Pki, ec.EllipticCurvePrivateKey, dict[str, Any]]:
    pki = make_pki()
    device_key = ec.generate_private_key(ec.SECP256R1())
    return pki, device_key, _issue(pki, device_key)


def _now() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def test_pymdoccbor_device_response_verifies(setup: Any) -> None:
    pki, _, response = setup
    result = verify_mdoc(cbor2.dumps(response), trust=pki.trust, now=_now())
    assert result.credential_type == MDL
    assert result.claims[MDL_NS]["family_name"] == "Mustermann"
    assert result.claims[MDL_NS]["birth_date"] == "1964-08-12"
    assert result.key_binding is False


def test_pymdoccbor_issuer_signed_with_our_device_signature_verifies(setup: Any) -> None:
    pki, device_key, response = setup
    data = sign_device_response(
        issuer_signed=response["documents"][0]["issuerSigned"],
        doc_type=MDL,
        device_key=device_key,
        alg=cose.ES256,
        session_transcript=transcript(),
    )
    result = verify_mdoc(
        data, trust=pki.trust, now=_now(), expected_session_transcript=transcript()
    )
    assert result.key_binding is True
    with pytest.raises(CredentialError) as err:
        verify_mdoc(
            data, trust=pki.trust, now=_now(), expected_session_transcript=transcript("other")
        )
    assert err.value.code == "key_binding_invalid"


def test_pymdoccbor_tampered_element_is_digest_mismatch(setup: Any) -> None:
    pki, _, response = setup
    items = response["documents"][0]["issuerSigned"]["nameSpaces"][MDL_NS]
    for index, tagged in enumerate(items):
        item = dict(cbor2.loads(tagged.value))
        if item["elementIdentifier"] == "family_name":
            item["elementValue"] = "Musterfrau"
            items[index] = cbor2.CBORTag(24, cbor2.dumps(item))
    with pytest.raises(CredentialError) as err:
        verify_mdoc(cbor2.dumps(response), trust=pki.trust, now=_now())
    assert err.value.code == "digest_mismatch"


def test_pymdoccbor_tampered_mso_is_bad_signature(setup: Any) -> None:
    pki, _, response = setup
    issuer_auth = list(response["documents"][0]["issuerSigned"]["issuerAuth"])
    payload = bytearray(issuer_auth[2])
    payload[-3] ^= 0x01
    issuer_auth[2] = bytes(payload)
    response["documents"][0]["issuerSigned"]["issuerAuth"] = issuer_auth
    with pytest.raises(CredentialError) as err:
        verify_mdoc(cbor2.dumps(response), trust=pki.trust, now=_now())
    assert err.value.code == "bad_signature"


def test_pymdoccbor_other_anchor_is_untrusted(setup: Any) -> None:
    _, _, response = setup
    with pytest.raises(CredentialError) as err:
        verify_mdoc(cbor2.dumps(response), trust=make_pki().trust, now=_now())
    assert err.value.code == "untrusted_issuer"


def test_pymdoccbor_expired_later(setup: Any) -> None:
    pki, _, response = setup
    with pytest.raises(CredentialError) as err:
        verify_mdoc(cbor2.dumps(response), trust=pki.trust, now=_now() + timedelta(days=60))
    assert err.value.code == "expired"


def test_pymdoccbor_doctype_mismatch(setup: Any) -> None:
    pki, _, response = setup
    response["documents"][0]["docType"] = PID
    with pytest.raises(CredentialError) as err:
        verify_mdoc(cbor2.dumps(response), trust=pki.trust, now=_now())
    assert err.value.code == "malformed"
