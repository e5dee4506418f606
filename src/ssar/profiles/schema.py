"""The input schema of profiles (the YAML of ``ssar profiles apply`` and the admin API's body).

Only what one document can say about itself is checked here; what needs the database or the
settings (groups exist, priorities are free, the TAP policy) is checked by the service.
Errors name the profile and the field (``profiles[0] "Employees": face_check.threshold: ...``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import yaml
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ssar.credentials.trust import TrustConfig, load_trust
from ssar.directory.names import group_key
from ssar.errors import CredentialError, ValidationFailed

Mode = Literal["evaluation", "production"]
MatchRule = Literal["exact", "relaxed"]
UserAttribute = Literal["given_name", "family_name", "birthdate", "employee_id", "email"]

MODES: tuple[str, ...] = ("evaluation", "production")
USER_ATTRIBUTES: tuple[str, ...] = (
    "given_name",
    "family_name",
    "birthdate",
    "employee_id",
    "email",
)
DEFAULT_CLAIMS: dict[str, UserAttribute] = {
    "given_name": "given_name",
    "family_name": "family_name",
}
PROVIDER_PATTERN = re.compile(r"^(openid4vp|reference|oidc_ida:[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
PROFILE_NAME_PATTERN = re.compile(r"^[^/\x00-\x1f\x7f]{1,128}$")
CLAIM_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,127}$")
MIN_THRESHOLD, MAX_THRESHOLD, DEFAULT_THRESHOLD = 50, 100, 70
DEFAULT_EXTENSION_TIMEOUT, MAX_EXTENSION_TIMEOUT = 2.0, 10.0
MAX_PRIORITY = 1_000_000
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class ProfileValidationFailed(ValidationFailed):
    """One or more profiles break a rule; ``problems`` holds one precise line per fault."""

    def __init__(self, problems: Sequence[str], *, code: str = "invalid_profile") -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems), code=code)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


def _pem_anchor(value: str) -> str:
    """A trust anchor as PEM; base64 DER (the JOSE ``x5c`` form) is accepted too."""
    if value.startswith("-----BEGIN"):
        return value
    try:
        der = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an x5c anchor is a PEM certificate or base64 DER") from None
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def _https_url(value: str, *, what: str, loopback_http: bool = False) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value
    if loopback_http and parts.scheme == "http" and _is_loopback(host):
        return value
    allowed = "https (http only for localhost)" if loopback_http else "https"
    raise ValueError(f"{what} must be an {allowed} URL, got {value!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class IssuerSpec(_Strict):
    """A trusted issuer: its identifier and exactly one trust anchor."""

    iss: str = Field(min_length=1, max_length=512, description="The issuer identifier.")
    jwks: dict[str, Any] | None = Field(default=None, description="The issuer's public JWKS.")
    jwks_uri: str | None = Field(default=None, description="Where the issuer's JWKS is published.")
    x5c: list[str] | None = Field(
        default=None, description="X.509 trust anchors (PEM or base64 DER) for x5c-signed tokens."
    )

    @field_validator("jwks")
    @classmethod
    def _jwks_has_public_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from ssar.credentials.jose import public_key_from_jwk

        keys = value.get("keys")
        if not isinstance(keys, list) or not keys:
            raise ValueError("jwks must be {keys: [...]} with at least one key")
        for index, jwk in enumerate(keys):
            if not isinstance(jwk, dict):
                raise ValueError(f"jwks.keys[{index}] is not an object")
            private = [m for m in _PRIVATE_JWK_MEMBERS if m in jwk]
            if private:
                raise ValueError(
                    f"jwks.keys[{index}] holds private key members {private}: "
                    "publish only the public key"
                )
            try:
                public_key_from_jwk(jwk)
            except CredentialError as exc:
                raise ValueError(f"jwks.keys[{index}]: {exc.detail}") from None
        return value

    @field_validator("jwks_uri")
    @classmethod
    def _jwks_uri_https(cls, value: str | None) -> str | None:
        return None if value is None else _https_url(value, what="jwks_uri")

    @field_validator("x5c")
    @classmethod
    def _anchors_parse(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("x5c needs at least one anchor certificate")
        anchors = []
        for index, item in enumerate(value):
            pem = _pem_anchor(item)
            try:
                x509.load_pem_x509_certificate(pem.encode())
            except ValueError:
                raise ValueError(f"x5c[{index}] is not a valid X.509 certificate") from None
            anchors.append(pem)
        return anchors

    @model_validator(mode="after")
    def _one_anchor(self) -> IssuerSpec:
        given = [k for k in ("jwks", "jwks_uri", "x5c") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"issuer {self.iss!r} needs exactly one of jwks, jwks_uri or x5c"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


def trust_config(issuers: Sequence[IssuerSpec]) -> TrustConfig:
    """The verifier trust configuration the issuers stand for (anchors of all issuers pooled;
    an x5c leaf must still name its issuer)."""
    document = {
        "issuers": [
            {"iss": i.iss, "jwks": i.jwks, "jwks_uri": i.jwks_uri}
            for i in issuers
            if i.jwks is not None or i.jwks_uri is not None
        ],
        "x509_anchors": [pem for i in issuers for pem in (i.x5c or [])],
    }
    return load_trust(document)


class CredentialsSpec(_Strict):
    """What the ``openid4vp`` (or ``reference``) provider accepts."""

    types: list[str] = Field(
        min_length=1, description="SD-JWT VC vct values, mdoc doctypes or JWT-VC types."
    )
    issuers: list[IssuerSpec] = Field(min_length=1, description="The trusted issuers.")

    @field_validator("types")
    @classmethod
    def _types_distinct(cls, value: list[str]) -> list[str]:
        if any(not t for t in value):
            raise ValueError("credential types must not be empty strings")
        if len(set(value)) != len(value):
            raise ValueError("credential types are listed twice")
        return value

    @model_validator(mode="after")
    def _trust_builds(self) -> CredentialsSpec:
        seen = [i.iss for i in self.issuers]
        twice = sorted({i for i in seen if seen.count(i) > 1})
        if twice:
            raise ValueError(f"issuers listed twice: {', '.join(twice)}")
        try:
            trust_config(self.issuers)
        except CredentialError as exc:
            raise ValueError(exc.detail) from None
        return self


class ExtensionSpec(_Strict):
    """The organisation's custom authentication extension that confirms more claims (R29)."""

    url: str = Field(description="https, or http only for a loopback host.")
    timeout_seconds: float = Field(
        default=DEFAULT_EXTENSION_TIMEOUT, gt=0, le=MAX_EXTENSION_TIMEOUT
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, what="extension.url", loopback_http=True)


