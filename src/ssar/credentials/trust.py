"""Issuer trust configuration: which issuers and anchors a verifier accepts.

A key is trusted only because this configuration says so (R15, R18), never because a token
carries it (``jwk``/``jku``/``x5u`` headers are ignored as sources of trust).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from ssar.errors import CredentialError


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
