"""ISO/IEC 18013-5 mdoc verification (R17): ``IssuerSigned`` or ``DeviceResponse`` in raw CBOR.

Checks follow 18013-5 §9.3.1 (issuer data authentication) then §9.1.3 (mdoc authentication):
document-signer chain to an IACA anchor, MSO signature, digest of every returned element,
docType, validity window, and the device signature over the session transcript (OpenID4VP 1.0
Appendix B.2.6.1). ``deviceMac`` is refused: SSAR does no reader ECDH.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, cast

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from ssar.credentials.cose import (
    MAP_TYPES,
    PrivateKey,
    PublicKey,
    cbor_head,
    cbor_loads,
    cose_key_profile,
    cose_key_to_public_key,
    malformed,
    parse_cose_sign1,
    public_key_to_cose_key,
    sign_cose_sign1,
    verify_cose_sign1,
    verify_cose_sign1_profiled,
    x5chain,
)
from ssar.credentials.jose import b64url_encode
from ssar.credentials.results import VerifiedCredential, verified_credential
from ssar.credentials.trust import TrustConfig
from ssar.credentials.x509chain import verify_chain_to_anchor
from ssar.errors import CredentialError

ENCODED_CBOR_TAG = 24
_MAX_CBOR_DEPTH = 64  # as ssar.credentials.cose.cbor_loads
_DIGESTS = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}
_STATUS_TEXT = {10: "general error", 11: "CBOR decoding error", 12: "CBOR validation error"}
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
    (b"\xff\x4f\xff\x51", "image/jp2"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _embedded(item: Any, *, what: str, exact: bool = True) -> tuple[bytes, Any]:
    """Unwrap ``#6.24(bstr .cbor X)``: return the embedded bytes and the decoded X."""
    if not isinstance(item, cbor2.CBORTag) or item.tag != ENCODED_CBOR_TAG:
        raise malformed(f"{what} is not tag-24 encoded CBOR")
    if not isinstance(item.value, bytes):
        raise malformed(f"{what} tag 24 does not wrap a byte string")
    return item.value, cbor_loads(item.value, what=what, exact=exact)


def _map(value: Any, *, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, MAP_TYPES):
        raise malformed(f"{what} is not a map")
    return value


def _text(value: Any, *, what: str) -> str:
    if not isinstance(value, str):
        raise malformed(f"{what} is not a text string")
    return value


