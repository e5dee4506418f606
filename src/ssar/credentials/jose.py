"""Compact JWS parsing and signature verification on ``cryptography`` directly (RFC 7515/7518).

An allow-list of algorithms (ES256/384/512, EdDSA, RS256, PS256); ``none`` and anything else is
refused with ``unsupported_alg``. Public keys built from JWKs are not cached here: a holder's
``cnf`` key is parsed and point-validated for every presentation (a cache keyed by the JWK would
make returning holders look cheaper than they are); issuer keys from the trust configuration are
cached per configuration object by the key resolvers (``ssar.credentials.trust``).
"""

from __future__ import annotations

import binascii
import json
from binascii import a2b_base64
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple, cast

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ssar.errors import CredentialError

PublicKey = (
    ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | rsa.RSAPublicKey
)

#: The signature algorithms a verifier accepts (R13, R18). ``Ed25519`` is the fully specified
#: name of EdDSA over Ed25519 (RFC 9864).
ALLOWED_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "PS256"}
)

_EC_ALGS: dict[str, tuple[str, hashes.HashAlgorithm, int]] = {
    "ES256": ("P-256", hashes.SHA256(), 32),
    "ES384": ("P-384", hashes.SHA384(), 48),
    "ES512": ("P-521", hashes.SHA512(), 66),
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_MIN_RSA_BITS = 2048
_MAX_TOKEN_CHARS = 1_000_000


# base64url → standard alphabet in one pass; '+', '/' and '=' in the input are not base64url,
# so they become '!', which the strict decoder refuses
FROM_URL = bytes.maketrans(b"-_+/=", b"+/!!!")
TO_URL = bytes.maketrans(b"+/", b"-_")
PADDING = (b"", b"===", b"==", b"=")  # by length % 4; 1 is never valid and stays invalid


def b64url_decode(value: str, *, what: str = "value") -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): other characters or padding are malformed."""
    try:
        return binascii.a2b_base64(
            value.encode("ascii").translate(FROM_URL) + PADDING[len(value) & 3],
            strict_mode=True,
        )
    except (AttributeError, UnicodeEncodeError, binascii.Error, ValueError):
        pass
    if not isinstance(value, str):
        raise CredentialError(f"{what} is not a string", code="malformed")
    if "=" in value or "+" in value or "/" in value or len(value) % 4 == 1:
        raise CredentialError(f"{what} is not unpadded base64url", code="malformed")
    raise CredentialError(f"{what} is not base64url", code="malformed")


def b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(TO_URL).rstrip(b"=").decode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # a parser differential waiting to happen: refuse instead of picking one (RFC 7519 §4)
        raise ValueError("duplicate member name")
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)
# the C scanner without JSONDecoder.decode's two regex matches; whitespace around the value and
# every error fall back to the full decoder, which then decides (and words the error)
SCAN_JSON = cast(Callable[[str, int], tuple[Any, int]], getattr(_DECODER, "scan_once"))  # noqa: B009
_WHITESPACE = " \t\n\r"


def loads_json(data: bytes | str, *, what: str = "JSON") -> Any:
    """JSON with duplicate member names refused; any failure is ``malformed``."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value, end = SCAN_JSON(text, 0)
        if end == len(text) or not text[end:].strip(_WHITESPACE):
            return value
    except (StopIteration, ValueError, RecursionError, UnicodeDecodeError, TypeError):
        pass
    try:
        return _DECODER.decode(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise CredentialError(f"{what} is not valid JSON: {exc}", code="malformed") from exc


def loads_json_object(data: bytes | str, *, what: str) -> dict[str, Any]:
    value = loads_json(data, what=what)
    if not isinstance(value, dict):
        raise CredentialError(f"{what} is not a JSON object", code="malformed")
    return value


class CompactJws(NamedTuple):
    """A parsed but not yet verified compact JWS whose payload is a JSON object (a JWT).

    Immutable; a named tuple because it is made twice per presentation on the hot path."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else ""

    @property
    def typ(self) -> str | None:
        typ = self.header.get("typ")
        return typ if isinstance(typ, str) else None

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def parse_compact_jws(token: str, *, what: str = "JWT") -> CompactJws:
    """Split and decode ``header.payload.signature``; checks shape only, not the signature."""
    return parse_compact_jws_text(token, what=what)[0]


def parse_compact_jws_text(token: str, *, what: str = "JWT") -> tuple[CompactJws, str | None]:
    """:func:`parse_compact_jws` and the payload's JSON text when the common path decoded it
    (``None`` otherwise), for callers that can skip work when the text shows it is not needed."""
    # the common path, inline (it runs twice per presentation): strict base64url and JSON
    # without whitespace around the values; anything else, and every error, takes the exact
    # path, which decides and words it
    try:
        raw_header, raw_payload, raw_signature = token.split(".")
        if len(token) <= _MAX_TOKEN_CHARS:
            header_text = a2b_base64(
                raw_header.encode("ascii").translate(FROM_URL) + PADDING[len(raw_header) & 3],
                strict_mode=True,
            ).decode("utf-8")
            header, end = SCAN_JSON(header_text, 0)
            if (
                end == len(header_text)
                and type(header) is dict
                and type(header.get("alg")) is str
                and "crit" not in header
            ):
                signing_input = token[: len(raw_header) + len(raw_payload) + 1].encode("ascii")
                payload_text = a2b_base64(
                    raw_payload.encode("ascii").translate(FROM_URL) + PADDING[len(raw_payload) & 3],
                    strict_mode=True,
                ).decode("utf-8")
                payload, end = SCAN_JSON(payload_text, 0)
                if end == len(payload_text) and type(payload) is dict:
                    signature = a2b_base64(
                        raw_signature.encode("ascii").translate(FROM_URL)
                        + PADDING[len(raw_signature) & 3],
                        strict_mode=True,
                    )
                    return CompactJws(header, payload, signing_input, signature), payload_text
    except Exception:  # any doubt goes to the exact path
        return _parse_compact_jws_exact(token, what=what), None
    return _parse_compact_jws_exact(token, what=what), None


def _parse_compact_jws_exact(token: str, *, what: str) -> CompactJws:
    """:func:`parse_compact_jws` step by step, with an error naming the first defect."""
    if not isinstance(token, str) or not token:
        raise CredentialError(f"{what} is empty", code="malformed")
    if len(token) > _MAX_TOKEN_CHARS:
        raise CredentialError(f"{what} is too large", code="malformed")
    parts = token.split(".")
    if len(parts) != 3:
        raise CredentialError(f"{what} is not a compact JWS (three parts)", code="malformed")
    raw_header, raw_payload, raw_signature = parts
    header = loads_json_object(
        b64url_decode(raw_header, what=f"{what} header"), what=f"{what} header"
    )
    payload = loads_json_object(
        b64url_decode(raw_payload, what=f"{what} payload"), what=f"{what} payload"
    )
    signature = b64url_decode(raw_signature, what=f"{what} signature")
    if not isinstance(header.get("alg"), str):
        raise CredentialError(f"{what} header has no alg", code="malformed")
    crit = header.get("crit")
    if crit is not None:
        # we understand no extension header, so any critical one makes the JWS unusable
        raise CredentialError(f"{what} has critical header parameters {crit!r}", code="malformed")
    try:
        signing_input = f"{raw_header}.{raw_payload}".encode("ascii")
    except UnicodeEncodeError as exc:
        raise CredentialError(f"{what} is not ASCII", code="malformed") from exc
    return CompactJws(
        header=header, payload=payload, signing_input=signing_input, signature=signature
    )


def check_alg(alg: str, *, allowed_algs: Collection[str] = ALLOWED_ALGS, what: str = "JWT") -> None:
    if alg not in allowed_algs or alg.lower() == "none":
        raise CredentialError(f"{what} alg {alg!r} is not allowed", code="unsupported_alg")


def _jwk_str(jwk: Mapping[str, Any], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise CredentialError(f"JWK member {name!r} is missing", code="malformed")
    return value


def _jwk_members(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    kty = _jwk_str(jwk, "kty")
    if kty == "EC":
        return (kty, _jwk_str(jwk, "crv"), _jwk_str(jwk, "x"), _jwk_str(jwk, "y"))
    if kty == "OKP":
        return (kty, _jwk_str(jwk, "crv"), _jwk_str(jwk, "x"))
    if kty == "RSA":
        return (kty, _jwk_str(jwk, "n"), _jwk_str(jwk, "e"))
    raise CredentialError(f"JWK key type {kty!r} is not supported", code="unsupported_alg")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key of a JWK (private members are ignored).

    Not cached: holder keys (``cnf.jwk``) arrive with every presentation, and a cache keyed by
    the JWK would let a returning holder skip the point validation. Issuer keys from the trust
    configuration are cached per configuration by the key resolvers instead.
    """
    if type(jwk) is dict and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        key = ec_p256_key(jwk.get("x"), jwk.get("y"))
        if key is not None:
            return key
    if not isinstance(jwk, dict) and not isinstance(jwk, Mapping):
        raise CredentialError("JWK is not an object", code="malformed")
    return _public_key(_jwk_members(jwk))


_P256 = ec.SECP256R1()
_from_encoded_point = ec.EllipticCurvePublicKey.from_encoded_point


def ec_p256_key(x: Any, y: Any) -> ec.EllipticCurvePublicKey | None:
    """The P-256 key of the JWK coordinates ``x`` and ``y`` (validated as a point on the
    curve), or ``None`` when anything is off; :func:`public_key_from_jwk` then words the error.
    """
    try:
        xb = binascii.a2b_base64(
            x.encode("ascii").translate(FROM_URL) + PADDING[len(x) & 3], strict_mode=True
        )
        yb = binascii.a2b_base64(
            y.encode("ascii").translate(FROM_URL) + PADDING[len(y) & 3], strict_mode=True
        )
        if len(xb) != 32 or len(yb) != 32:
            return None
        return _from_encoded_point(_P256, b"\x04" + xb + yb)
    except Exception:  # any doubt goes to the exact path
        return None


def _public_key(key: tuple[str, ...]) -> PublicKey:
    kty = key[0]
    try:
        if kty == "EC":
            _, crv, x, y = key
            curve = _CURVES.get(crv)
            if curve is None:
                raise CredentialError(f"EC curve {crv!r} is not supported", code="unsupported_alg")
            size = (curve.key_size + 7) // 8
            xb, yb = b64url_decode(x, what="JWK x"), b64url_decode(y, what="JWK y")
            if len(xb) != size or len(yb) != size:
                raise CredentialError("EC JWK coordinates have the wrong length", code="malformed")
            return ec.EllipticCurvePublicNumbers(
                int.from_bytes(xb, "big"), int.from_bytes(yb, "big"), curve
            ).public_key()
        if kty == "OKP":
            _, crv, x = key
            xb = b64url_decode(x, what="JWK x")
            if crv == "Ed25519":
                return ed25519.Ed25519PublicKey.from_public_bytes(xb)
            if crv == "Ed448":
                return ed448.Ed448PublicKey.from_public_bytes(xb)
            raise CredentialError(f"OKP curve {crv!r} is not supported", code="unsupported_alg")
        _, n, e = key
        modulus = int.from_bytes(b64url_decode(n, what="JWK n"), "big")
        if modulus.bit_length() < _MIN_RSA_BITS:
            raise CredentialError("RSA key is shorter than 2048 bits", code="unsupported_alg")
        return rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(e, what="JWK e"), "big"), modulus
        ).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CredentialError(f"JWK is not a valid public key: {exc}", code="malformed") from exc


