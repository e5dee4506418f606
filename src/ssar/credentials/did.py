"""Decentralised identifiers as issuer keys: ``did:jwk``, ``did:key`` (Ed25519, P-256) and
``did:web`` through an injected resolver (this tier does no I/O).

Whether a DID method is acceptable at all is the trust configuration's decision
(``TrustConfig.allow_did_methods``), made in ``ssar.credentials.trust``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from ssar.credentials.jose import b64url_decode, b64url_encode, loads_json_object
from ssar.errors import CredentialError

#: ``did:web`` resolution is I/O: the caller injects ``resolver(did) -> DID document``.
DidResolver = Callable[[str], Mapping[str, Any]]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_ED25519_PUB = b"\xed\x01"
_P256_PUB = b"\x80\x24"
_P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_MAX_DID = 8192


def did_method(did: str) -> str:
    parts = did.split(":", 2)
    if len(parts) != 3 or parts[0] != "did" or not parts[1] or not parts[2]:
        raise CredentialError(f"{did[:80]!r} is not a DID", code="malformed")
    return parts[1]


def _b58decode(value: str) -> bytes:
    if not value or len(value) > 512:
        raise CredentialError("multibase value has a bad length", code="malformed")
    number = 0
    for char in value:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise CredentialError("multibase value is not base58btc", code="malformed")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(value) - len(value.lstrip("1"))) + body


def jwk_from_multibase(value: str) -> dict[str, Any]:
    """A JWK from a multibase (``z…``) multicodec public key: Ed25519 or compressed P-256."""
    if not value.startswith("z"):
        raise CredentialError("only base58btc multibase keys are supported", code="malformed")
    raw = _b58decode(value[1:])
    if raw.startswith(_ED25519_PUB) and len(raw) == 34:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw[2:])}
    if raw.startswith(_P256_PUB) and len(raw) == 35 and raw[2] in (2, 3):
        x = int.from_bytes(raw[3:], "big")
        if x >= _P256_P:
            raise CredentialError("P-256 key is not on the curve", code="malformed")
        rhs = (pow(x, 3, _P256_P) - 3 * x + _P256_B) % _P256_P
        y = pow(rhs, (_P256_P + 1) // 4, _P256_P)
        if y * y % _P256_P != rhs:
            raise CredentialError("P-256 key is not on the curve", code="malformed")
        if y % 2 != raw[2] % 2:
            y = _P256_P - y
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(x.to_bytes(32, "big")),
            "y": b64url_encode(y.to_bytes(32, "big")),
        }
    raise CredentialError("multicodec key type is not supported", code="unsupported_alg")


def _single_key_document(did: str, jwk: Mapping[str, Any], fragment: str) -> dict[str, Any]:
    vm_id = f"{did}#{fragment}"
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [
            {"type": "JsonWebKey", "id": vm_id, "controller": did, "publicKeyJwk": dict(jwk)}
        ],
    }
    use = jwk.get("use")
    if use != "enc":
        for relation in (
            "authentication",
            "assertionMethod",
            "capabilityInvocation",
            "capabilityDelegation",
        ):
            document[relation] = [vm_id]
    if use != "sig":
        document["keyAgreement"] = [vm_id]
    return document


def resolve_did_jwk(did: str) -> dict[str, Any]:
    """The DID document of a ``did:jwk`` (did:jwk spec §2.3)."""
    if did_method(did) != "jwk":
        raise CredentialError("not a did:jwk", code="malformed")
    encoded = did.split(":", 2)[2]
    jwk = loads_json_object(b64url_decode(encoded, what="did:jwk"), what="did:jwk key")
    if "d" in jwk or not isinstance(jwk.get("kty"), str):
        raise CredentialError("did:jwk does not hold a public JWK", code="malformed")
    return _single_key_document(did, jwk, "0")


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a ``did:key`` for an Ed25519 or P-256 key."""
    if did_method(did) != "key":
        raise CredentialError("not a did:key", code="malformed")
    multibase = did.split(":", 2)[2]
    jwk = jwk_from_multibase(multibase)
    return _single_key_document(did, {**jwk, "use": "sig"}, multibase)


