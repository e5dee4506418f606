"""What a successful verification returns (frozen; failures raise ``CredentialError``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Format = Literal["dc+sd-jwt", "vc+sd-jwt", "sd-jwt", "jwt_vc", "mso_mdoc"]


@dataclass(frozen=True)
class VerifiedCredential:
    format: Format
    issuer: str
    claims: dict[str, Any]
    key_binding: bool
    credential_type: str | None = None  # vct, mdoc docType, or the most specific VC type
    holder_jwk: dict[str, Any] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: dict[str, Any] | None = None  # the credential's status reference, if any
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "format": self.format,
            "issuer": self.issuer,
            "claims": self.claims,
            "key_binding": self.key_binding,
        }