def _default_claims() -> dict[str, UserAttribute]:
    return dict(DEFAULT_CLAIMS)


class ValidationSpec(_Strict):
    """How the credential is matched to the directory account (R7, R32)."""

    match: MatchRule = "exact"
    claims: dict[str, UserAttribute] = Field(
        default_factory=_default_claims,
        description="credential claim → user attribute; must cover given_name and family_name.",
    )
    extension: ExtensionSpec | None = None

    @field_validator("claims")
    @classmethod
    def _claims(cls, value: dict[str, UserAttribute]) -> dict[str, UserAttribute]:
        bad = [c for c in value if not CLAIM_PATTERN.match(c)]
        if bad:
            raise ValueError(f"claim names {bad} are not valid (letters, digits, _ . : -)")
        missing = [a for a in ("given_name", "family_name") if a not in value.values()]
        if missing:
            raise ValueError(
                f"claims must map a credential claim to {' and '.join(missing)} "
                "(names are always matched, R7)"
            )
        return value


class FaceCheckSpec(_Strict):
    required: bool = True
    threshold: int = Field(default=DEFAULT_THRESHOLD, ge=MIN_THRESHOLD, le=MAX_THRESHOLD)


class TapSpec(_Strict):
    """Omitted values take the tenant TAP policy's defaults; given ones must lie within it."""

    lifetime_minutes: int | None = Field(default=None, ge=1)
    one_time: bool | None = None