def _uint(value: Any, *, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise malformed(f"{what} is not an unsigned integer")
    return value


def _tdate(value: Any, *, what: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    raise malformed(f"{what} is not a tdate")


def _maybe_hex(data: bytes) -> bytes:
    """CONTRACTS allows the mdoc as hex text; a CBOR map never starts with a hex digit."""
    stripped = data.strip()
    if stripped and stripped[0] in _HEX_DIGITS:
        try:
            return binascii.unhexlify(b"".join(stripped.split()))
        except (binascii.Error, ValueError) as exc:
            raise malformed("mdoc is neither CBOR nor hex text") from exc
    return data


# ---------------------------------------------------------------------------------------------
# JSON rendering of element values


def _render(value: Any) -> Any:
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, MAP_TYPES):
        return {str(k): _render(v) for k, v in value.items()}
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        encoded = base64.b64encode(value).decode("ascii")
        for magic, media_type in _IMAGE_MAGIC:
            if value.startswith(magic):
                return f"data:{media_type};base64,{encoded}"
        return encoded
    if isinstance(value, Mapping):
        return {str(k): _render(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v) for v in value]
    if isinstance(value, cbor2.CBORTag):
        return _render(value.value)
    if value is cbor2.undefined:
        return None
    return str(value)


# ---------------------------------------------------------------------------------------------
# Session transcript


def openid4vp_session_transcript(
    *, client_id: str, nonce: str, jwk_thumbprint: bytes | None, response_uri: str
) -> bytes:
    """The CBOR ``SessionTranscript`` of OpenID4VP 1.0 Appendix B.2.6.1 (redirect/direct_post):
    ``[null, null, ["OpenID4VPHandover", sha256(cbor([client_id, nonce, jwk_thumbprint,
    response_uri]))]]``. ``jwk_thumbprint`` is the RFC 7638 thumbprint of the verifier's
    encryption key when the response is encrypted, else ``None``."""
    info = cbor2.dumps([client_id, nonce, jwk_thumbprint, response_uri])
    handover = ["OpenID4VPHandover", hashlib.sha256(info).digest()]
    return cbor2.dumps([None, None, handover])


def _session_transcript_bytes(transcript: bytes) -> bytes:
    """The SessionTranscript bytes to splice into DeviceAuthentication (tag 24 unwrapped)."""
    if not isinstance(transcript, bytes) or not transcript:
        raise malformed("expected_session_transcript is not CBOR bytes")
    if transcript[0] == 0x83:  # array(3): the common case needs no decoding
        return transcript
    item = cbor_loads(transcript, what="expected_session_transcript")
    if isinstance(item, cbor2.CBORTag) and item.tag == ENCODED_CBOR_TAG:
        raw, item = _embedded(item, what="expected_session_transcript")
        transcript = raw
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise malformed("expected_session_transcript is not a 3-element SessionTranscript")
    return transcript


_DEVICE_AUTHENTICATION = cbor2.dumps("DeviceAuthentication")


def device_authentication_bytes(
    *, session_transcript: bytes, doc_type: str, device_namespaces_bytes: bytes
) -> bytes:
    """``DeviceAuthenticationBytes`` = #6.24(bstr .cbor ["DeviceAuthentication",
    SessionTranscript, DocType, DeviceNameSpacesBytes]) with the transcript spliced in as
    given, so a verifier signs over exactly the bytes it computed."""
    encoded_doc_type = doc_type.encode("utf-8")
    device_authentication = b"".join(
        (
            b"\x84",
            _DEVICE_AUTHENTICATION,
            session_transcript,
            cbor_head(0x60, len(encoded_doc_type)),
            encoded_doc_type,
            b"\xd8\x18",
            cbor_head(0x40, len(device_namespaces_bytes)),
            device_namespaces_bytes,
        )
    )
    return b"\xd8\x18" + cbor_head(0x40, len(device_authentication)) + device_authentication


# ---------------------------------------------------------------------------------------------
# Verification


class _Mso(NamedTuple):
    doc_type: str
    digest_algorithm: str
    value_digests: Mapping[Any, Any]
    device_key: Any
    signed: datetime
    valid_from: datetime
    valid_until: datetime
    status: Any


def _parse_mso(item: Any) -> _Mso:
    if type(item) is dict:
        # the common shape without the step-by-step checks, which decide and word any defect
        version = item.get("version")
        digest_algorithm = item.get("digestAlgorithm")
        value_digests = item.get("valueDigests")
        device_key_info = item.get("deviceKeyInfo")
        validity = item.get("validityInfo")
        doc_type = item.get("docType")
        if (
            type(version) is str
            and version.startswith("1.")
            and type(digest_algorithm) is str
            and digest_algorithm in _DIGESTS
            and type(value_digests) is dict
            and type(device_key_info) is dict
            and type(validity) is dict
            and type(doc_type) is str
        ):
            signed = validity.get("signed")
            valid_from = validity.get("validFrom")
            valid_until = validity.get("validUntil")
            if (
                type(signed) is datetime
                and type(valid_from) is datetime
                and type(valid_until) is datetime
                and signed.tzinfo is not None
                and valid_from.tzinfo is not None
                and valid_until.tzinfo is not None
            ):
                return _Mso(
                    doc_type,
                    digest_algorithm,
                    value_digests,
                    device_key_info.get("deviceKey"),
                    signed,
                    valid_from,
                    valid_until,
                    item.get("status"),
                )
    return _parse_mso_exact(item)


def _parse_mso_exact(item: Any) -> _Mso:
    mso = _map(item, what="MobileSecurityObject")
    version = _text(mso.get("version"), what="MSO version")
    if not version.startswith("1."):
        raise malformed(f"MSO version {version!r} is not supported")
    digest_algorithm = _text(mso.get("digestAlgorithm"), what="MSO digestAlgorithm")
    if digest_algorithm not in _DIGESTS:
        raise CredentialError(
            f"MSO digestAlgorithm {digest_algorithm!r} is not supported", code="unsupported_alg"
        )
    value_digests = _map(mso.get("valueDigests"), what="MSO valueDigests")
    device_key_info = _map(mso.get("deviceKeyInfo"), what="MSO deviceKeyInfo")
    validity = _map(mso.get("validityInfo"), what="MSO validityInfo")
    return _Mso(
        doc_type=_text(mso.get("docType"), what="MSO docType"),
        digest_algorithm=digest_algorithm,
        value_digests=value_digests,
        device_key=device_key_info.get("deviceKey"),
        signed=_tdate(validity.get("signed"), what="validityInfo.signed"),
        valid_from=_tdate(validity.get("validFrom"), what="validityInfo.validFrom"),
        valid_until=_tdate(validity.get("validUntil"), what="validityInfo.validUntil"),
        status=mso.get("status"),
    )


#: ``#6.24(bstr)`` heads for byte strings shorter than 256 bytes, by length
_TAG24_BSTR_HEADS = tuple(b"\xd8\x18" + cbor_head(0x40, size) for size in range(0x100))
#: element values that render as themselves
_PLAIN = frozenset({str, int, bool, type(None)})


def _verify_items(issuer_namespaces: Any, mso: _Mso) -> dict[str, dict[str, Any]]:
    """Digest every returned IssuerSignedItem against the MSO and collect the claims."""
    digest = _DIGESTS[mso.digest_algorithm]
    loads, tag_type = cbor2.loads, cbor2.CBORTag
    claims: dict[str, dict[str, Any]] = {}
    if issuer_namespaces is None:
        return claims
    for namespace, items in _map(issuer_namespaces, what="IssuerNameSpaces").items():
        ns = _text(namespace, what="namespace")
        if not isinstance(items, list | tuple) or not items:
            raise malformed(f"namespace {ns!r} does not hold a non-empty array of items")
        digests = mso.value_digests.get(ns)
        if not isinstance(digests, MAP_TYPES):
            raise CredentialError(
                f"namespace {ns!r} has no valueDigests in the MSO", code="digest_mismatch"
            )
        values: dict[str, Any] = {}
        for tagged in items:
            # hot loop: concrete type checks, messages formatted only on failure
            if (
                type(tagged) is not tag_type
                or tagged.tag != ENCODED_CBOR_TAG
                or type(tagged.value) is not bytes
            ):
                raise malformed(f"an IssuerSignedItem in {ns!r} is not tag-24 encoded CBOR")
            raw = tagged.value
            try:
                item = loads(raw, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH)
            except Exception:  # the wrapper words the error (and maps RecursionError)
                item = cbor_loads(raw, what=f"IssuerSignedItem in {ns!r}", exact=False)
            if type(item) is not dict and not isinstance(item, MAP_TYPES):
                raise malformed(f"an IssuerSignedItem in {ns!r} is not a map")
            digest_id = item.get("digestID")
            identifier = item.get("elementIdentifier")
            if type(identifier) is not str:
                raise malformed(f"an IssuerSignedItem in {ns!r} has no text elementIdentifier")
            if type(digest_id) is not int or digest_id < 0:
                raise malformed(f"element {ns}/{identifier} has no unsigned digestID")
            if type(item.get("random")) is not bytes:
                raise malformed(f"element {ns}/{identifier} has no random salt")
            if "elementValue" not in item:
                raise malformed(f"element {ns}/{identifier} has no elementValue")
            if identifier in values:
                raise malformed(f"element {ns}/{identifier} is returned twice")
            expected = digests.get(digest_id)
            if type(expected) is not bytes:
                raise CredentialError(
                    f"element {ns}/{identifier} digestID {digest_id} is not in the MSO",
                    code="digest_mismatch",
                )
            # the digest covers the tag-24 item as cbor2 would write it: tag, bstr head, bytes
            size = len(raw)
            head = _TAG24_BSTR_HEADS[size] if size < 0x100 else b"\xd8\x18" + cbor_head(0x40, size)
            if digest(head + raw).digest() != expected:
                raise CredentialError(
                    f"element {ns}/{identifier} does not match its MSO digest",
                    code="digest_mismatch",
                )
            value = item["elementValue"]
            values[identifier] = value if type(value) in _PLAIN else _render(value)
        claims[ns] = values
    return claims


def _verify_device_signature(
    device_signed: Any,
    *,
    device_key: PublicKey,
    device_profile: tuple[object, Any, int] | None,
    doc_type: str,
    session_transcript: bytes,
) -> None:
    if device_signed is None:
        raise CredentialError(
            "a device signature is required but the document has no deviceSigned",
            code="key_binding_missing",
        )
    device_signed = _map(device_signed, what="DeviceSigned")
    namespaces_bytes, namespaces = _embedded(
        device_signed.get("nameSpaces"), what="DeviceNameSpacesBytes"
    )
    _map(namespaces, what="DeviceNameSpaces")
    device_auth = _map(device_signed.get("deviceAuth"), what="DeviceAuth")
    if "deviceMac" in device_auth and "deviceSignature" not in device_auth:
        raise CredentialError(
            "deviceMac (reader-ECDH MAC) device authentication is not supported; "
            "a deviceSignature is required",
            code="unsupported_alg",
        )
    if "deviceSignature" not in device_auth:
        raise CredentialError("DeviceAuth has no deviceSignature", code="key_binding_missing")
    message = parse_cose_sign1(device_auth["deviceSignature"], what="deviceSignature")
    expected_payload = device_authentication_bytes(
        session_transcript=session_transcript,
        doc_type=doc_type,
        device_namespaces_bytes=namespaces_bytes,
    )
    try:
        verify_cose_sign1_profiled(
            message, key=device_key, profile=device_profile, detached_payload=expected_payload
        )
    except CredentialError as exc:
        if exc.code in ("bad_signature",):
            raise CredentialError(
                "device signature does not verify over the expected session transcript",
                code="key_binding_invalid",
            ) from exc
        raise


def _b64url(raw: bytes) -> str:
    return b64url_encode(raw)


def _holder_jwk(cose_key: Mapping[Any, Any]) -> dict[str, Any]:
    """The device key as a JWK (RFC 7517), from an already validated COSE_Key."""
    if cose_key[1] == 1:
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(cose_key[-2])}
    crv = {1: "P-256", 2: "P-384", 3: "P-521"}[cose_key[-1]]
    return {"kty": "EC", "crv": crv, "x": _b64url(cose_key[-2]), "y": _b64url(cose_key[-3])}


