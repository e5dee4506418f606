"""Encrypted responses: the OpenID4VP 1.0 §8.3 example decrypts with our code; the mdoc
handover uses the RFC 7638 thumbprint."""

from __future__ import annotations

import json
import re

import pytest

from ssar.errors import CredentialError
from ssar.openid4vp.encryption import (
    decrypt_response,
    encrypt_response,
    generate_response_key,
    jwk_thumbprint,
)
from tests.conftest import shared_path


def _spec_example() -> tuple[str, dict[str, str]]:
    text = shared_path(
        "vectors", "openid4vp", "1.0", "openid-4-verifiable-presentations-1_0.md"
    ).read_text()
    token_match = re.search(r'"response" : "(eyJhbGciOiJFQ0RILUVT[^"]+)"', text)
    key_match = re.search(r'(\{\s*"kty":"EC", "kid":"ac"[^}]*"d":"[^"]+"\s*\})', text)
    assert token_match is not None
    assert key_match is not None
    return re.sub(r"\s+", "", token_match.group(1)), json.loads(key_match.group(1))


def test_spec_example_response_decrypts() -> None:
    token, private_jwk = _spec_example()
    payload = decrypt_response(token, private_jwk=private_jwk, expected_kid="ac")
    assert payload == {"vp_token": {"example_credential_id": ["eyJhb...YMetA"]}}
    with pytest.raises(CredentialError) as wrong_kid:
        decrypt_response(token, private_jwk=private_jwk, expected_kid="other")
    assert wrong_kid.value.code == "malformed"


def test_spec_example_thumbprint_input() -> None:
    # OpenID4VP Appendix B.2.6.1: the example JWK and the thumbprint inside its handover info
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
        "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
        "use": "enc",
        "alg": "ECDH-ES",
        "kid": "1",
    }
    assert jwk_thumbprint(jwk).hex() == (
        "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
    )


def test_round_trip_and_wrong_key() -> None:
    private, public = generate_response_key()
    token = encrypt_response({"vp_token": {"a": ["x"]}}, public_jwk=public, enc="A256GCM")
    assert decrypt_response(token, private_jwk=private, expected_kid=public["kid"]) == {
        "vp_token": {"a": ["x"]}
    }
    other, _ = generate_response_key()
    with pytest.raises(CredentialError) as refused:
        decrypt_response(token, private_jwk=other, expected_kid=public["kid"])
    assert refused.value.code == "decryption_failed"
