"""Issuer trust configuration: which issuers and anchors a verifier accepts.

A key is trusted only because this configuration says so (R15, R18), never because a token
carries it (``jwk``/``jku``/``x5u`` headers are ignored as sources of trust).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ssar.errors import CredentialError

if TYPE_CHECKING:
    from ssar.credentials.did import DidResolver
    from ssar.credentials.jose import PublicKey


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    jwks: Mapping[str, Any] | None = None  # {"keys": [...]}
    jwks_uri: str | None = None


@dataclass(frozen=True)
class TrustConfig:
    issuers: tuple[TrustedIssuer, ...] = ()
    x509_anchors: tuple[x509.Certificate, ...] = ()
    allow_did_methods: frozenset[str] = field(default_factory=frozenset)

    def issuer(self, iss: str) -> TrustedIssuer | None:
        for issuer in self.issuers:
            if issuer.iss == iss:
                return issuer
        return None


def load_trust(document: Mapping[str, Any]) -> TrustConfig:
    """Build a TrustConfig from the TRUST.json shape of CONTRACTS.md:
    ``{"issuers": [{"iss": ..., "jwks": {...}}], "x509_anchors": ["-----BEGIN ..."],
    "allow_did_methods": ["jwk", "web"]}``."""
    try:
        issuers = tuple(
            TrustedIssuer(iss=str(i["iss"]), jwks=i.get("jwks"), jwks_uri=i.get("jwks_uri"))
            for i in document.get("issuers", [])
        )
        anchors = tuple(
            x509.load_pem_x509_certificate(pem.encode()) for pem in document.get("x509_anchors", [])
        )
        methods = frozenset(str(m) for m in document.get("allow_did_methods", []))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CredentialError(f"trust configuration is invalid: {exc}", code="malformed") from exc
    return TrustConfig(issuers=issuers, x509_anchors=anchors, allow_did_methods=methods)


def resolve_issuer_key(
    trust: TrustConfig,
    *,
    iss: str,
    header: Mapping[str, Any],
    now: datetime,
    did_resolver: DidResolver | None = None,
) -> list[PublicKey]:
    """The keys that may have signed a token whose payload says ``iss`` and whose protected
    header is ``header``; raises ``untrusted_issuer`` when the configuration trusts none.

    Sources, in order: the issuer's configured JWKS (matched by ``kid`` when the header names
    one); a DID issuer whose method ``allow_did_methods`` permits; an ``x5c`` chain that
    validates up to one of ``x509_anchors`` and whose leaf names ``iss``. A ``jwk``, ``jku`` or
    ``x5u`` header is never a source of trust (R15, R18).
    """
    from ssar.credentials.jose import ALLOWED_ALGS, key_fits_alg

    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGS:
        raise CredentialError(f"alg {alg!r} is not allowed", code="unsupported_alg")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise CredentialError("kid is not a string", code="malformed")

    configured = trust.issuer(iss)
    if configured is not None and configured.jwks is not None:
        return _jwks_keys(configured, kid=kid, alg=alg)
    if iss.startswith("did:"):
        return [_did_key(trust, iss=iss, kid=kid, did_resolver=did_resolver)]
    if header.get("x5c") is not None and trust.x509_anchors:
        key = _x5c_key(trust, iss=iss, x5c=header["x5c"], now=now)
        if not key_fits_alg(key, alg):
            raise CredentialError("x5c leaf key does not fit alg", code="unsupported_alg")
        return [key]
    if configured is not None and configured.jwks_uri is not None:
        raise CredentialError(
            f"issuer {iss} is configured by jwks_uri only; fetch the JWKS into the configuration",
            code="untrusted_issuer",
        )
    raise CredentialError(f"issuer {iss!r} is not trusted", code="untrusted_issuer")


#: ``(id(issuer), kid, alg)`` → the configured issuer (kept alive, so the id stays its own) and
#: the keys of its JWKS that fit; the configuration is frozen, so a new one gets new entries
_JWKS_KEYS: dict[tuple[int, str | None, str], tuple[TrustedIssuer, tuple[PublicKey, ...]]] = {}


def _jwks_keys(issuer: TrustedIssuer, *, kid: str | None, alg: str) -> list[PublicKey]:
    cache_key = (id(issuer), kid, alg)
    cached = _JWKS_KEYS.get(cache_key)
    if cached is not None and cached[0] is issuer:
        return list(cached[1])
    keys = _select_jwks_keys(issuer, kid=kid, alg=alg)
    if len(_JWKS_KEYS) >= 1024:
        _JWKS_KEYS.clear()
    _JWKS_KEYS[cache_key] = (issuer, tuple(keys))
    return keys


def _select_jwks_keys(issuer: TrustedIssuer, *, kid: str | None, alg: str) -> list[PublicKey]:
    from ssar.credentials.jose import key_fits_alg, public_key_from_jwk

    keys = issuer.jwks.get("keys") if isinstance(issuer.jwks, Mapping) else None
    if not isinstance(keys, list):
        raise CredentialError(f"JWKS of {issuer.iss} has no keys", code="untrusted_issuer")
    selected: list[PublicKey] = []
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        key = public_key_from_jwk(jwk)
        if key_fits_alg(key, alg):
            selected.append(key)
    if not selected:
        raise CredentialError(
            f"no configured key of {issuer.iss} fits kid {kid!r} and alg {alg}",
            code="untrusted_issuer",
        )
    return selected


def _did_key(
    trust: TrustConfig, *, iss: str, kid: str | None, did_resolver: DidResolver | None
) -> PublicKey:
    from ssar.credentials.did import assertion_key_jwk, did_method, resolve_did
    from ssar.credentials.jose import public_key_from_jwk

    method = did_method(iss)
    if method not in trust.allow_did_methods:
        raise CredentialError(f"did:{method} issuers are not allowed", code="untrusted_issuer")
    document = resolve_did(iss, did_resolver=did_resolver)
    return public_key_from_jwk(assertion_key_jwk(document, did=iss, kid=kid))


def _x5c_key(trust: TrustConfig, *, iss: str, x5c: Any, now: datetime) -> PublicKey:
    import base64
    import binascii
    from urllib.parse import urlsplit

    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if not isinstance(x5c, list) or not x5c or len(x5c) > 10:
        raise CredentialError("x5c is not a non-empty list of certificates", code="malformed")
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c]
    except (TypeError, ValueError, binascii.Error) as exc:
        raise CredentialError(f"x5c holds an invalid certificate: {exc}", code="malformed") from exc
    try:
        from ssar.credentials.x509chain import verify_chain
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        raise CredentialError("x5c chains are not supported", code="untrusted_issuer") from exc
    leaf = verify_chain(chain, anchors=trust.x509_anchors, now=now)
    # the chain proves who owns the key; the leaf must also name the issuer (SD-JWT VC §3.5)
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CredentialError("x5c leaf has no subjectAltName", code="untrusted_issuer") from exc
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    host = urlsplit(iss).hostname if iss.startswith("https://") else None
    dns = san.get_values_for_type(x509.DNSName)
    if iss not in uris and not (host and host in dns):
        raise CredentialError(f"x5c leaf does not name issuer {iss}", code="untrusted_issuer")
    key = leaf.public_key()
    if not isinstance(
        key,
        ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
        | rsa.RSAPublicKey,
    ):
        raise CredentialError("x5c leaf key type is not supported", code="unsupported_alg")
    return key
