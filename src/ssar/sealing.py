"""Sealing data to a key the server does not keep (R23: evidence out of reach of the database).

A recovery flow's private key is derived from the person's flow handle (a 256-bit secret only
their browser or app holds) and the service's secret key; the database keeps the public key.
Anything sealed to it (the verified claims with the portrait, the TAP until it is shown) can be
opened only while the person's own request is being served. ``seal`` is X25519 ECDH with a fresh
ephemeral key, HKDF-SHA256 and AES-256-GCM, with a context label as associated data.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ssar.errors import SsarError
from ssar.keys import SecretKey

_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_VERSION = b"\x01"


class SealError(SsarError):
    code = "seal_invalid"


def derive_private_key(secret_key: SecretKey, handle: str, *, purpose: str) -> X25519PrivateKey:
    """The X25519 key of ``handle``: needs both the handle and the service's secret key."""
    material = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=secret_key.derive(f"seal/{purpose}"),
        info=b"ssar/seal/v1",
    ).derive(handle.encode("utf-8"))
    return X25519PrivateKey.from_private_bytes(material)


def public_bytes(private_key: X25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(_RAW, _RAW_PUBLIC)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=context
    ).derive(shared)


def seal(recipient: bytes, plaintext: bytes, *, context: str) -> bytes:
    label = context.encode("utf-8")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = public_bytes(ephemeral)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    nonce = os.urandom(12)
    key = _key(shared, ephemeral_public, recipient, label)
    return _VERSION + ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, label)


def open_sealed(private_key: X25519PrivateKey, blob: bytes, *, context: str) -> bytes:
    label = context.encode("utf-8")
    if len(blob) < 1 + 32 + 12 + 16 or blob[:1] != _VERSION:
        raise SealError("sealed data is malformed")
    ephemeral_public, nonce, ciphertext = blob[1:33], blob[33:45], blob[45:]
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _key(shared, ephemeral_public, public_bytes(private_key), label)
        return AESGCM(key).decrypt(nonce, ciphertext, label)
    except (InvalidTag, ValueError) as exc:
        raise SealError("sealed data cannot be opened with this key") from exc