def _key_profile(key: PublicKey) -> tuple[str, str]:
    """``(kind, curve)`` of a key: computed once per key object (the isinstance checks against
    the ``cryptography`` ABCs and the curve lookup are a large share of a verification)."""
    cached = _PROFILES.get(id(key))
    if cached is not None and cached[0] is key:
        return cached[1]
    if isinstance(key, ec.EllipticCurvePublicKey):
        profile = ("EC", key.curve.name)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        profile = ("OKP", "Ed25519")
    elif isinstance(key, ed448.Ed448PublicKey):
        profile = ("OKP", "Ed448")
    elif isinstance(key, rsa.RSAPublicKey):
        profile = ("RSA", "")
    else:
        profile = ("", "")
    if len(_PROFILES) >= 4096:
        _PROFILES.clear()
    # the entry holds the key itself, so its id cannot be reused while the entry exists
    _PROFILES[id(key)] = (key, profile)
    return profile


key_profile = _key_profile
_ECDSA = {alg: ec.ECDSA(hash_alg) for alg, (_, hash_alg, _) in _EC_ALGS.items()}
_PROFILES: dict[int, tuple[PublicKey, tuple[str, str]]] = {}
_EC_CURVE_NAMES = {alg: _CURVES[crv].name for alg, (crv, _, _) in _EC_ALGS.items()}