def did_web_url(did: str) -> str:
    """Where a ``did:web`` document lives (did:web spec §3.2), for resolvers to fetch."""
    if did_method(did) != "web":
        raise CredentialError("not a did:web", code="malformed")
    segments = [unquote(s) for s in did.split(":")[2:]]
    if any(not s or "/" in s for s in segments):
        raise CredentialError("did:web has an empty or invalid segment", code="malformed")
    host, path = segments[0], segments[1:]
    return f"https://{host}/" + ("/".join(path) if path else ".well-known") + "/did.json"


def resolve_did(did: str, *, did_resolver: DidResolver | None = None) -> dict[str, Any]:
    """The DID document for ``did``; ``did:web`` (and any other method) needs ``did_resolver``."""
    if not isinstance(did, str) or len(did) > _MAX_DID:
        raise CredentialError("DID is not a string of sensible length", code="malformed")
    method = did_method(did)
    if method == "jwk":
        return resolve_did_jwk(did)
    if method == "key":
        return resolve_did_key(did)
    if did_resolver is None:
        raise CredentialError(f"no resolver for did:{method}", code="untrusted_issuer")
    if method == "web":
        did_web_url(did)  # shape check before handing it out
    try:
        document = did_resolver(did)
    except CredentialError:
        raise
    except Exception as exc:  # the resolver does I/O: whatever it raises, fail closed
        raise CredentialError(
            f"{did} could not be resolved: {exc}", code="untrusted_issuer"
        ) from exc
    if not isinstance(document, Mapping) or document.get("id") != did:
        raise CredentialError(f"DID document for {did} has a different id", code="untrusted_issuer")
    return dict(document)


def resolution_result(did: str) -> dict[str, Any]:
    """A W3C DID Resolution result for the self-contained methods (never raises)."""
    try:
        document = resolve_did_key(did) if did.startswith("did:key:") else resolve_did_jwk(did)
    except CredentialError:
        return {
            "@context": "https://w3id.org/did-resolution/v1",
            "didDocument": None,
            "didResolutionMetadata": {"error": "invalidDid"},
            "didDocumentMetadata": {},
        }
    return {
        "@context": "https://w3id.org/did-resolution/v1",
        "didDocument": document,
        "didDocumentMetadata": {},
        "didResolutionMetadata": {},
    }


def assertion_key_jwk(document: Mapping[str, Any], *, did: str, kid: str | None) -> dict[str, Any]:
    """The JWK of the verification method ``kid`` (or the only one) that the DID document lists
    under ``assertionMethod``: keys for other purposes never sign credentials."""
    methods = document.get("verificationMethod")
    assertion = document.get("assertionMethod")
    if not isinstance(methods, list) or not isinstance(assertion, list):
        raise CredentialError(
            f"DID document of {did} has no assertion keys", code="untrusted_issuer"
        )

    def absolute(ref: str) -> str:
        return f"{did}{ref}" if ref.startswith("#") else ref

    allowed = {absolute(a) for a in assertion if isinstance(a, str)}
    allowed |= {
        absolute(a["id"]) for a in assertion if isinstance(a, dict) and isinstance(a.get("id"), str)
    }
    embedded = [a for a in assertion if isinstance(a, dict)]
    candidates = [
        m for m in [*methods, *embedded] if isinstance(m, dict) and isinstance(m.get("id"), str)
    ]
    if kid is not None:
        wanted = absolute(kid)
        if wanted.split("#", 1)[0] != did:
            raise CredentialError("kid names a key of another DID", code="untrusted_issuer")
        candidates = [m for m in candidates if absolute(m["id"]) == wanted]
    candidates = [m for m in candidates if absolute(m["id"]) in allowed]
    ids = {absolute(m["id"]) for m in candidates}
    if len(ids) != 1:
        raise CredentialError(
            f"DID document of {did} has no single assertion key for kid {kid!r}",
            code="untrusted_issuer",
        )
    method = candidates[0]
    if isinstance(method.get("publicKeyJwk"), dict):
        return dict(method["publicKeyJwk"])
    if isinstance(method.get("publicKeyMultibase"), str):
        return jwk_from_multibase(method["publicKeyMultibase"])
    raise CredentialError("DID verification method has no supported key", code="unsupported_alg")
