"""COSE_Sign1 (RFC 9052): the isomdl COSE vectors, every algorithm we accept, and R19 fuzzing."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.credentials import cose
from ssar.errors import CredentialError
from tests.unit.credentials.mdoc_support import vector_hex


def _vector_key() -> ec.EllipticCurvePrivateKey:
    scalar = int(
        shared_text("definitions", "cose", "sign1", "secret_key").strip(),
        16,
    )
    return ec.derive_private_key(scalar, ec.SECP256R1())


def shared_text(*parts: str) -> str:
    from tests.conftest import shared_path

    return shared_path("vectors", "mdoc", "test", *parts).read_text()


def test_sign1_vector_verifies_with_its_key() -> None:
    message = cose.decode_cose_sign1(vector_hex("definitions", "cose", "sign1", "serialized.cbor"))
    assert message.alg == cose.ES256
    assert message.header(cose.HEADER_KID) == b"11"
    payload = cose.verify_cose_sign1(message, key=_vector_key().public_key())
    assert payload == b"This is the content."


def test_sign1_vector_with_changed_payload_is_bad_signature() -> None:
    raw = vector_hex("definitions", "cose", "sign1", "serialized.cbor")
    tampered = raw.replace(b"content", b"CONTENT")
    message = cose.decode_cose_sign1(tampered)
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(message, key=_vector_key().public_key())
    assert err.value.code == "bad_signature"


def test_cose_key_vector_parses_to_p256() -> None:
    key = cose.cose_key_to_public_key(
        cbor2.loads(vector_hex("definitions", "cose_key", "ec_p256.cbor"))
    )
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert cose.cose_key_to_public_key(cose.public_key_to_cose_key(key)) == key


KEYS = {
    cose.ES256: lambda: ec.generate_private_key(ec.SECP256R1()),
    cose.ES384: lambda: ec.generate_private_key(ec.SECP384R1()),
    cose.ES512: lambda: ec.generate_private_key(ec.SECP521R1()),
    cose.EDDSA: ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("alg", sorted(KEYS))
@pytest.mark.parametrize("detached", [False, True])
def test_sign_verify_round_trip(alg: int, detached: bool) -> None:
    key = KEYS[alg]()
    raw = cose.sign_cose_sign1(
        key=key, alg=alg, payload=b"hello", external_aad=b"aad", detached=detached, tagged=True
    )
    message = cose.decode_cose_sign1(raw)
    assert (
        cose.verify_cose_sign1(
            message,
            key=key.public_key(),
            external_aad=b"aad",
            detached_payload=b"hello" if detached else None,
        )
        == b"hello"
    )
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(
            message,
            key=key.public_key(),
            external_aad=b"other",
            detached_payload=b"hello" if detached else None,
        )
    assert err.value.code == "bad_signature"


def test_detached_payload_must_be_supplied() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = cose.decode_cose_sign1(
        cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p", detached=True)
    )
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(message, key=key.public_key())
    assert err.value.code == "malformed"


def test_wrong_detached_payload_is_bad_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = cose.decode_cose_sign1(
        cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p", detached=True)
    )
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(message, key=key.public_key(), detached_payload=b"q")
    assert err.value.code == "bad_signature"


def test_alg_and_curve_must_agree() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p")
    # re-label the same signature as ES384: the P-256 key does not fit
    item = cbor2.loads(raw)
    item[0] = cbor2.dumps({1: cose.ES384})
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(cose.parse_cose_sign1(item), key=key.public_key())
    assert err.value.code == "unsupported_alg"


@pytest.mark.parametrize("alg", [-257, 5, "ES256", None])
def test_unknown_alg_is_refused(alg: object) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    item = cbor2.loads(cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p"))
    item[0] = cbor2.dumps({1: alg}) if alg is not None else cbor2.dumps({})
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(cose.parse_cose_sign1(item), key=key.public_key())
    assert err.value.code in ("unsupported_alg", "malformed")


def test_signature_of_wrong_length_is_bad_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    item = cbor2.loads(cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p"))
    item[3] = item[3][:-1]
    with pytest.raises(CredentialError) as err:
        cose.verify_cose_sign1(cose.parse_cose_sign1(item), key=key.public_key())
    assert err.value.code == "bad_signature"


def test_unknown_critical_header_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p", protected={2: [99], 99: "x"})
    with pytest.raises(CredentialError) as err:
        cose.decode_cose_sign1(raw)
    assert err.value.code == "malformed"


def test_label_in_both_header_buckets_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p", unprotected={1: -7})
    with pytest.raises(CredentialError):
        cose.decode_cose_sign1(raw)


def test_trailing_bytes_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p")
    with pytest.raises(CredentialError) as err:
        cose.decode_cose_sign1(raw + b"\x00")
    assert err.value.code == "malformed"


def test_missing_x5chain_is_malformed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = cose.decode_cose_sign1(cose.sign_cose_sign1(key=key, alg=cose.ES256, payload=b"p"))
    with pytest.raises(CredentialError) as err:
        cose.x5chain(message)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "cose_key",
    [
        {1: 2, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32},  # not on the curve
        {1: 2, -1: 1, -2: b"\x01" * 31, -3: b"\x02" * 32},
        {1: 2, -1: 1, -2: b"\x01" * 32, -3: True},  # compressed point form
        {1: 2, -1: 4},
        {1: 1, -1: 7, -2: b"\x00" * 57},
        {1: 3},
        [],
    ],
)
def test_bad_cose_keys_are_refused(cose_key: object) -> None:
    with pytest.raises(CredentialError):
        cose.cose_key_to_public_key(cose_key)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_R19_cose_parser_raises_only_credential_error(data: bytes) -> None:
    try:
        message = cose.decode_cose_sign1(data)
        cose.x5chain(message)
    except CredentialError:
        pass


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.integers(-50, 50) | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_cbor_values)
def test_R19_cose_structures_raise_only_credential_error(value: object) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    try:
        message = cose.parse_cose_sign1(value)
        cose.verify_cose_sign1(message, key=key, detached_payload=b"x")
    except CredentialError:
        pass
    with contextlib.suppress(CredentialError):
        cose.cose_key_to_public_key(value)
