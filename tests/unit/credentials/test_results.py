"""The fast result constructor builds exactly what the dataclass constructor builds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from ssar.credentials.results import VerifiedCredential, verified_credential


def test_verified_credential_equals_the_dataclass_constructor() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    fields = {
        "format": "dc+sd-jwt",
        "issuer": "https://issuer.example",
        "claims": {"a": 1},
        "key_binding": True,
        "credential_type": "urn:x",
        "holder_jwk": {"kty": "EC"},
        "valid_from": now,
        "valid_until": now,
        "status": None,
        "extra": {"status_checked": False},
    }
    fast = verified_credential(**fields)  # type: ignore[arg-type]
    slow = VerifiedCredential(**fields)  # type: ignore[arg-type]
    assert fast == slow
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert repr(fast) == repr(slow)
    assert fast.to_json() == slow.to_json()
    assert [f.name for f in dataclasses.fields(VerifiedCredential)] == list(fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.issuer = "other"  # type: ignore[misc]
