"""The reference IDV's SD-JWT VC issuer: identity credentials (``vct`` ``urn:ssar:identity:1``)
signed with the issuer's own ES256 key, every personal claim selectively disclosable.

What the issuer signs directly (SD-JWT VC §3.2.2.2, R15): ``iss``, ``iat``, ``nbf``, ``exp``,
``vct``, ``cnf`` (the holder key from the proof of possession) and ``status`` (the entry in the
issuer's Token Status List). ``given_name``, ``family_name``, ``birthdate``, ``portrait`` (a JPEG
data URI) and ``verification`` (the evidence: document type, issuing country, strength, time)
are disclosures, mixed with decoy digests so the count of claims does not show.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ssar.credentials.jose import b64url_encode
from ssar.errors import ValidationFailed
from ssar.keys import SigningKey

VCT = "urn:ssar:identity:1"
CREDENTIAL_TYP = "dc+sd-jwt"
KEY_FILE = "idv-issuer-key.pem"
DEFAULT_LIFETIME = timedelta(days=365)
#: evidence strength, after ISO/IEC 29115 / eIDAS-style levels used by OIDC for IDA
STRENGTHS = ("SUPERIOR", "STRONG", "FAIR")
DOCUMENT_TYPES = ("passport", "idcard", "driving_permit", "residence_permit")
#: a portrait is a face photo, not a scan: refuse anything bigger than this
MAX_PORTRAIT_BYTES = 512 * 1024
DECOYS = (2, 5)  # inclusive range of decoy digests per credential
NEVER_DISCLOSED = frozenset({"iss", "vct", "cnf", "status", "iat", "exp", "nbf"})
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_COUNTRY = re.compile(r"^[A-Z]{2,3}$")


def load_issuer_key(var_dir: Path) -> SigningKey:
    """The issuer's ES256 key at ``var_dir/idv-issuer-key.pem`` (created on first use; its own
    file, never the service's signing key). ``kid`` is its JWK thumbprint."""
    return SigningKey.load_or_create(var_dir / KEY_FILE)


