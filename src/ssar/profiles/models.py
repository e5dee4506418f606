"""What the profiles service hands out: frozen results, never table rows or input schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ssar.credentials.trust import TrustConfig


@dataclass(frozen=True)
class GroupRef:
    """A group a profile names: stored by id (renames keep working), shown by current name."""

    id: str
    name: str


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    x5c: tuple[str, ...] = ()  # PEM trust anchors


@dataclass(frozen=True)
class CredentialPolicy:
    types: tuple[str, ...]
    issuers: tuple[TrustedIssuer, ...]

    def trust(self) -> TrustConfig:
        """The verifier trust configuration for these issuers."""
        from ssar.credentials.trust import load_trust

        return load_trust(
            {
                "issuers": [
                    {"iss": i.iss, "jwks": i.jwks, "jwks_uri": i.jwks_uri}
                    for i in self.issuers
                    if i.jwks is not None or i.jwks_uri is not None
                ],
                "x509_anchors": [pem for i in self.issuers for pem in i.x5c],
            }
        )


@dataclass(frozen=True)
class ClaimRule:
    """A credential claim compared with a directory user attribute."""

    claim: str
    attribute: str


@dataclass(frozen=True)
class ExtensionEndpoint:
    url: str
    timeout_seconds: float


@dataclass(frozen=True)
class ValidationRules:
    match: str  # exact | relaxed
    claims: tuple[ClaimRule, ...]
    extension: ExtensionEndpoint | None = None


@dataclass(frozen=True)
class FaceCheckPolicy:
    required: bool
    threshold: int


@dataclass(frozen=True)
class TapSettings:
    lifetime_minutes: int
    one_time: bool


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    description: str
    mode: str  # evaluation | production
    priority: int
    include_groups: tuple[GroupRef, ...]
    exclude_groups: tuple[GroupRef, ...]
    allow_privileged: bool
    provider: str  # openid4vp | reference | oidc_ida:<name>
    credentials: CredentialPolicy | None
    validation: ValidationRules
    face_check: FaceCheckPolicy
    tap: TapSettings
    created_at: datetime
    updated_at: datetime

    @property
    def provider_type(self) -> str:
        """``openid4vp``, ``reference`` or ``oidc_ida``."""
        return self.provider.partition(":")[0]

    @property
    def oidc_ida_provider(self) -> str | None:
        kind, _, name = self.provider.partition(":")
        return name if kind == "oidc_ida" else None

    def to_document(self) -> dict[str, Any]:
        """The profile in the YAML shape of CONTRACTS.md (group names, all defaults filled)."""
        document: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "mode": self.mode,
            "priority": self.priority,
            "include_groups": [g.name for g in self.include_groups],
            "exclude_groups": [g.name for g in self.exclude_groups],
            "allow_privileged": self.allow_privileged,
            "provider": self.provider,
        }
        if self.credentials is not None:
            issuers = []
            for issuer in self.credentials.issuers:
                entry: dict[str, Any] = {"iss": issuer.iss}
                if issuer.jwks is not None:
                    entry["jwks"] = dict(issuer.jwks)
                if issuer.jwks_uri is not None:
                    entry["jwks_uri"] = issuer.jwks_uri
                if issuer.x5c:
                    entry["x5c"] = list(issuer.x5c)
                issuers.append(entry)
            document["credentials"] = {"types": list(self.credentials.types), "issuers": issuers}
        validation: dict[str, Any] = {
            "match": self.validation.match,
            "claims": {c.claim: c.attribute for c in self.validation.claims},
        }
        if self.validation.extension is not None:
            validation["extension"] = {
                "url": self.validation.extension.url,
                "timeout_seconds": self.validation.extension.timeout_seconds,
            }
        document["validation"] = validation
        document["face_check"] = {
            "required": self.face_check.required,
            "threshold": self.face_check.threshold,
        }
        document["tap"] = {
            "lifetime_minutes": self.tap.lifetime_minutes,
            "one_time": self.tap.one_time,
        }
        return document


@dataclass(frozen=True)
class ApplyReport:
    """What ``apply`` did, by profile name, in document order."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class TraceStep:
    """How one profile judged the user, in priority order."""

    profile: str
    priority: int
    outcome: str  # applies | excluded | not_included | privileged
    detail: str


@dataclass(frozen=True)
class ProfileDecision:
    """The profile that applies to a user (or None) and why.

    ``code`` is stable for programs: ``applies``, ``unknown_user``, ``disabled``,
    ``privileged``, ``excluded``, ``not_included``.
    """

    profile: Profile | None
    reason: str
    code: str
    trace: tuple[TraceStep, ...] = field(default=())
