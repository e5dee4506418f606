"""Encrypted Authorization Responses (OpenID4VP §8.3, ``direct_post.jwt``): the verifier's
ephemeral P-256 key per request, ECDH-ES key agreement with A128GCM or A256GCM content
encryption (joserfc JWE), and the RFC 7638 thumbprint the mdoc handover binds to."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from ssar.credentials.jose import b64url_decode, loads_json_object
from ssar.errors import CredentialError

KEY_ALG = "ECDH-ES"
ENC_VALUES: tuple[str, ...] = ("A128GCM", "A256GCM")
_MAX_JWE = 2_000_000


class _Registry(jwe.JWERegistry):
    """joserfc's JWE registry with room for a response carrying a portrait: its default caps
    the ciphertext at 64 KB, below one ICAO portrait in base64 inside a disclosure."""

    max_ciphertext_length = _MAX_JWE


def _registry(enc: str | None = None) -> jwe.JWERegistry:
    return _Registry(algorithms=[KEY_ALG, *((enc,) if enc else ENC_VALUES)])


def generate_response_key() -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh ephemeral key: ``(private JWK, public JWK)``; the public JWK has a random
    ``kid`` (128 bits) that also names the transaction the response belongs to."""
    key = ECKey.generate_key("P-256", private=True)
    kid = secrets.token_urlsafe(16)
    private = {**key.as_dict(private=True), "kid": kid, "use": "enc", "alg": KEY_ALG}
    public = {**key.as_dict(private=False), "kid": kid, "use": "enc", "alg": KEY_ALG}
    return private, public


def jwk_thumbprint(jwk: Mapping[str, Any]) -> bytes:
    """RFC 7638 SHA-256 thumbprint (raw bytes) of an EC or OKP public key."""
    kty = jwk.get("kty")
    if kty == "EC":
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    elif kty == "OKP":
        members = {k: jwk[k] for k in ("crv", "kty", "x")}
    else:
        raise CredentialError(f"no thumbprint for kty {kty!r}", code="malformed")
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).digest()


def jwe_header(token: str) -> dict[str, Any]:
    """The (not yet authenticated) protected header of a compact JWE."""
    if not isinstance(token, str) or len(token) > _MAX_JWE or token.count(".") != 4:
        raise CredentialError("response is not a compact JWE", code="malformed")
    return loads_json_object(
        b64url_decode(token.split(".", 1)[0], what="JWE header"), what="JWE header"
    )


def decrypt_response(
    token: str, *, private_jwk: Mapping[str, Any], expected_kid: str
) -> dict[str, Any]:
    """Decrypt an encrypted Authorization Response and return its JSON payload. The header must
    name ``ECDH-ES``, an allowed ``enc`` and the request's ``kid``; any tampering fails the
    AEAD check (code ``decryption_failed``)."""
    header = jwe_header(token)
    if header.get("alg") != KEY_ALG:
        raise CredentialError(f"JWE alg {header.get('alg')!r} is not ECDH-ES", code="malformed")
    if header.get("enc") not in ENC_VALUES:
        raise CredentialError(f"JWE enc {header.get('enc')!r} is not allowed", code="malformed")
    if header.get("kid", expected_kid) != expected_kid:
        raise CredentialError("JWE kid is not this request's key", code="malformed")
    try:
        key = ECKey.import_key(dict(private_jwk))
        plaintext = jwe.decrypt_compact(token, key, registry=_registry()).plaintext
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise CredentialError(
            f"the encrypted response could not be decrypted: {type(exc).__name__}",
            code="decryption_failed",
        ) from exc
    if plaintext is None:
        raise CredentialError("the encrypted response is empty", code="decryption_failed")
    return loads_json_object(plaintext, what="decrypted response")


def encrypt_response(
    payload: Mapping[str, Any], *, public_jwk: Mapping[str, Any], enc: str = "A128GCM"
) -> str:
    """Encrypt a response payload to the verifier's key (the wallet side of ``direct_post.jwt``)."""
    if enc not in ENC_VALUES:
        raise CredentialError(f"enc {enc!r} is not supported", code="unsupported_alg")
    header: dict[str, Any] = {"alg": KEY_ALG, "enc": enc}
    if isinstance(public_jwk.get("kid"), str):
        header["kid"] = public_jwk["kid"]
    key_members = {k: v for k, v in public_jwk.items() if k in ("kty", "crv", "x", "y")}
    try:
        key = ECKey.import_key(key_members)
    except (JoseError, ValueError, TypeError) as exc:
        raise CredentialError("the verifier's encryption key is invalid", code="malformed") from exc
    body = json.dumps(dict(payload), separators=(",", ":")).encode()
    return jwe.encrypt_compact(header, body, key, registry=_registry(enc))