_CERT_FACTS: dict[tuple[int, str], tuple[x509.Certificate, Any]] = {}


def _cert_fact(
    cert: x509.Certificate, name: str, compute: Callable[[x509.Certificate], Any]
) -> Any:
    """``compute(cert)``, once per certificate object (the same DS certificate object comes
    back for every mdoc from the parse cache; hashing a certificate costs about a
    microsecond, so the cache is keyed by identity and holds the certificate)."""
    cached = _CERT_FACTS.get((id(cert), name))
    if cached is not None and cached[0] is cert:
        return cached[1]
    value = compute(cert)
    if len(_CERT_FACTS) >= 1024:
        _CERT_FACTS.clear()
    _CERT_FACTS[(id(cert), name)] = (cert, value)
    return value


def _is_ca(cert: x509.Certificate) -> bool:
    return bool(_cert_fact(cert, "is_ca", _compute_is_ca))


def _subject(cert: x509.Certificate) -> str:
    return str(_cert_fact(cert, "subject", _compute_subject))


def _compute_is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError as exc:
        raise CredentialError(
            "document signer certificate has unparseable extensions", code="untrusted_issuer"
        ) from exc


def _compute_subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "<unprintable subject>"


_KEY_TYPES: set[type] = set()


def _key_type_ok(key: object) -> bool:
    """Whether ``key`` is a supported public key; remembered per concrete type (isinstance
    against ``cryptography``'s ABCs is slow)."""
    if isinstance(key, PublicKey):
        _KEY_TYPES.add(type(key))
        return True
    return False


