"""COSE_Sign1 (RFC 9052) parsing, verification and signing on cbor2 + ``cryptography``.

Only what mdoc needs: ES256/ES384/ES512 and EdDSA signatures, detached payloads, external AAD,
the ``x5chain`` header (label 33) and EC2/OKP ``COSE_Key`` public keys. Every failure is a
``CredentialError`` (``malformed``, ``unsupported_alg`` or ``bad_signature``).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ssar.errors import CredentialError

# COSE algorithm identifiers (IANA "COSE Algorithms"); -9/-51/-52 and -19 are the fully
# specified variants of RFC 9864, which fix the curve as well as the hash.
ES256 = -7
ES384 = -35
ES512 = -36
EDDSA = -8
ESP256 = -9
ESP384 = -51
ESP512 = -52
ED25519 = -19

HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
HEADER_X5CHAIN = 33

COSE_SIGN1_TAG = 18

_EC_ALGS: dict[int, tuple[type[hashes.HashAlgorithm], type[ec.EllipticCurve]]] = {
    ES256: (hashes.SHA256, ec.SECP256R1),
    ES384: (hashes.SHA384, ec.SECP384R1),
    ES512: (hashes.SHA512, ec.SECP521R1),
    ESP256: (hashes.SHA256, ec.SECP256R1),
    ESP384: (hashes.SHA384, ec.SECP384R1),
    ESP512: (hashes.SHA512, ec.SECP521R1),
}
_EDDSA_ALGS = frozenset({EDDSA, ED25519})
_ECDSA = {alg: ec.ECDSA(hash_cls()) for alg, (hash_cls, _) in _EC_ALGS.items()}
SUPPORTED_ALGS = frozenset(_EC_ALGS) | _EDDSA_ALGS
_UNDERSTOOD_HEADERS = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID, 33})

# COSE_Key (RFC 9053 §7): kty 2 = EC2, kty 1 = OKP; crv 1/2/3 = P-256/384/521, 6 = Ed25519.
_KTY_OKP = 1
_KTY_EC2 = 2
_EC2_CURVES: dict[int, type[ec.EllipticCurve]] = {
    1: ec.SECP256R1,
    2: ec.SECP384R1,
    3: ec.SECP521R1,
}
_CRV_ED25519 = 6
_P256 = ec.SECP256R1()
_from_encoded_point = ec.EllipticCurvePublicKey.from_encoded_point

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_MAX_CBOR_DEPTH = 64


def malformed(detail: str) -> CredentialError:
    return CredentialError(detail, code="malformed")


# cbor2 decodes maps to dict, or to its frozendict inside tags; checking the concrete types is
# several times cheaper than ``isinstance(x, Mapping)`` on the hot path.
MAP_TYPES = (dict, cbor2.frozendict)
ARRAY_TYPES = (list, tuple)


def cbor_loads(data: bytes, *, what: str, exact: bool = True) -> Any:
    """Decode one CBOR data item, refusing duplicate map keys and (with ``exact``) trailing
    bytes. ``exact=False`` is for bytes a signature or digest already fixes, where a cheaper
    decoder is enough. Any failure becomes ``CredentialError(code="malformed")`` naming ``what``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise malformed(f"{what} is not a byte string")
    raw = bytes(data)
    if raw == b"\xa0":  # an empty map (e.g. DeviceNameSpaces), not worth a decoder
        return {}
    if not exact:
        try:
            return cbor2.loads(raw, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH)
        except RecursionError as exc:
            raise malformed(f"{what} is nested too deeply") from exc
        except Exception as exc:  # cbor2 raises decode, value, type, overflow and key errors
            raise malformed(f"{what} is not valid CBOR: {exc}") from exc
    buffer = io.BytesIO(raw)
    try:
        # read_size > 1 is much faster; cbor2 seeks the stream back to the item's end
        decoder = cbor2.CBORDecoder(
            buffer,
            allow_duplicate_keys=False,
            max_depth=_MAX_CBOR_DEPTH,
            str_errors="strict",
            read_size=4096,
        )
        item = decoder.decode()
    except RecursionError as exc:
        raise malformed(f"{what} is nested too deeply") from exc
    except Exception as exc:  # cbor2 raises decode, value, type, overflow and key errors
        raise malformed(f"{what} is not valid CBOR: {exc}") from exc
    if buffer.tell() != len(raw):
        raise malformed(f"{what} has {len(raw) - buffer.tell()} trailing bytes after the CBOR item")
    return item


def cbor_dumps(item: Any) -> bytes:
    return cbor2.dumps(item)


