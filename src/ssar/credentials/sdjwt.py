"""SD-JWT verification (RFC 9901 §7): issuer-signed JWT, disclosures, and Key Binding.

``verify_sd_jwt`` checks a plain SD-JWT; ``ssar.credentials.sdjwt_vc`` adds the SD-JWT VC rules
on top of :func:`process_sd_jwt`, which both share.
"""

from __future__ import annotations

import hashlib
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import (
    ALLOWED_ALGS,
    FROM_URL,
    PADDING,
    SCAN_JSON,
    TO_URL,
    CompactJws,
    PublicKey,
    b64url_decode,
    check_alg,
    ec_p256_key,
    key_profile,
    loads_json,
    parse_compact_jws_text,
    public_key_from_jwk,
    verify_signature,
)
from ssar.credentials.results import VerifiedCredential
from ssar.credentials.trust import TrustConfig, resolve_issuer_key
from ssar.errors import CredentialError

#: ``_sd_alg`` values (IANA "Named Information Hash Algorithm" names) this verifier knows.
SD_ALGS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
#: A KB-JWT must have been made within this window around ``now`` (R14).
KB_MAX_AGE = timedelta(minutes=5)
#: Clock skew tolerated on ``nbf``, ``exp`` and ``iat``.
LEEWAY = timedelta(seconds=60)
KB_TYP = "kb+jwt"
_KB_MAX_AGE_S = KB_MAX_AGE.total_seconds()
_LEEWAY_S = LEEWAY.total_seconds()
_MAX_DEPTH = 64
_MAX_DISCLOSURES = 4096
_ES256 = ec.ECDSA(hashes.SHA256())
_P256_PROFILE = ("EC", ec.SECP256R1.name)

KeyResolver = Callable[[CompactJws], list[PublicKey]]


@dataclass(frozen=True, slots=True)
class Disclosure:
    encoded: str
    digest: str
    salt: str
    name: str | None  # None for an array element
    value: Any


@dataclass(frozen=True, slots=True)
class ProcessedSdJwt:
    """A verified SD-JWT: the issuer JWT, the Processed SD-JWT Payload and what was disclosed."""

    issuer_jwt: CompactJws
    payload: dict[str, Any]
    disclosures: tuple[Disclosure, ...]
    top_level_disclosed: frozenset[str]  # claim names disclosed directly in the top-level object
    key_binding: bool
    holder_jwk: dict[str, Any] | None
    valid_from: datetime | None
    valid_until: datetime | None


def split_presentation(presentation: str) -> tuple[str, list[str], str | None, str]:
    """``(issuer_jwt, disclosures, kb_jwt or None, sd_jwt_part_for_sd_hash)`` (RFC 9901 §4)."""
    if not isinstance(presentation, str):
        raise CredentialError("SD-JWT is not text", code="malformed")
    presentation = presentation.strip()
    if "~" not in presentation:
        raise CredentialError("SD-JWT has no '~' separator", code="malformed")
    parts = presentation.split("~")
    if len(parts) - 2 > _MAX_DISCLOSURES:
        raise CredentialError("SD-JWT has too many disclosures", code="malformed")
    issuer_jwt, disclosures, last = parts[0], parts[1:-1], parts[-1]
    if "" in disclosures:
        raise CredentialError("SD-JWT has an empty disclosure", code="malformed")
    sd_part = presentation[: len(presentation) - len(last)]
    return issuer_jwt, disclosures, (last or None), sd_part


def _disclosure(encoded: str, hash_fn: Callable[[bytes], Any]) -> tuple[str, str | None, Any, str]:
    """``(digest, claim name or None, value, salt)`` of one disclosure (RFC 9901 §7.1 step 3).

    The common shape (strict base64url of a JSON array, no whitespace around it, a string salt
    and, for an object property, a string name other than ``_sd`` and ``...``) is read here;
    anything else, and every error, goes to :func:`_disclosure_exact`, which decides."""
    try:
        raw = encoded.encode("ascii")
        text = a2b_base64(raw.translate(FROM_URL) + PADDING[len(raw) & 3], strict_mode=True).decode(
            "utf-8"
        )
        value, end = SCAN_JSON(text, 0)
        if end == len(text) and type(value) is list and type(value[0]) is str:
            size = len(value)
            if size == 3:
                name = value[1]
                if type(name) is str and name != "_sd" and name != "...":
                    return _digest(hash_fn(raw).digest()), name, value[2], value[0]
            elif size == 2:
                return _digest(hash_fn(raw).digest()), None, value[1], value[0]
    except Exception:  # any doubt goes to the exact path
        return _disclosure_exact(encoded, hash_fn)
    return _disclosure_exact(encoded, hash_fn)