def _verify_document(
    *,
    doc_type: str | None,
    issuer_signed: Any,
    device_signed: Any,
    trust: TrustConfig,
    now: datetime,
    session_transcript: bytes | None,
    expected_doctypes: Collection[str] | None,
) -> VerifiedCredential:
    issuer_signed = _map(issuer_signed, what="IssuerSigned")
    issuer_auth = parse_cose_sign1(issuer_signed.get("issuerAuth"), what="issuerAuth")
    # 1. Document-signer certificate chain to a configured IACA.
    leaf, anchor = verify_chain_to_anchor(x5chain(issuer_auth), anchors=trust.x509_anchors, now=now)
    if _is_ca(leaf) and leaf != anchor:
        raise CredentialError(
            f"document signer {_subject(leaf)!r} is a CA certificate (18013-5 B.1.4)",
            code="untrusted_issuer",
        )
    try:
        public_key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CredentialError(
            f"document signer key cannot be used: {exc}", code="unsupported_alg"
        ) from exc
    if type(public_key) not in _KEY_TYPES and not _key_type_ok(public_key):
        raise CredentialError(
            f"document signer key type {type(public_key).__name__} is not supported",
            code="unsupported_alg",
        )
    # 2. MSO signature.
    if issuer_auth.payload is None:
        raise malformed("issuerAuth has a detached payload; the MSO must be attached")
    payload = verify_cose_sign1(issuer_auth, key=cast(PublicKey, public_key))
    # the signature fixes these bytes, so the cheaper decoder (no trailing-byte check) is enough
    try:
        outer = cbor2.loads(payload, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH)
        mso_item = (
            cbor2.loads(outer.value, allow_duplicate_keys=False, max_depth=_MAX_CBOR_DEPTH)
            if type(outer) is cbor2.CBORTag
            and outer.tag == ENCODED_CBOR_TAG
            and type(outer.value) is bytes
            else None
        )
    except Exception:  # the wrappers below word the error
        mso_item = None
    if mso_item is None:
        _, mso_item = _embedded(
            cbor_loads(payload, what="MSO", exact=False),
            what="MobileSecurityObjectBytes",
            exact=False,
        )
    mso = _parse_mso(mso_item)
    # 3. Digests of every returned element.
    claims = _verify_items(issuer_signed.get("nameSpaces"), mso)
    # 4. docType.
    if doc_type is not None and doc_type != mso.doc_type:
        raise malformed(f"document docType {doc_type!r} differs from the MSO's {mso.doc_type!r}")
    if expected_doctypes is not None and mso.doc_type not in expected_doctypes:
        raise malformed(f"docType {mso.doc_type!r} is not one of the expected doctypes")
    # 5. Validity window.
    if not mso.signed <= mso.valid_from < mso.valid_until:
        raise malformed("MSO validityInfo is inconsistent (need signed <= validFrom < validUntil)")
    if now < mso.valid_from:
        raise CredentialError(
            f"mdoc is not valid before {mso.valid_from.isoformat()}", code="not_yet_valid"
        )
    if now > mso.valid_until:
        raise CredentialError(f"mdoc expired at {mso.valid_until.isoformat()}", code="expired")
    # 6. Device signature over the session transcript.
    # made anew for every credential (never cached by the COSE_Key), so its EC profile is
    # worked out here rather than entered in the per-key-object cache
    device_key = cose_key_to_public_key(mso.device_key)
    key_binding = False
    if session_transcript is not None:
        _verify_device_signature(
            device_signed,
            device_key=device_key,
            device_profile=cose_key_profile(mso.device_key),
            doc_type=mso.doc_type,
            session_transcript=session_transcript,
        )
        key_binding = True
    subject = _subject(leaf)
    return verified_credential(
        "mso_mdoc",
        subject,
        claims,
        key_binding,
        mso.doc_type,
        _holder_jwk(mso.device_key),
        mso.valid_from,
        mso.valid_until,
        _render(mso.status) if isinstance(mso.status, MAP_TYPES) else None,
        {
            "doc_type": mso.doc_type,
            "signed": _render(mso.signed),
            "digest_algorithm": mso.digest_algorithm,
            "iaca": _subject(anchor),
            "document_signer": subject,
        },
    )