class CoseSign1(NamedTuple):
    """A parsed COSE_Sign1 (RFC 9052 §4.2). ``protected`` keeps the header bytes as
    transmitted, because the signature covers exactly those bytes. Immutable."""

    protected: bytes
    protected_header: Mapping[Any, Any]
    unprotected_header: Mapping[Any, Any]
    payload: bytes | None
    signature: bytes

    @property
    def alg(self) -> int:
        alg = self.protected_header.get(HEADER_ALG)
        if alg is None:
            raise malformed("COSE_Sign1 has no alg in its protected header")
        if not isinstance(alg, int) or isinstance(alg, bool):
            raise CredentialError(f"COSE alg {alg!r} is not supported", code="unsupported_alg")
        return alg

    def header(self, label: int) -> Any:
        if label in self.protected_header:
            return self.protected_header[label]
        return self.unprotected_header.get(label)


def parse_cose_sign1(item: Any, *, what: str = "COSE_Sign1") -> CoseSign1:
    """Read a COSE_Sign1 from an already decoded CBOR item (tag 18 optional, as in mdoc)."""
    # the common shape (untagged array, attached or detached payload, a non-empty protected
    # map without crit, no label in both buckets) without the step-by-step checks; anything
    # else takes them, and they decide and word every error
    if type(item) is list and len(item) == 4:
        protected, unprotected, payload, signature = item
        if (
            type(protected) is bytes
            and protected
            and type(unprotected) is dict
            and type(signature) is bytes
            and (payload is None or type(payload) is bytes)
        ):
            try:
                header = cbor2.loads(
                    protected, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH
                )
            except Exception:  # the step-by-step path words the error
                header = None
            if (
                type(header) is dict
                and HEADER_CRIT not in header
                and (not unprotected or header.keys().isdisjoint(unprotected))
            ):
                return CoseSign1(protected, header, unprotected, payload, signature)
    return _parse_cose_sign1(item, what=what)


def _parse_cose_sign1(item: Any, *, what: str) -> CoseSign1:
    """:func:`parse_cose_sign1` step by step, with an error naming the first defect."""
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise malformed(f"{what} carries CBOR tag {item.tag}, expected 18 (COSE_Sign1)")
        item = item.value
    if not isinstance(item, ARRAY_TYPES) or len(item) != 4:
        raise malformed(f"{what} is not a 4-element COSE_Sign1 array")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes):
        raise malformed(f"{what} protected header is not a byte string")
    if not isinstance(unprotected, MAP_TYPES):
        raise malformed(f"{what} unprotected header is not a map")
    if payload is not None and not isinstance(payload, bytes):
        raise malformed(f"{what} payload is neither a byte string nor null")
    if not isinstance(signature, bytes):
        raise malformed(f"{what} signature is not a byte string")
    if protected:
        try:
            protected_header = cbor2.loads(
                protected, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH
            )
        except Exception:  # the wrapper words the error (and maps RecursionError)
            protected_header = cbor_loads(protected, what=f"{what} protected header", exact=False)
        if type(protected_header) is not dict and not isinstance(protected_header, MAP_TYPES):
            raise malformed(f"{what} protected header is not a map")
    else:
        protected_header = {}
    if unprotected and not protected_header.keys().isdisjoint(unprotected):
        overlap = set(protected_header) & set(unprotected)
        raise malformed(f"{what} has header labels in both buckets: {sorted(map(str, overlap))}")
    crit = protected_header.get(HEADER_CRIT)
    if crit is not None:
        if not isinstance(crit, list | tuple) or not crit:
            raise malformed(f"{what} crit header is not a non-empty array")
        unknown = [c for c in crit if not _understood(c)]
        if unknown:
            raise malformed(f"{what} marks unknown header labels as critical: {unknown!r}")
    return CoseSign1(
        protected=protected,
        protected_header=protected_header,
        unprotected_header=unprotected,
        payload=payload,
        signature=signature,
    )


def _understood(label: Any) -> bool:
    try:
        return label in _UNDERSTOOD_HEADERS
    except TypeError:  # an unhashable label (an array or map) is no header this code knows
        return False


def decode_cose_sign1(data: bytes, *, what: str = "COSE_Sign1") -> CoseSign1:
    """Decode and parse a serialized COSE_Sign1 (tagged or untagged)."""
    return parse_cose_sign1(cbor_loads(data, what=what), what=what)


