"""SD-JWT verification (RFC 9901 §7): issuer-signed JWT, disclosures, and Key Binding.

``verify_sd_jwt`` checks a plain SD-JWT; ``ssar.credentials.sdjwt_vc`` adds the SD-JWT VC rules
on top of :func:`process_sd_jwt`, which both share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import (
    ALLOWED_ALGS,
    CompactJws,
    PublicKey,
    b64url_decode,
    b64url_encode,
    check_alg,
    loads_json,
    parse_compact_jws,
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
_MAX_DEPTH = 64
_MAX_DISCLOSURES = 4096

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
    if any(not d for d in disclosures):
        raise CredentialError("SD-JWT has an empty disclosure", code="malformed")
    sd_part = presentation[: len(presentation) - len(last)]
    return issuer_jwt, disclosures, (last or None), sd_part


def _parse_disclosure(encoded: str, hash_fn: Callable[[bytes], Any]) -> Disclosure:
    raw = b64url_decode(encoded, what="disclosure")
    value = loads_json(raw, what="disclosure")
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise CredentialError("disclosure is not an array of 2 or 3 elements", code="malformed")
    salt = value[0]
    if not isinstance(salt, str):
        raise CredentialError("disclosure salt is not a string", code="malformed")
    name: str | None = None
    if len(value) == 3:
        name = value[1]
        if not isinstance(name, str):
            raise CredentialError("disclosure claim name is not a string", code="malformed")
        if name in ("_sd", "..."):
            raise CredentialError(
                f"disclosure uses the reserved claim name {name!r}", code="malformed"
            )
    digest = b64url_encode(hash_fn(encoded.encode("ascii")).digest())
    return Disclosure(encoded=encoded, digest=digest, salt=salt, name=name, value=value[-1])


class _Unpacker:
    """RFC 9901 §7.1 step 3: replace digests by disclosed values, drop decoys, refuse reuse."""

    def __init__(self, by_digest: dict[str, Disclosure]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used: set[str] = set()
        self.top_level: set[str] = set()

    def _take(self, digest: Any) -> Disclosure | None:
        if not isinstance(digest, str):
            raise CredentialError("digest is not a string", code="malformed")
        if digest in self.seen:
            raise CredentialError(f"digest {digest} appears more than once", code="malformed")
        self.seen.add(digest)
        disclosure = self.by_digest.get(digest)
        if disclosure is not None:
            self.used.add(digest)
        return disclosure

    def unpack(self, node: Any, depth: int, *, top: bool = False) -> Any:
        if depth > _MAX_DEPTH:
            raise CredentialError("SD-JWT payload is nested too deeply", code="malformed")
        if isinstance(node, dict):
            return self._object(node, depth, top=top)
        if isinstance(node, list):
            return self._array(node, depth)
        return node

    def _object(self, node: dict[str, Any], depth: int, *, top: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key == "_sd" or (top and key == "_sd_alg"):
                continue
            result[key] = self.unpack(value, depth + 1)
        digests = node.get("_sd", [])
        if not isinstance(digests, list):
            raise CredentialError("_sd is not an array", code="malformed")
        for digest in digests:
            disclosure = self._take(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            if disclosure.name is None:
                raise CredentialError(
                    "array-element disclosure referenced from _sd", code="malformed"
                )
            if disclosure.name in result:
                raise CredentialError(
                    f"disclosed claim {disclosure.name!r} collides with an existing claim",
                    code="malformed",
                )
            result[disclosure.name] = self.unpack(disclosure.value, depth + 1)
            if top:
                self.top_level.add(disclosure.name)
        return result

    def _array(self, node: list[Any], depth: int) -> list[Any]:
        result: list[Any] = []
        for element in node:
            if isinstance(element, dict) and len(element) == 1 and "..." in element:
                disclosure = self._take(element["..."])
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    raise CredentialError(
                        "object-property disclosure used in an array", code="malformed"
                    )
                result.append(self.unpack(disclosure.value, depth + 1))
            else:
                result.append(self.unpack(element, depth + 1))
        return result


def require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")


def _numeric_date(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CredentialError(f"{name} is not a NumericDate", code="malformed")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise CredentialError(f"{name} is out of range", code="malformed") from exc


def check_validity(
    payload: Mapping[str, Any], *, now: datetime, what: str = "credential"
) -> tuple[datetime | None, datetime | None]:
    """``nbf``/``iat``/``exp`` against ``now`` with :data:`LEEWAY`; returns ``(nbf or iat, exp)``."""
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
    if not isinstance(holder_jwk, dict):
        raise CredentialError(
            "KB-JWT present but the SD-JWT has no cnf.jwk", code="key_binding_invalid"
        )
    try:
        kb = parse_compact_jws(kb_jwt, what="KB-JWT")
    except CredentialError as exc:
        raise CredentialError(exc.detail, code="key_binding_invalid") from exc
    if kb.typ != KB_TYP:
        raise CredentialError(f"KB-JWT typ is {kb.typ!r}, not kb+jwt", code="key_binding_invalid")
    check_alg(kb.alg, allowed_algs=allowed_algs, what="KB-JWT")
    try:
        holder_key = public_key_from_jwk(holder_jwk)
    except CredentialError as exc:
        raise CredentialError(f"cnf.jwk: {exc.detail}", code="key_binding_invalid") from exc
    verify_signature(
        kb, holder_key, allowed_algs=allowed_algs, error_code="key_binding_invalid", what="KB-JWT"
    )
    claims = kb.payload
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise CredentialError("KB-JWT has no numeric iat", code="key_binding_invalid")
    age = now.timestamp() - iat
    if age > KB_MAX_AGE.total_seconds() or age < -LEEWAY.total_seconds():
        raise CredentialError(
            "KB-JWT iat is not within 5 minutes of now", code="key_binding_invalid"
        )
    if expected_nonce is not None and claims.get("nonce") != expected_nonce:
        raise CredentialError("KB-JWT nonce is not the expected nonce", code="nonce_mismatch")
    if expected_audience is not None and claims.get("aud") != expected_audience:
        raise CredentialError("KB-JWT aud is not the expected audience", code="audience_mismatch")
    expected_hash = b64url_encode(hash_fn(sd_part.encode("ascii")).digest())
    if claims.get("sd_hash") != expected_hash:
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
    if require_key_binding and (expected_nonce is None or expected_audience is None):
        raise ValueError("require_key_binding needs expected_nonce and expected_audience")
    require_aware(now)
    issuer_token, encoded_disclosures, kb_jwt, sd_part = split_presentation(presentation)
    # §7.1 step 2: the issuer-signed JWT
    jws = parse_compact_jws(issuer_token, what="issuer-signed JWT")
    check_alg(jws.alg, allowed_algs=allowed_algs, what="issuer-signed JWT")
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
    by_digest: dict[str, Disclosure] = {}
    disclosures = []
    for encoded in encoded_disclosures:
        disclosure = _parse_disclosure(encoded, hash_fn)
        if disclosure.digest in by_digest:
            raise CredentialError("the same disclosure is presented twice", code="malformed")
        by_digest[disclosure.digest] = disclosure
        disclosures.append(disclosure)
    unpacker = _Unpacker(by_digest)
    payload = unpacker.unpack(jws.payload, 0, top=True)
    unused = len(by_digest) - len(unpacker.used)
    if unused:
        raise CredentialError(
            f"{unused} disclosure(s) are not referenced by the issuer-signed JWT",
            code="digest_mismatch",
        )
    # §7.1 step 5: validity of the processed payload
    valid_from, valid_until = check_validity(payload, now=now)
    # §7.3: key binding
    holder_jwk = payload.get("cnf", {}).get("jwk") if isinstance(payload.get("cnf"), dict) else None
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
    return ProcessedSdJwt(
        issuer_jwt=jws,
        payload=payload,
        disclosures=tuple(disclosures),
        top_level_disclosed=frozenset(unpacker.top_level),
        key_binding=kb_jwt is not None,
        holder_jwk=holder_jwk if isinstance(holder_jwk, dict) else None,
        valid_from=valid_from,
        valid_until=valid_until,
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


def trust_key_resolver(
    trust: TrustConfig, *, now: datetime, did_resolver: DidResolver | None = None
) -> KeyResolver:
    """Issuer keys from the trust configuration only, for the issuer the JWT names in ``iss``."""

    def resolve(jws: CompactJws) -> list[PublicKey]:
        return resolve_issuer_key(
            trust, iss=issuer_of(jws.payload), header=jws.header, now=now, did_resolver=did_resolver
        )

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