def verify_mdoc(
    data: bytes,
    *,
    trust: TrustConfig,
    now: datetime,
    expected_session_transcript: bytes | None = None,
    expected_doctypes: Collection[str] | None = None,
) -> VerifiedCredential:
    """Verify an mdoc ``DeviceResponse`` (exactly one document) or ``IssuerSigned`` (R17).

    ``data`` is raw CBOR (hex text is accepted too). With ``expected_session_transcript`` (the
    CBOR SessionTranscript, e.g. from :func:`openid4vp_session_transcript`; a tag-24 wrapped one
    is unwrapped) a device signature over it is required; without it no key binding is checked
    and ``key_binding`` is false. Claims come back as ``{namespace: {identifier: value}}``
    rendered for JSON: dates as ISO strings, images as data URIs, other bytes as base64.
    Raises ``CredentialError`` on any failure.
    """
    if not isinstance(data, bytes | bytearray):
        raise malformed("mdoc data is not bytes")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    transcript = (
        _session_transcript_bytes(expected_session_transcript)
        if expected_session_transcript is not None
        else None
    )
    raw = bytes(data)
    # a CBOR map's first byte is never ASCII whitespace or a hex digit: only text needs _maybe_hex
    top = _map(
        cbor_loads(raw if raw and raw[0] >= 0x80 else _maybe_hex(raw), what="mdoc"), what="mdoc"
    )
    if "issuerAuth" in top:
        if transcript is not None:
            raise CredentialError(
                "a device signature is required but an IssuerSigned carries none",
                code="key_binding_missing",
            )
        return _verify_document(
            doc_type=None,
            issuer_signed=top,
            device_signed=None,
            trust=trust,
            now=now,
            session_transcript=None,
            expected_doctypes=expected_doctypes,
        )
    if "documents" in top or "status" in top or "version" in top:
        version = _text(top.get("version"), what="DeviceResponse version")
        if not version.startswith("1."):
            raise malformed(f"DeviceResponse version {version!r} is not supported")
        status = _uint(top.get("status"), what="DeviceResponse status")
        if status != 0:
            text = _STATUS_TEXT.get(status, "unknown status")
            raise malformed(f"DeviceResponse status is {status} ({text})")
        documents = top.get("documents")
        if not isinstance(documents, list | tuple) or not documents:
            raise malformed("DeviceResponse holds no documents")
        if len(documents) != 1:
            raise malformed(f"DeviceResponse holds {len(documents)} documents, expected one")
        document = _map(documents[0], what="Document")
    elif "issuerSigned" in top:
        document = top
    else:
        raise malformed("mdoc is neither a DeviceResponse nor an IssuerSigned")
    return _verify_document(
        doc_type=_text(document.get("docType"), what="Document docType"),
        issuer_signed=document.get("issuerSigned"),
        device_signed=document.get("deviceSigned"),
        trust=trust,
        now=now,
        session_transcript=transcript,
        expected_doctypes=expected_doctypes,
    )