def cbor_head(major: int, length: int) -> bytes:
    """The shortest CBOR head of ``major`` (shifted, e.g. ``0x40`` for a byte string) with
    argument ``length``, byte for byte what ``cbor2.dumps`` writes."""
    if length < 24:
        return bytes((major | length,))
    if length < 0x100:
        return bytes((major | 24, length))
    if length < 0x10000:
        return bytes((major | 25,)) + length.to_bytes(2, "big")
    if length < 0x100000000:
        return bytes((major | 26,)) + length.to_bytes(4, "big")
    return bytes((major | 27,)) + length.to_bytes(8, "big")


def cbor_bstr(data: bytes) -> bytes:
    """``data`` encoded as a CBOR byte string (as ``cbor2.dumps(data)``)."""
    return cbor_head(0x40, len(data)) + data


_SIGNATURE1 = cbor2.dumps("Signature1")
_SIG1_PREFIX = b"\x84" + _SIGNATURE1


def sig_structure(*, protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    """The bytes a COSE_Sign1 signature covers (RFC 9052 §4.4): the CBOR of
    ``["Signature1", protected, external_aad, payload]``, written without re-encoding."""
    return b"".join(
        (
            b"\x84",
            _SIGNATURE1,
            cbor_head(0x40, len(protected)),
            protected,
            cbor_head(0x40, len(external_aad)),
            external_aad,
            cbor_head(0x40, len(payload)),
            payload,
        )
    )


_KEY_KINDS: dict[type, str] = {}


def _key_kind(key: object) -> str:
    # isinstance against cryptography's ABCs is slow; the answer only depends on the type
    kind = _KEY_KINDS.get(type(key))
    if kind is None:
        if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            kind = "ec"
        elif isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
            kind = "ed25519"
        else:
            kind = "other"
        _KEY_KINDS[type(key)] = kind
    return kind


_EC_PROFILES: dict[int, tuple[object, ec.EllipticCurve, int] | None] = {}


def _ec_profile(key: object) -> tuple[object, ec.EllipticCurve, int] | None:
    """``(key, curve, coordinate size)`` of an EC public key, ``None`` for other keys;
    computed once per key object (``key.curve`` makes a new object on every access)."""
    cached = _EC_PROFILES.get(id(key))
    if cached is not None and cached[0] is key:
        return cached
    profile: tuple[object, ec.EllipticCurve, int] | None = None
    if _key_kind(key) == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
        curve = key.curve
        profile = (key, curve, (curve.key_size + 7) // 8)
    if profile is not None:
        if len(_EC_PROFILES) >= 4096:
            _EC_PROFILES.clear()
        # the entry holds the key itself, so its id cannot be reused while the entry exists
        _EC_PROFILES[id(key)] = profile
    return profile


def _check_key_for_alg(alg: int, key: object) -> None:
    kind = _key_kind(key)
    if alg in _EC_ALGS:
        _, curve = _EC_ALGS[alg]
        if kind != "ec" or not isinstance(
            key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey
        ):
            raise CredentialError(
                f"COSE alg {alg} needs an EC key, got {type(key).__name__}", code="unsupported_alg"
            )
        if not isinstance(key.curve, curve):
            raise CredentialError(
                f"COSE alg {alg} needs curve {curve.name}, the key is on {key.curve.name}",
                code="unsupported_alg",
            )
    elif alg in _EDDSA_ALGS:
        if kind != "ed25519":
            raise CredentialError(
                f"COSE alg {alg} (EdDSA) needs an Ed25519 key, got {type(key).__name__}",
                code="unsupported_alg",
            )
    else:
        raise CredentialError(f"COSE alg {alg} is not supported", code="unsupported_alg")


def verify_cose_sign1(
    message: CoseSign1,
    *,
    key: PublicKey,
    external_aad: bytes = b"",
    detached_payload: bytes | None = None,
    allowed_algs: frozenset[int] = SUPPORTED_ALGS,
) -> bytes:
    """Verify ``message`` with ``key`` and return the payload that was signed.

    A detached message (payload ``null``) needs ``detached_payload``; an attached one must not
    get a different one. ECDSA signatures are COSE's raw ``r || s``, converted to DER here.
    """
    return verify_cose_sign1_profiled(
        message,
        key=key,
        profile=_ec_profile(key),
        external_aad=external_aad,
        detached_payload=detached_payload,
        allowed_algs=allowed_algs,
    )


#: the EC profile of a P-256 key, for callers that made the key from a P-256 COSE_Key
P256_PROFILE: tuple[object, ec.EllipticCurve, int] = (None, ec.SECP256R1(), 32)


def verify_cose_sign1_profiled(
    message: CoseSign1,
    *,
    key: PublicKey,
    profile: tuple[object, ec.EllipticCurve, int] | None,
    external_aad: bytes = b"",
    detached_payload: bytes | None = None,
    allowed_algs: frozenset[int] = SUPPORTED_ALGS,
) -> bytes:
    """:func:`verify_cose_sign1` with the key's EC profile ``(_, curve, coordinate size)``
    given by a caller that knows it (``None`` for a key that is not EC), so that a key made
    for one verification is not entered in the per-key profile cache."""
    alg = message.protected_header.get(HEADER_ALG)
    if type(alg) is not int:
        alg = message.alg  # raises the fitting error, or accepts an int subclass
    if alg not in allowed_algs:
        raise CredentialError(f"COSE alg {alg} is not allowed here", code="unsupported_alg")
    ec_alg = _EC_ALGS.get(alg)
    if profile is None and ec_alg is not None:
        profile = _ec_profile(key)  # a caller that did not know: never verify EC as EdDSA
    if profile is None or ec_alg is None or not isinstance(profile[1], ec_alg[1]):
        _check_key_for_alg(alg, key)
    payload = message.payload
    if payload is None:
        if detached_payload is None:
            raise malformed("COSE_Sign1 payload is detached but none was supplied")
        payload = detached_payload
    elif detached_payload is not None and detached_payload != payload:
        raise CredentialError(
            "COSE_Sign1 attached payload differs from the expected one", code="bad_signature"
        )
    protected = message.protected
    # Sig_structure (see sig_structure), written inline
    size = len(protected)
    to_be_signed = b"".join(
        (
            _SIG1_PREFIX,
            bytes((0x40 | size,)) if size < 24 else cbor_head(0x40, size),
            protected,
            cbor_head(0x40, len(external_aad)) if external_aad else b"\x40",
            external_aad,
            cbor_head(0x40, len(payload)),
            payload,
        )
    )
    signature = message.signature
    try:
        if profile is not None:
            size = profile[2]
            if len(signature) != 2 * size:
                raise CredentialError(
                    f"ECDSA signature is {len(signature)} bytes, expected {2 * size}",
                    code="bad_signature",
                )
            cast(ec.EllipticCurvePublicKey, key).verify(
                encode_dss_signature(
                    int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
                ),
                to_be_signed,
                _ECDSA[alg],
            )
        else:
            cast(ed25519.Ed25519PublicKey, key).verify(signature, to_be_signed)
    except InvalidSignature as exc:
        raise CredentialError("COSE_Sign1 signature does not verify", code="bad_signature") from exc
    return payload


def sign_cose_sign1(
    *,
    key: PrivateKey,
    alg: int,
    payload: bytes,
    unprotected: Mapping[Any, Any] | None = None,
    protected: Mapping[Any, Any] | None = None,
    external_aad: bytes = b"",
    detached: bool = False,
    tagged: bool = False,
) -> bytes:
    """Produce a serialized COSE_Sign1 (for test issuers and the reference wallet)."""
    _check_key_for_alg(alg, key)
    header = {HEADER_ALG: alg, **(protected or {})}
    protected_bytes = cbor2.dumps(header)
    to_be_signed = sig_structure(
        protected=protected_bytes, external_aad=external_aad, payload=payload
    )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        hash_cls, _ = _EC_ALGS[alg]
        r, s = decode_dss_signature(key.sign(to_be_signed, ec.ECDSA(hash_cls())))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        signature = key.sign(to_be_signed)
    body = [protected_bytes, dict(unprotected or {}), None if detached else payload, signature]
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, body) if tagged else body)