def sign_jwt(key: SigningKey, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """A compact ES256 JWS over the JSON of ``payload`` with ``alg`` and ``kid`` in the header."""
    return key.sign_jwt(header, payload)


# --- the claims ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """How the person was verified (the ``verification`` claim)."""

    document_type: str
    issuing_country: str
    strength: str
    time: datetime

    def to_claim(self) -> dict[str, str]:
        return {
            "document_type": self.document_type,
            "issuing_country": self.issuing_country,
            "strength": self.strength,
            "time": self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


@dataclass(frozen=True)
class IdentityClaims:
    """The verified identity a credential carries."""

    given_name: str
    family_name: str
    birthdate: str  # ISO 8601 full date
    evidence: Evidence

    def to_claims(self, portrait_jpeg: bytes) -> dict[str, Any]:
        return {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "birthdate": self.birthdate,
            "portrait": portrait_data_uri(portrait_jpeg),
            "verification": self.evidence.to_claim(),
        }


def _text(identity: Mapping[str, Any], name: str, pattern: re.Pattern[str] = _NAME) -> str:
    value = identity.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
        raise ValidationFailed(f"{name} is missing or invalid", field=name)
    return value.strip()


def parse_identity(identity: Mapping[str, Any], *, now: datetime) -> IdentityClaims:
    """Validate what the verification steps found: ``given_name``, ``family_name``,
    ``birthdate`` (``YYYY-MM-DD``) and ``verification`` (``document_type``, ``issuing_country``
    (ISO 3166 alpha-2/3), ``strength`` (SUPERIOR | STRONG | FAIR), optional ``time`` (ISO 8601,
    default ``now``)). Anything else is refused rather than silently issued."""
    unknown = set(identity) - {"given_name", "family_name", "birthdate", "verification"}
    if unknown:
        raise ValidationFailed(f"unknown identity claims: {', '.join(sorted(unknown))}")
    birthdate = _text(identity, "birthdate")
    try:
        born = date.fromisoformat(birthdate)
    except ValueError as exc:
        raise ValidationFailed("birthdate is not YYYY-MM-DD", field="birthdate") from exc
    if len(birthdate) != 10 or born > now.date():
        raise ValidationFailed("birthdate is not YYYY-MM-DD in the past", field="birthdate")
    verification = identity.get("verification")
    if not isinstance(verification, Mapping):
        raise ValidationFailed("verification evidence is missing", field="verification")
    strength = verification.get("strength")
    if strength not in STRENGTHS:
        raise ValidationFailed(
            f"verification strength must be one of {', '.join(STRENGTHS)}", field="strength"
        )
    document_type = verification.get("document_type")
    if document_type not in DOCUMENT_TYPES:
        raise ValidationFailed(
            f"document_type must be one of {', '.join(DOCUMENT_TYPES)}", field="document_type"
        )
    time = verification.get("time", now)
    if isinstance(time, str):
        try:
            time = datetime.fromisoformat(time.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationFailed("verification time is not ISO 8601", field="time") from exc
    if not isinstance(time, datetime) or time.tzinfo is None:
        raise ValidationFailed("verification time needs a time zone", field="time")
    return IdentityClaims(
        given_name=_text(identity, "given_name"),
        family_name=_text(identity, "family_name"),
        birthdate=birthdate,
        evidence=Evidence(
            document_type=str(document_type),
            issuing_country=_text(verification, "issuing_country", _COUNTRY),
            strength=str(strength),
            time=time,
        ),
    )


def check_portrait(portrait_jpeg: bytes) -> None:
    """A JPEG (SOI marker first, EOI last) of reasonable size."""
    if not isinstance(portrait_jpeg, bytes) or len(portrait_jpeg) < 4:
        raise ValidationFailed("the portrait is missing", field="portrait")
    if len(portrait_jpeg) > MAX_PORTRAIT_BYTES:
        raise ValidationFailed("the portrait is too large", field="portrait")
    if not portrait_jpeg.startswith(b"\xff\xd8\xff") or not portrait_jpeg.rstrip(b"\x00").endswith(
        b"\xff\xd9"
    ):
        raise ValidationFailed("the portrait is not a JPEG", field="portrait")


def portrait_data_uri(portrait_jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(portrait_jpeg).decode("ascii")


# --- the credential --------------------------------------------------------------------------


def _disclosure(name: str, value: Any) -> str:
    salt = b64url_encode(secrets.token_bytes(16))
    return b64url_encode(json.dumps([salt, name, value], ensure_ascii=False).encode("utf-8"))


def _digest(encoded: str) -> str:
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


@dataclass(frozen=True)
class IssuedSdJwtVc:
    credential: str  # issuer-signed JWT~d1~…~dn~
    issued_at: datetime
    expires_at: datetime


class SdJwtVcIssuer:
    """Signs SD-JWT VCs for one issuer identifier with one key."""

    def __init__(
        self,
        *,
        key: SigningKey,
        issuer: str,
        vct: str = VCT,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.vct = vct
        self.lifetime = lifetime

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk()]}

    def issue(
        self,
        *,
        claims: Mapping[str, Any],
        holder_jwk: Mapping[str, Any],
        status: Mapping[str, Any] | None,
        now: datetime,
    ) -> IssuedSdJwtVc:
        """The credential for ``claims`` (every one a disclosure), bound to ``holder_jwk``
        (public members only) and pointing at ``status`` (``{"status_list": {"idx", "uri"}}``)."""
        reserved = set(claims) & (NEVER_DISCLOSED | {"_sd", "_sd_alg", "..."})
        if reserved:
            raise ValidationFailed(f"{', '.join(sorted(reserved))} cannot be a disclosed claim")
        disclosures = [_disclosure(name, value) for name, value in claims.items()]
        digests = [_digest(d) for d in disclosures]
        low, high = DECOYS
        digests += [
            b64url_encode(hashlib.sha256(secrets.token_bytes(32)).digest())
            for _ in range(low + secrets.randbelow(high - low + 1))
        ]
        issued_at = now.astimezone(UTC).replace(microsecond=0)
        expires_at = issued_at + self.lifetime
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "iat": int(issued_at.timestamp()),
            "nbf": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
            "vct": self.vct,
            "_sd_alg": "sha-256",
            "_sd": sorted(digests),
            "cnf": {"jwk": {k: holder_jwk[k] for k in ("kty", "crv", "x", "y") if k in holder_jwk}},
        }
        if status is not None:
            payload["status"] = dict(status)
        jwt = sign_jwt(self.key, {"typ": CREDENTIAL_TYP}, payload)
        return IssuedSdJwtVc(
            credential="~".join([jwt, *disclosures]) + "~",
            issued_at=issued_at,
            expires_at=expires_at,
        )