# ---------------------------------------------------------------------------------------------
# Holder side (reference wallet, tests)


def sign_device_response(
    *,
    issuer_signed: Mapping[str, Any],
    doc_type: str,
    device_key: PrivateKey,
    alg: int,
    session_transcript: bytes,
    device_namespaces: Mapping[str, Any] | None = None,
) -> bytes:
    """Build a one-document ``DeviceResponse`` whose ``deviceSignature`` (``alg``, e.g. ES256)
    covers ``session_transcript`` (CBOR bytes, as for :func:`verify_mdoc`)."""
    transcript = _session_transcript_bytes(session_transcript)
    namespaces_bytes = cbor2.dumps(dict(device_namespaces or {}))
    payload = device_authentication_bytes(
        session_transcript=transcript, doc_type=doc_type, device_namespaces_bytes=namespaces_bytes
    )
    signature = cbor2.loads(
        sign_cose_sign1(key=device_key, alg=alg, payload=payload, detached=True)
    )
    document = {
        "docType": doc_type,
        "issuerSigned": issuer_signed,
        "deviceSigned": {
            "nameSpaces": cbor2.CBORTag(ENCODED_CBOR_TAG, namespaces_bytes),
            "deviceAuth": {"deviceSignature": signature},
        },
    }
    return cbor2.dumps({"version": "1.0", "documents": [document], "status": 0})


def issue_issuer_signed(
    *,
    ds_key: PrivateKey,
    alg: int,
    x5chain: list[bytes],
    doc_type: str,
    claims: Mapping[str, Mapping[str, Any]],
    device_key: PublicKey,
    signed: datetime,
    valid_from: datetime,
    valid_until: datetime,
) -> dict[str, Any]:
    """Build an ``IssuerSigned`` (SHA-256 digests, 16-byte salts) signed by a document signer
    whose DER chain (leaf first) goes into ``x5chain`` (reference issuer, benchmarks)."""
    namespaces: dict[str, list[cbor2.CBORTag]] = {}
    digests: dict[str, dict[int, bytes]] = {}
    digest_id = 0
    for ns, elements in claims.items():
        namespaces[ns], digests[ns] = [], {}
        for identifier, value in elements.items():
            item = cbor2.CBORTag(
                ENCODED_CBOR_TAG,
                cbor2.dumps(
                    {
                        "digestID": digest_id,
                        "random": secrets.token_bytes(16),
                        "elementIdentifier": identifier,
                        "elementValue": value,
                    }
                ),
            )
            namespaces[ns].append(item)
            digests[ns][digest_id] = hashlib.sha256(cbor2.dumps(item)).digest()
            digest_id += 1
    mso = {
        "version": "1.0",
        "digestAlgorithm": "SHA-256",
        "valueDigests": digests,
        "deviceKeyInfo": {"deviceKey": public_key_to_cose_key(device_key)},
        "docType": doc_type,
        "validityInfo": {"signed": signed, "validFrom": valid_from, "validUntil": valid_until},
    }
    payload = cbor2.dumps(cbor2.CBORTag(ENCODED_CBOR_TAG, cbor2.dumps(mso)))
    header: bytes | list[bytes] = x5chain[0] if len(x5chain) == 1 else list(x5chain)
    issuer_auth = cbor2.loads(
        sign_cose_sign1(key=ds_key, alg=alg, payload=payload, unprotected={33: header})
    )
    return {"nameSpaces": namespaces, "issuerAuth": issuer_auth}