class ProfileFields(_Strict):
    """Everything a profile says except its name (the body of ``PUT /api/admin/profiles/{name}``)."""

    description: str = Field(default="", max_length=1024)
    mode: Mode | None = Field(
        default=None, description="A new profile without a mode starts in evaluation."
    )
    priority: int = Field(
        ge=1, le=MAX_PRIORITY, description="Ascending; the first profile that applies wins."
    )
    include_groups: list[str] = Field(min_length=1, description="Nested membership counts.")
    exclude_groups: list[str] = Field(default_factory=list, description="Exclusion wins.")
    allow_privileged: bool = Field(default=False, description="Opt privileged accounts in (R9).")
    provider: str = Field(description="openid4vp | reference | oidc_ida:<provider name>")
    credentials: CredentialsSpec | None = None
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    face_check: FaceCheckSpec = Field(default_factory=FaceCheckSpec)
    tap: TapSpec = Field(default_factory=TapSpec)

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if not PROVIDER_PATTERN.match(value):
            raise ValueError(
                f"unknown provider {value!r}: use openid4vp, reference or oidc_ida:<provider name>"
            )
        return value

    @field_validator("include_groups", "exclude_groups")
    @classmethod
    def _group_names(cls, value: list[str]) -> list[str]:
        names = [" ".join(v.split()) for v in value]
        if any(not n for n in names):
            raise ValueError("group names must not be empty")
        keys = [group_key(n) for n in names]
        twice = sorted({n for n, k in zip(names, keys, strict=True) if keys.count(k) > 1})
        if twice:
            raise ValueError(f"groups listed twice: {', '.join(twice)}")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> ProfileFields:
        both = {group_key(g) for g in self.include_groups} & {
            group_key(g) for g in self.exclude_groups
        }
        if both:
            names = [g for g in self.include_groups if group_key(g) in both]
            raise ValueError(f"groups both included and excluded: {', '.join(names)}")
        if self.provider == "openid4vp" and self.credentials is None:
            raise ValueError("provider openid4vp needs credentials (types and issuers)")
        if self.provider.startswith("oidc_ida:") and self.credentials is not None:
            raise ValueError(
                "credentials apply to the openid4vp and reference providers, not oidc_ida"
            )
        return self


class ProfileSpec(ProfileFields):
    """One profile of the YAML document."""

    name: str = Field(min_length=1, max_length=128, description="Unique; apply updates by name.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not PROFILE_NAME_PATTERN.match(value):
            raise ValueError("a profile name is 1 to 128 characters without '/' or control chars")
        return value


class ProfilesDocument(_Strict):
    profiles: list[ProfileSpec]

    @model_validator(mode="after")
    def _unique(self) -> ProfilesDocument:
        by_name: dict[str, str] = {}
        for profile in self.profiles:
            key = profile.name.casefold()
            if key in by_name:
                raise ValueError(f"profile name {profile.name!r} is used twice")
            by_name[key] = profile.name
        problems: list[str] = []
        by_priority: dict[int, str] = {}
        for profile in self.profiles:
            if profile.priority in by_priority:
                problems.append(
                    f"priority {profile.priority} is used by both {by_priority[profile.priority]!r}"
                    f" and {profile.name!r}; priorities must be unique"
                )
            by_priority.setdefault(profile.priority, profile.name)
        if problems:
            raise PydanticCustomError("duplicate_priority", "; ".join(problems))
        return self


# --- parsing with precise messages --------------------------------------------------------


def _location(loc: Sequence[int | str], document: Any) -> str:
    """``profiles[0] "Employees": face_check.threshold`` for a pydantic error location."""
    parts: list[str] = []
    prefix = ""
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "profiles" and isinstance(rest[1], int):
        index = rest[1]
        prefix = f"profiles[{index}]"
        name = _raw_name(document, index)
        if name:
            prefix += f" {name!r}"
        rest = rest[2:]
    for item in rest:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    field = "".join(parts)
    return ": ".join(p for p in (prefix, field) if p)


def _raw_name(document: Any, index: int) -> str | None:
    try:
        name = document["profiles"][index]["name"]
    except (KeyError, IndexError, TypeError):
        return None
    return name if isinstance(name, str) else None


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    loc = error.get("loc", ())
    if kind == "extra_forbidden":
        return f"unknown field {loc[-1]!r}" if loc else "unknown field"
    if kind == "missing":
        return "is required"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if kind and kind not in ("value_error", "model_type") and isinstance(value, int | float | str):
        message += f" (got {value!r})"
    return message


def problems_from(exc: ValidationError, document: Any) -> tuple[str, ...]:
    lines = []
    for error in exc.errors():
        where = _location(error.get("loc", ()), document)
        lines.append(f"{where}: {_message(error)}" if where else _message(error))
    return tuple(lines)


def parse_document(document: Any) -> ProfilesDocument:
    """Validate a parsed YAML/JSON document; raises ProfileValidationFailed with every fault."""
    if not isinstance(document, Mapping) or "profiles" not in document:
        raise ProfileValidationFailed(["the document must be a mapping with a 'profiles' list"])
    try:
        return ProfilesDocument.model_validate(document)
    except ValidationError as exc:
        kinds = {e.get("type") for e in exc.errors()}
        code = "duplicate_priority" if kinds == {"duplicate_priority"} else "invalid_profile"
        raise ProfileValidationFailed(problems_from(exc, document), code=code) from None


def parse_yaml(text: str) -> ProfilesDocument:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileValidationFailed([f"not valid YAML: {exc}"], code="invalid_yaml") from None
    return parse_document(document)
