"""Test-side issuers and holders: build JWTs, SD-JWTs and KB-JWTs with chosen defects.

Signing lives here, in the tests, on purpose: the verifier tier has no signing code.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssar.credentials.jose import b64url_encode
from ssar.credentials.trust import TrustConfig, TrustedIssuer

ISS = "https://issuer.test"
NONCE = "n-0S6_WzA2Mj"
AUD = "https://verifier.test"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def enc(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


@dataclass
class Key:
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    kid: str | None = None

    @property
    def alg(self) -> str:
        return "EdDSA" if isinstance(self.private, ed25519.Ed25519PrivateKey) else "ES256"

    @property
    def jwk(self) -> dict[str, Any]:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            jwk: dict[str, Any] = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        else:
            nums = self.private.public_key().public_numbers()
            jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(nums.x.to_bytes(32, "big")),
                "y": b64url_encode(nums.y.to_bytes(32, "big")),
            }
        if self.kid:
            jwk["kid"] = self.kid
        return jwk

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return self.private.sign(data)
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign_jwt(header: dict[str, Any], payload: dict[str, Any], key: Key) -> str:
    header = {"alg": key.alg, **header}
    head = enc(header) + "." + enc(payload)
    return head + "." + b64url_encode(key.sign(head.encode()))


def disclosure(name: str | None, value: Any, salt: str | None = None) -> tuple[str, str]:
    """``(encoded disclosure, its sha-256 digest)``; ``name=None`` for an array element."""
    salt = salt or secrets.token_urlsafe(16)
    array = [salt, value] if name is None else [salt, name, value]
    encoded = b64url_encode(json.dumps(array).encode())
    return encoded, b64url_encode(hashlib.sha256(encoded.encode()).digest())


def sd_hash(sd_part: str) -> str:
    return b64url_encode(hashlib.sha256(sd_part.encode()).digest())


@dataclass
class Issuer:
    key: Key = field(default_factory=Key)
    iss: str = ISS
    typ: str = "dc+sd-jwt"

    def trust(self) -> TrustConfig:
        return TrustConfig(issuers=(TrustedIssuer(iss=self.iss, jwks={"keys": [self.key.jwk]}),))

    def sd_jwt(
        self,
        *,
        disclosed: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        holder: Key | None = None,
        header: dict[str, Any] | None = None,
        extra_digests: tuple[str, ...] = (),
    ) -> tuple[str, list[str]]:
        """An SD-JWT with each of ``disclosed`` selectively disclosable at the top level."""
        disclosures, digests = [], list(extra_digests)
        for name, value in (disclosed or {}).items():
            d, h = disclosure(name, value)
            disclosures.append(d)
            digests.append(h)
        body: dict[str, Any] = {
            "iss": self.iss,
            "iat": T - 60,
            "exp": T + 3600,
            "vct": "urn:ssar:identity:1",
            "_sd_alg": "sha-256",
            **(payload or {}),
        }
        body = {k: v for k, v in body.items() if v is not None}  # None drops a default claim
        if digests:
            body["_sd"] = sorted(digests)
        if holder is not None:
            body["cnf"] = {"jwk": holder.jwk}
        jwt = sign_jwt({"typ": self.typ, **(header or {})}, body, self.key)
        return jwt, disclosures


def present(
    jwt: str,
    disclosures: list[str],
    holder: Key | None = None,
    *,
    nonce: str = NONCE,
    aud: str = AUD,
    iat: int = T,
    typ: str = "kb+jwt",
    hash_override: str | None = None,
) -> str:
    sd_part = "~".join([jwt, *disclosures]) + "~"
    if holder is None:
        return sd_part
    kb = sign_jwt(
        {"typ": typ},
        {"nonce": nonce, "aud": aud, "iat": iat, "sd_hash": hash_override or sd_hash(sd_part)},
        holder,
    )
    return sd_part + kb
