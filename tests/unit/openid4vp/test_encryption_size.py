"""An encrypted response carrying a portrait is larger than joserfc's default 64 KB cap."""

from __future__ import annotations

import pytest

from ssar.errors import CredentialError
from ssar.openid4vp.encryption import decrypt_response, encrypt_response, generate_response_key


def test_a_response_with_a_portrait_sized_payload_decrypts() -> None:
    private, public = generate_response_key()
    payload = {"vp_token": {"identity": ["x" * 150_000]}, "state": "s"}
    token = encrypt_response(payload, public_jwk=public)
    assert decrypt_response(token, private_jwk=private, expected_kid=private["kid"]) == payload


def test_a_response_beyond_the_cap_is_refused() -> None:
    private, public = generate_response_key()
    token = encrypt_response({"x": "y" * 2_100_000}, public_jwk=public)
    with pytest.raises(CredentialError):
        decrypt_response(token, private_jwk=private, expected_kid=private["kid"])