@functools.lru_cache(maxsize=512)
def load_der_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate (cached: the same DS certificate arrives with every mdoc)."""
    try:
        return x509.load_der_x509_certificate(der)
    # InvalidVersion is not a ValueError; Warning: when warnings are errors (RFC 5280 nits)
    except (ValueError, x509.InvalidVersion, Warning) as exc:
        raise malformed(f"x5chain holds an unparseable certificate: {exc}") from exc


def x5chain(message: CoseSign1) -> list[x509.Certificate]:
    """The certificates of the ``x5chain`` header (label 33), leaf first (RFC 9360)."""
    value = message.header(HEADER_X5CHAIN)
    if value is None:
        raise malformed("COSE_Sign1 has no x5chain header (label 33)")
    if isinstance(value, bytes):
        ders: list[Any] = [value]
    elif isinstance(value, list | tuple) and value:
        ders = list(value)
    else:
        raise malformed("x5chain header is neither a certificate nor a non-empty array")
    certs = []
    for der in ders:
        if not isinstance(der, bytes):
            raise malformed("x5chain header holds a non-byte-string element")
        certs.append(load_der_certificate(der))
    return certs


def _coord(cose_key: Mapping[Any, Any], label: int, size: int, name: str) -> bytes:
    value = cose_key.get(label)
    if not isinstance(value, bytes) or len(value) != size:
        raise malformed(f"COSE_Key {name} coordinate must be {size} bytes")
    return value


def _ec_public_key(crv: int, x: bytes, y: bytes) -> ec.EllipticCurvePublicKey:
    # not cached: the device key arrives with every credential, and a cache keyed by it
    # would let a returning holder skip the point validation
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_EC2_CURVES[crv](), b"\x04" + x + y)
    except ValueError as exc:
        raise malformed("COSE_Key is not a point on its curve") from exc


def cose_key_to_public_key(cose_key: Any) -> PublicKey:
    """Turn an EC2 (P-256/384/521) or OKP (Ed25519) COSE_Key into a ``cryptography`` key."""
    if type(cose_key) is dict and cose_key.get(1) == _KTY_EC2 and type(cose_key.get(-1)) is int:
        crv = cose_key[-1]
    else:
        crv = None
    if crv == 1:
        # P-256, the common case: both coordinates 32 bytes, the point validated by OpenSSL
        x, y = cose_key.get(-2), cose_key.get(-3)
        if type(x) is bytes and type(y) is bytes and len(x) == 32 and len(y) == 32:
            try:
                return _from_encoded_point(_P256, b"\x04" + x + y)
            except ValueError as exc:
                raise malformed("COSE_Key is not a point on its curve") from exc
    if not isinstance(cose_key, MAP_TYPES):
        raise malformed("COSE_Key is not a map")
    kty = cose_key.get(1)
    crv = cose_key.get(-1)
    if kty == _KTY_EC2:
        if not isinstance(crv, int) or isinstance(crv, bool) or crv not in _EC2_CURVES:
            raise CredentialError(
                f"COSE_Key EC2 curve {crv!r} is not supported", code="unsupported_alg"
            )
        size = (_EC2_CURVES[crv]().key_size + 7) // 8
        x = _coord(cose_key, -2, size, "x")
        y_value = cose_key.get(-3)
        if not isinstance(y_value, bytes):
            raise malformed("COSE_Key EC2 key without an uncompressed y coordinate")
        y = _coord(cose_key, -3, size, "y")
        return _ec_public_key(crv, x, y)
    if kty == _KTY_OKP:
        if crv != _CRV_ED25519:
            raise CredentialError(
                f"COSE_Key OKP curve {crv!r} is not supported", code="unsupported_alg"
            )
        x = _coord(cose_key, -2, 32, "x")
        return ed25519.Ed25519PublicKey.from_public_bytes(x)
    raise CredentialError(f"COSE_Key type {kty!r} is not supported", code="unsupported_alg")


def cose_key_profile(cose_key: Any) -> tuple[object, ec.EllipticCurve, int] | None:
    """The EC profile (see :func:`verify_cose_sign1_profiled`) of the key that
    :func:`cose_key_to_public_key` made from ``cose_key``; ``None`` for an OKP key."""
    if not isinstance(cose_key, MAP_TYPES):
        return None
    crv = cose_key.get(-1)
    if cose_key.get(1) != _KTY_EC2 or type(crv) is not int or crv not in _EC2_CURVES:
        return None
    if crv == 1:
        return P256_PROFILE
    curve = _EC2_CURVES[crv]()
    return (None, curve, (curve.key_size + 7) // 8)


def public_key_to_cose_key(key: PublicKey) -> dict[int, Any]:
    """The COSE_Key of a public key (the inverse of :func:`cose_key_to_public_key`)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        from cryptography.hazmat.primitives import serialization

        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {1: _KTY_OKP, -1: _CRV_ED25519, -2: raw}
    for crv, curve in _EC2_CURVES.items():
        if isinstance(key.curve, curve):
            size = (key.curve.key_size + 7) // 8
            numbers = key.public_numbers()
            return {
                1: _KTY_EC2,
                -1: crv,
                -2: numbers.x.to_bytes(size, "big"),
                -3: numbers.y.to_bytes(size, "big"),
            }
    raise CredentialError(
        f"curve {key.curve.name} has no COSE_Key encoding", code="unsupported_alg"
    )
