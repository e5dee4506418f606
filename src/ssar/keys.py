"""The service's secrets on disk: the symmetric secret key (HMACs, encryption at rest) and the
ES256 signing key published at ``/.well-known/jwks.json``. Both are generated on first start."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ssar.errors import ConfigurationError


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class SecretKey:
    """The deployment's root secret. Purpose-specific keys are derived from it so that a
    TAP hash can never be confused with a session id hash."""

    material: bytes

    @classmethod
    def load_or_create(cls, path: Path) -> SecretKey:
        if not path.exists():
            # another process may win the race to create it; then we read theirs
            with contextlib.suppress(FileExistsError):
                _write_private(path, secrets.token_bytes(32).hex().encode())
        raw = path.read_text().strip()
        try:
            material = bytes.fromhex(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{path} is not a hex-encoded secret key") from exc
        if len(material) < 32:
            raise ConfigurationError(f"{path} must hold at least 32 bytes of key material")
        return cls(material)

    def derive(self, purpose: str) -> bytes:
        return hmac.new(self.material, b"ssar/" + purpose.encode(), hashlib.sha256).digest()

    def keyed_hash(self, purpose: str, value: str | bytes) -> str:
        data = value.encode() if isinstance(value, str) else value
        return hmac.new(self.derive(purpose), data, hashlib.sha256).hexdigest()

    def encrypt(self, purpose: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self.derive(purpose)).encrypt(nonce, plaintext, purpose.encode())

    def decrypt(self, purpose: str, blob: bytes) -> bytes:
        return AESGCM(self.derive(purpose)).decrypt(blob[:12], blob[12:], purpose.encode())


@dataclass(frozen=True)
class SigningKey:
    """The service's ES256 key for request objects and extension calls."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            with contextlib.suppress(FileExistsError):
                _write_private(path, pem)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
            raise ConfigurationError(f"{path} must hold a P-256 private key")
        return cls(loaded)

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        thumbprint_input = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
        jwk["kid"] = b64url(hashlib.sha256(thumbprint_input).digest())
        jwk["use"] = "sig"
        jwk["alg"] = "ES256"
        return jwk

    @property
    def kid(self) -> str:
        return str(self.public_jwk()["kid"])

    def sign_jwt(self, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
        """A compact ES256 JWS over the JSON of ``payload``; ``alg`` and ``kid`` are set."""

        def encode(obj: Mapping[str, Any]) -> str:
            return b64url(json.dumps(dict(obj), separators=(",", ":")).encode("utf-8"))

        protected = {"alg": "ES256", "kid": self.kid, **header}
        signing_input = f"{encode(protected)}.{encode(payload)}"
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