def _bench_pki(now: datetime) -> tuple[PrivateKey, bytes, x509.Certificate]:
    """A bench IACA and document signer: ``(ds_key, ds_der, iaca)``."""
    from datetime import timedelta

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    iaca_key, ds_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    iaca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SSAR bench IACA")])
    iaca = (
        x509.CertificateBuilder()
        .subject_name(iaca_name)
        .issuer_name(iaca_name)
        .public_key(iaca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(iaca_key, hashes.SHA256())
    )
    ds = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SSAR bench DS")]))
        .issuer_name(iaca_name)
        .public_key(ds_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(iaca_key, hashes.SHA256())
    )
    return ds_key, ds.public_bytes(serialization.Encoding.DER), iaca


def bench_source(*, holders: int = 200) -> Callable[[], tuple[bytes, dict[str, Any]]]:
    """A source of one-document DeviceResponses for ``ssar bench credentials``: every call
    issues a fresh mdoc (IACA → DS, ES256, six elements, new salts and MSO signature) to the
    next of ``holders`` device keys (cycled) and presents it with a device signature over a
    fresh OpenID4VP transcript (new nonce); it returns the bytes and the ``verify_mdoc``
    keyword arguments that accept them."""
    from datetime import timedelta
    from itertools import cycle

    from cryptography.hazmat.primitives.asymmetric import ec

    ds_key, ds_der, iaca = _bench_pki(datetime.now(UTC))
    trust = TrustConfig(x509_anchors=(iaca,))
    device_keys = cycle([ec.generate_private_key(ec.SECP256R1()) for _ in range(holders)])

    def sample() -> tuple[bytes, dict[str, Any]]:
        now = datetime.now(UTC)
        device_key = next(device_keys)
        issuer_signed = issue_issuer_signed(
            ds_key=ds_key,
            alg=-7,
            x5chain=[ds_der],
            doc_type="org.iso.18013.5.1.mDL",
            claims={
                "org.iso.18013.5.1": {
                    "family_name": "Mustermann",
                    "given_name": "Erika",
                    "birth_date": cbor2.CBORTag(1004, "1964-08-12"),
                    "document_number": "T22000129",
                    "issuing_country": "DE",
                    "age_over_18": True,
                }
            },
            device_key=device_key.public_key(),
            signed=now - timedelta(hours=1),
            valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(days=30),
        )
        transcript = openid4vp_session_transcript(
            client_id="x509_san_dns:ssar.example.org",
            nonce=secrets.token_urlsafe(16),
            jwk_thumbprint=None,
            response_uri="https://ssar.example.org/oid4vp/response",
        )
        data = sign_device_response(
            issuer_signed=issuer_signed,
            doc_type="org.iso.18013.5.1.mDL",
            device_key=device_key,
            alg=-7,
            session_transcript=transcript,
        )
        return data, {"trust": trust, "now": now, "expected_session_transcript": transcript}

    return sample


def bench_sample() -> tuple[bytes, dict[str, Any]]:
    """One freshly issued DeviceResponse and the ``verify_mdoc`` keyword arguments that accept
    it (see :func:`bench_source`)."""
    return bench_source(holders=1)()


__all__ = [
    "bench_sample",
    "bench_source",
    "device_authentication_bytes",
    "issue_issuer_signed",
    "openid4vp_session_transcript",
    "sign_device_response",
    "verify_mdoc",
]