def _disclosure_exact(
    encoded: str, hash_fn: Callable[[bytes], Any]
) -> tuple[str, str | None, Any, str]:
    """:func:`_disclosure` step by step, with an error naming the first defect."""
    value: Any = None
    try:
        raw = encoded.encode("ascii")
        text = a2b_base64(raw.translate(FROM_URL) + PADDING[len(raw) & 3], strict_mode=True).decode(
            "utf-8"
        )
        value, end = SCAN_JSON(text, 0)
        if end != len(text):
            value = None  # trailing whitespace or garbage: the exact decoder decides
    except Exception:  # any doubt goes to the exact decoder, which words the error
        value = None
    if type(value) is not list:
        value = loads_json(b64url_decode(encoded, what="disclosure"), what="disclosure")
        raw = encoded.encode("ascii")
    if type(value) is not list or len(value) not in (2, 3):
        raise CredentialError("disclosure is not an array of 2 or 3 elements", code="malformed")
    salt = value[0]
    if type(salt) is not str:
        raise CredentialError("disclosure salt is not a string", code="malformed")
    name: str | None = None
    if len(value) == 3:
        name = value[1]
        if type(name) is not str:
            raise CredentialError("disclosure claim name is not a string", code="malformed")
        if name == "_sd" or name == "...":
            raise CredentialError(
                f"disclosure uses the reserved claim name {name!r}", code="malformed"
            )
    return _digest(hash_fn(raw).digest()), name, value[-1], salt


def _digest(digest: bytes) -> str:
    """Unpadded base64url of a digest."""
    return b2a_base64(digest, newline=False).translate(TO_URL).rstrip(b"=").decode("ascii")


def _parse_disclosure(encoded: str, hash_fn: Callable[[bytes], Any]) -> Disclosure:
    digest, name, value, salt = _disclosure(encoded, hash_fn)
    return Disclosure(encoded=encoded, digest=digest, salt=salt, name=name, value=value)


_Disclosed = tuple[str, str | None, Any, str]


def _too_deep() -> CredentialError:
    return CredentialError("SD-JWT payload is nested too deeply", code="malformed")


_TOP_SKIP = frozenset({"_sd", "_sd_alg"})
_CONTAINERS = (dict, list)


def _flat(payload: dict[str, Any], text: str) -> bool:
    """Whether ``payload`` (decoded from the JSON ``text``) can only hold digests in its
    top-level ``_sd`` and is shallower than the nesting limit, so that, when every disclosed
    value is a scalar, :meth:`_Unpacker.top_only` gives what :meth:`_Unpacker.unpack` would.

    Without a backslash the text spells every member name literally, so a ``"_sd"`` or
    ``"..."`` anywhere else would show up as a further occurrence; every container opens
    with a bracket, so fewer brackets than the limit bound the depth. Any doubt says no.
    """
    if "\\" in text or '"..."' in text:
        return False
    if text.count('"_sd"') != ("_sd" in payload):
        return False
    return text.count("{") + text.count("[") < _MAX_DEPTH


