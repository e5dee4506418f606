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


_new = object.__new__


def verified_credential(
    format: Format,
    issuer: str,
    claims: dict[str, Any],
    key_binding: bool,
    credential_type: str | None,
    holder_jwk: dict[str, Any] | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    status: dict[str, Any] | None,
    extra: dict[str, Any],
) -> VerifiedCredential:
    """``VerifiedCredential(...)`` with every field given, without the frozen dataclass's
    ``__init__`` (ten ``object.__setattr__`` calls cost more than the rest of the result):
    the instance dictionary is filled directly. Same object, same fields, same equality."""
    result: VerifiedCredential = _new(VerifiedCredential)
    result.__dict__.update(
        format=format,
        issuer=issuer,
        claims=claims,
        key_binding=key_binding,
        credential_type=credential_type,
        holder_jwk=holder_jwk,
        valid_from=valid_from,
        valid_until=valid_until,
        status=status,
        extra=extra,
    )
    return result