def key_fits_alg(key: PublicKey, alg: str) -> bool:
    kind, curve = _key_profile(key)
    if alg in _EC_ALGS:
        return kind == "EC" and curve == _EC_CURVE_NAMES[alg]
    if alg == "EdDSA":
        return kind == "OKP"
    if alg == "Ed25519":
        return curve == "Ed25519"
    if alg in ("RS256", "PS256"):
        return kind == "RSA"
    return False


def verify_signature(
    jws: CompactJws,
    key: PublicKey,
    *,
    allowed_algs: Collection[str] = ALLOWED_ALGS,
    error_code: str = "bad_signature",
    what: str = "JWT",
) -> None:
    """Verify ``jws`` with ``key`` or raise ``CredentialError`` (``error_code`` on a bad
    signature, ``unsupported_alg`` for an algorithm outside the allow-list or not fitting the key)."""
    alg = jws.alg
    if alg not in allowed_algs or alg.lower() == "none":
        check_alg(alg, allowed_algs=allowed_algs, what=what)
    kind, curve = _key_profile(key)
    ec_alg = _EC_ALGS.get(alg)
    if not (
        (kind == "EC" and curve == _EC_CURVE_NAMES[alg])
        if ec_alg is not None
        else key_fits_alg(key, alg)
    ):
        raise CredentialError(f"{what} alg {alg} does not fit the key", code="unsupported_alg")
    signature, data = jws.signature, jws.signing_input
    try:
        if ec_alg is not None:
            size = ec_alg[2]
            if len(signature) != 2 * size:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            )
            cast(ec.EllipticCurvePublicKey, key).verify(der, data, _ECDSA[alg])
        elif kind == "OKP":
            cast(ed25519.Ed25519PublicKey, key).verify(signature, data)
        elif alg == "RS256":
            cast(rsa.RSAPublicKey, key).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            cast(rsa.RSAPublicKey, key).verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
    except InvalidSignature as exc:
        raise CredentialError(f"{what} signature does not verify", code=error_code) from exc