class _Unpacker:
    """RFC 9901 §7.1 step 3: replace digests by disclosed values, drop decoys, refuse reuse.

    Payloads and disclosure values come from the JSON decoder, so containers are exactly
    ``dict`` and ``list``; a leaf deeper than the limit is refused as a container would be.
    """

    __slots__ = ("by_digest", "seen", "top_level", "used")

    def __init__(self, by_digest: dict[str, _Disclosed]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used = 0
        self.top_level: set[str] = set()

    def _take(self, digest: Any) -> _Disclosed | None:
        if type(digest) is not str:
            raise CredentialError("digest is not a string", code="malformed")
        if digest in self.seen:
            raise CredentialError(f"digest {digest} appears more than once", code="malformed")
        self.seen.add(digest)
        disclosure = self.by_digest.get(digest)
        if disclosure is not None:
            self.used += 1
        return disclosure

    def top_only(self, payload: dict[str, Any]) -> dict[str, Any]:
        """:meth:`unpack` of a payload whose only digests are in its top-level ``_sd`` and
        whose disclosed values are not containers (see :func:`_flat`): nested objects are
        taken as they are, nothing in them needs processing."""
        result = {key: value for key, value in payload.items() if key not in _TOP_SKIP}
        if "_sd" not in payload:
            return result
        digests = payload["_sd"]
        if type(digests) is not list:
            raise CredentialError("_sd is not an array", code="malformed")
        seen, by_digest, top_level = self.seen, self.by_digest, self.top_level
        for digest in digests:
            if type(digest) is not str:
                raise CredentialError("digest is not a string", code="malformed")
            if digest in seen:
                raise CredentialError(f"digest {digest} appears more than once", code="malformed")
            seen.add(digest)
            disclosure = by_digest.get(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            self.used += 1
            name = disclosure[1]
            if name is None:
                raise CredentialError(
                    "array-element disclosure referenced from _sd", code="malformed"
                )
            if name in result:
                raise CredentialError(
                    f"disclosed claim {name!r} collides with an existing claim",
                    code="malformed",
                )
            result[name] = disclosure[2]
            top_level.add(name)
        return result

    def unpack(self, node: Any, depth: int, *, top: bool = False) -> Any:
        if depth > _MAX_DEPTH:
            raise _too_deep()
        kind = type(node)
        if kind is dict:
            return self._object(node, depth, top=top)
        if kind is list:
            return self._array(node, depth)
        return node

    def _object(self, node: dict[str, Any], depth: int, *, top: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        child = depth + 1
        for key, value in node.items():
            if key == "_sd" or (top and key == "_sd_alg"):
                continue
            kind = type(value)
            if kind is dict or kind is list:
                result[key] = self.unpack(value, child)
            elif child > _MAX_DEPTH:
                raise _too_deep()
            else:
                result[key] = value
        if "_sd" not in node:
            return result
        digests = node["_sd"]
        if type(digests) is not list:
            raise CredentialError("_sd is not an array", code="malformed")
        for digest in digests:
            disclosure = self._take(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            name = disclosure[1]
            if name is None:
                raise CredentialError(
                    "array-element disclosure referenced from _sd", code="malformed"
                )
            if name in result:
                raise CredentialError(
                    f"disclosed claim {name!r} collides with an existing claim",
                    code="malformed",
                )
            result[name] = self.unpack(disclosure[2], child)
            if top:
                self.top_level.add(name)
        return result

    def _array(self, node: list[Any], depth: int) -> list[Any]:
        result: list[Any] = []
        child = depth + 1
        for element in node:
            kind = type(element)
            if kind is dict and len(element) == 1 and "..." in element:
                disclosure = self._take(element["..."])
                if disclosure is None:
                    continue
                if disclosure[1] is not None:
                    raise CredentialError(
                        "object-property disclosure used in an array", code="malformed"
                    )
                result.append(self.unpack(disclosure[2], child))
            elif kind is dict or kind is list:
                result.append(self.unpack(element, child))
            elif child > _MAX_DEPTH:
                raise _too_deep()
            else:
                result.append(element)
        return result


def require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")


def _numeric_date(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None:
        return None
    kind = type(value)
    if (
        kind is not int
        and kind is not float
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        raise CredentialError(f"{name} is not a NumericDate", code="malformed")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise CredentialError(f"{name} is out of range", code="malformed") from exc


def check_validity(
    payload: Mapping[str, Any], *, now: datetime, what: str = "credential"
) -> tuple[datetime | None, datetime | None]:
    """``nbf``/``iat``/``exp`` against ``now`` with :data:`LEEWAY`; returns ``(nbf or iat, exp)``."""
    exp, iat = payload.get("exp"), payload.get("iat")
    if (
        type(exp) is int
        and type(iat) is int
        and payload.get("nbf") is None
        and now.tzinfo is not None
    ):
        # the common shape, compared as numbers; within a second of a bound (where float
        # rounding of ``now`` could matter) the datetime comparison below decides
        now_s = now.timestamp()
        if now_s < exp + _LEEWAY_S - 1 and now_s + _LEEWAY_S - 1 >= iat:
            try:
                return datetime.fromtimestamp(iat, tz=UTC), datetime.fromtimestamp(exp, tz=UTC)
            except (OverflowError, OSError, ValueError):
                pass  # out of range: the exact path words it
    return _check_validity(payload, now=now, what=what)


def _check_validity(
    payload: Mapping[str, Any], *, now: datetime, what: str
) -> tuple[datetime | None, datetime | None]:
    exp = _numeric_date(payload, "exp")
    nbf = _numeric_date(payload, "nbf")
    iat = _numeric_date(payload, "iat")
    if exp is not None and now >= exp + LEEWAY:
        raise CredentialError(f"{what} expired at {exp.isoformat()}", code="expired")
    if nbf is not None and now + LEEWAY < nbf:
        raise CredentialError(f"{what} is not valid before {nbf.isoformat()}", code="not_yet_valid")
    if iat is not None and now + LEEWAY < iat:
        raise CredentialError(
            f"{what} was issued in the future ({iat.isoformat()})", code="not_yet_valid"
        )
    return (nbf or iat), exp


def _verify_issuer_signature(
    jws: CompactJws, keys: list[PublicKey], allowed_algs: Collection[str]
) -> None:
    if len(keys) == 1 and jws.header.get("alg") == "ES256" and "ES256" in allowed_algs:
        # one configured P-256 key: what verify_signature would do, without its dispatch
        key = keys[0]
        if key_profile(key) == _P256_PROFILE:
            signature = jws.signature
            try:
                if len(signature) != 64:
                    raise InvalidSignature
                cast(ec.EllipticCurvePublicKey, key).verify(
                    encode_dss_signature(
                        int.from_bytes(signature[:32], "big"),
                        int.from_bytes(signature[32:], "big"),
                    ),
                    jws.signing_input,
                    _ES256,
                )
            except InvalidSignature as exc:
                raise CredentialError(
                    "issuer-signed JWT signature does not verify", code="bad_signature"
                ) from exc
            return
    last: CredentialError | None = None
    for key in keys:
        try:
            verify_signature(jws, key, allowed_algs=allowed_algs, what="issuer-signed JWT")
            return
        except CredentialError as exc:
            last = exc
    raise last or CredentialError("no issuer key", code="untrusted_issuer")


def _verify_key_binding(
    kb_jwt: str,
    *,
    holder_jwk: Any,
    sd_part: str,
    hash_fn: Callable[[bytes], Any],
    now: datetime,
    expected_nonce: str | None,
    expected_audience: str | None,
    allowed_algs: Collection[str],
) -> None:
    # RFC 9901 §7.3 step 5, in order
    if type(holder_jwk) is not dict and not isinstance(holder_jwk, dict):
        raise CredentialError(
            "KB-JWT present but the SD-JWT has no cnf.jwk", code="key_binding_invalid"
        )
    try:
        kb = parse_compact_jws_text(kb_jwt, what="KB-JWT")[0]
    except CredentialError as exc:
        raise CredentialError(exc.detail, code="key_binding_invalid") from exc
    header = kb.header
    if header.get("typ") != KB_TYP:
        raise CredentialError(f"KB-JWT typ is {kb.typ!r}, not kb+jwt", code="key_binding_invalid")
    alg = header["alg"]  # a string: parse_compact_jws checked it
    if alg not in allowed_algs or alg.lower() == "none":
        check_alg(alg, allowed_algs=allowed_algs, what="KB-JWT")
    # the common case, ES256 with a P-256 cnf key, without the general key handling: the key
    # is parsed and validated here for every presentation (never cached by the JWK)
    holder_key = (
        ec_p256_key(holder_jwk.get("x"), holder_jwk.get("y"))
        if alg == "ES256" and holder_jwk.get("kty") == "EC" and holder_jwk.get("crv") == "P-256"
        else None
    )
    if holder_key is not None:
        signature = kb.signature
        try:
            if len(signature) != 64:
                raise InvalidSignature
            holder_key.verify(
                encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                ),
                kb.signing_input,
                _ES256,
            )
        except InvalidSignature as exc:
            raise CredentialError(
                "KB-JWT signature does not verify", code="key_binding_invalid"
            ) from exc
    else:
        try:
            general_key = public_key_from_jwk(holder_jwk)
        except CredentialError as exc:
            raise CredentialError(f"cnf.jwk: {exc.detail}", code="key_binding_invalid") from exc
        verify_signature(
            kb,
            general_key,
            allowed_algs=allowed_algs,
            error_code="key_binding_invalid",
            what="KB-JWT",
        )
    claims = kb.payload
    iat = claims.get("iat")
    kind = type(iat)
    if (
        kind is not int
        and kind is not float
        and (isinstance(iat, bool) or not isinstance(iat, int | float))
    ):
        raise CredentialError("KB-JWT has no numeric iat", code="key_binding_invalid")
    age = now.timestamp() - cast(float, iat)
    if age > _KB_MAX_AGE_S or age < -_LEEWAY_S:
        raise CredentialError(
            "KB-JWT iat is not within 5 minutes of now", code="key_binding_invalid"
        )
    if expected_nonce is not None and claims.get("nonce") != expected_nonce:
        raise CredentialError("KB-JWT nonce is not the expected nonce", code="nonce_mismatch")
    if expected_audience is not None and claims.get("aud") != expected_audience:
        raise CredentialError("KB-JWT aud is not the expected audience", code="audience_mismatch")
    expected_hash = b2a_base64(hash_fn(sd_part.encode("ascii")).digest(), newline=False)
    if claims.get("sd_hash") != expected_hash.translate(TO_URL).rstrip(b"=").decode("ascii"):
        raise CredentialError(
            "KB-JWT sd_hash does not match the presentation", code="sd_hash_mismatch"
        )


def process_sd_jwt(
    presentation: str,
    *,
    key_resolver: KeyResolver,
    now: datetime,
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    expected_typ: Collection[str] | None = None,
    allowed_algs: Collection[str] = ALLOWED_ALGS,
) -> ProcessedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB in RFC 9901 §7 order and return what was verified.

    Key Binding is demanded by ``require_key_binding`` (R14), not by its presence; a KB-JWT
    that is present is always verified. With ``require_key_binding`` the caller must say which
    nonce and audience it expects.
    """
    jws, payload, disclosed, top_level, key_binding, holder_jwk, valid_from, valid_until = _process(
        presentation,
        key_resolver=key_resolver,
        now=now,
        expected_nonce=expected_nonce,
        expected_audience=expected_audience,
        require_key_binding=require_key_binding,
        expected_typ=expected_typ,
        allowed_algs=allowed_algs,
    )
    return ProcessedSdJwt(
        issuer_jwt=jws,
        payload=payload,
        disclosures=tuple(
            Disclosure(encoded=encoded, digest=digest, salt=salt, name=name, value=value)
            for encoded, (digest, name, value, salt) in disclosed
        ),
        top_level_disclosed=frozenset(top_level),
        key_binding=key_binding,
        holder_jwk=holder_jwk,
        valid_from=valid_from,
        valid_until=valid_until,
    )


_Processed = tuple[
    CompactJws,
    dict[str, Any],
    list[tuple[str, _Disclosed]],
    set[str],
    bool,
    dict[str, Any] | None,
    datetime | None,
    datetime | None,
]


def _process(
    presentation: str,
    *,
    key_resolver: KeyResolver,
    now: datetime,
    expected_nonce: str | None,
    expected_audience: str | None,
    require_key_binding: bool,
    expected_typ: Collection[str] | None,
    allowed_algs: Collection[str],
) -> _Processed:
    """:func:`process_sd_jwt` without building the result objects: ``(issuer JWT, processed
    payload, [(encoded, disclosure)], top-level disclosed names, key binding, holder JWK,
    valid from, valid until)``."""
    if require_key_binding and (expected_nonce is None or expected_audience is None):
        raise ValueError("require_key_binding needs expected_nonce and expected_audience")
    require_aware(now)
    issuer_token, encoded_disclosures, kb_jwt, sd_part = split_presentation(presentation)
    # §7.1 step 2: the issuer-signed JWT
    jws, payload_text = parse_compact_jws_text(issuer_token, what="issuer-signed JWT")
    alg = jws.header["alg"]  # a string: parse_compact_jws checked it
    if alg not in allowed_algs or alg.lower() == "none":
        check_alg(alg, allowed_algs=allowed_algs, what="issuer-signed JWT")
    if expected_typ is not None and jws.typ not in expected_typ:
        raise CredentialError(
            f"typ {jws.typ!r} is not one of {sorted(expected_typ)}", code="malformed"
        )
    _verify_issuer_signature(jws, key_resolver(jws), allowed_algs)
    sd_alg = jws.payload.get("_sd_alg", "sha-256")
    hash_fn = SD_ALGS.get(sd_alg) if isinstance(sd_alg, str) else None
    if hash_fn is None:
        raise CredentialError(f"_sd_alg {sd_alg!r} is not supported", code="unsupported_alg")
    # §7.1 step 3: disclosures
    by_digest: dict[str, _Disclosed] = {}
    disclosed: list[tuple[str, _Disclosed]] = []
    scalars = payload_text is not None
    for encoded in encoded_disclosures:
        disclosure = _disclosure(encoded, hash_fn)
        if disclosure[0] in by_digest:
            raise CredentialError("the same disclosure is presented twice", code="malformed")
        by_digest[disclosure[0]] = disclosure
        disclosed.append((encoded, disclosure))
        if scalars and type(disclosure[2]) in _CONTAINERS:
            scalars = False
    unpacker = _Unpacker(by_digest)
    if scalars and _flat(jws.payload, cast(str, payload_text)):
        payload = unpacker.top_only(jws.payload)
    else:
        payload = unpacker.unpack(jws.payload, 0, top=True)
    unused = len(by_digest) - unpacker.used
    if unused:
        raise CredentialError(
            f"{unused} disclosure(s) are not referenced by the issuer-signed JWT",
            code="digest_mismatch",
        )
    # §7.1 step 5: validity of the processed payload
    valid_from, valid_until = check_validity(payload, now=now)
    # §7.3: key binding
    cnf = payload.get("cnf")
    holder_jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if kb_jwt is None:
        if require_key_binding:
            raise CredentialError("a KB-JWT is required but absent", code="key_binding_missing")
    else:
        _verify_key_binding(
            kb_jwt,
            holder_jwk=holder_jwk,
            sd_part=sd_part,
            hash_fn=hash_fn,
            now=now,
            expected_nonce=expected_nonce,
            expected_audience=expected_audience,
            allowed_algs=allowed_algs,
        )
    return (
        jws,
        payload,
        disclosed,
        unpacker.top_level,
        kb_jwt is not None,
        holder_jwk if isinstance(holder_jwk, dict) else None,
        valid_from,
        valid_until,
    )


def issuer_of(payload: Mapping[str, Any]) -> str:
    """The issuer an issuer-signed payload names: ``iss``, or for a W3C VC data model payload
    secured as SD-JWT (RFC 9901 Appendix A.4) its ``issuer`` (a string or an object's ``id``)."""
    iss = payload.get("iss")
    if iss is None:
        issuer = payload.get("issuer")
        iss = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(iss, str) or not iss:
        raise CredentialError("issuer-signed JWT names no issuer (iss)", code="malformed")
    return iss


#: ``(id(trust), iss, alg, kid)`` → the trust configuration (kept alive, so the id stays its
#: own) and the keys its JWKS gives; the configuration is frozen, so a new one gets new entries
_RESOLVED: dict[tuple[int, str, Any, Any], tuple[TrustConfig, tuple[PublicKey, ...]]] = {}


def trust_key_resolver(
    trust: TrustConfig, *, now: datetime, did_resolver: DidResolver | None = None
) -> KeyResolver:
    """Issuer keys from the trust configuration only, for the issuer the JWT names in ``iss``."""

    def resolve(jws: CompactJws) -> list[PublicKey]:
        iss = issuer_of(jws.payload)
        header = jws.header
        kid = header.get("kid")
        cache_key = (id(trust), iss, header.get("alg"), kid)
        if kid is None or type(kid) is str:
            cached = _RESOLVED.get(cache_key)
            if cached is not None and cached[0] is trust:
                return list(cached[1])
        keys = resolve_issuer_key(trust, iss=iss, header=header, now=now, did_resolver=did_resolver)
        configured = trust.issuer(iss)
        if configured is not None and configured.jwks is not None:
            # keys from the configured JWKS depend only on the (frozen) configuration, iss,
            # alg and kid; DID and x5c keys are resolved every time (I/O, validity windows)
            if len(_RESOLVED) >= 1024:
                _RESOLVED.clear()
            _RESOLVED[cache_key] = (trust, tuple(keys))
        return keys

    return resolve


def verify_sd_jwt(
    presentation: str,
    *,
    trust: TrustConfig,
    now: datetime,
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    did_resolver: DidResolver | None = None,
) -> VerifiedCredential:
    """Verify a plain SD-JWT (any ``typ``) issued by a trusted issuer; format ``sd-jwt``."""
    processed = process_sd_jwt(
        presentation,
        key_resolver=trust_key_resolver(trust, now=now, did_resolver=did_resolver),
        now=now,
        expected_nonce=expected_nonce,
        expected_audience=expected_audience,
        require_key_binding=require_key_binding,
    )
    return VerifiedCredential(
        format="sd-jwt",
        issuer=issuer_of(processed.issuer_jwt.payload),
        claims=processed.payload,
        key_binding=processed.key_binding,
        holder_jwk=processed.holder_jwk,
        valid_from=processed.valid_from,
        valid_until=processed.valid_until,
    )
