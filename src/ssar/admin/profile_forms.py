"""The profile form of the admin center: form values ⇄ ``ProfileFields``, with one error per field.

Pure: no database and no HTTP. The page hands in what the form needs to know about the world
(``FormContext``: the directory's groups, the priorities other profiles hold, the TAP policy,
the providers that can be chosen) and gets back either the profile's name and fields for
``ProfileService.put`` or ``FormInvalid`` whose ``errors`` map a form field to its message.
The schema (``ssar.profiles.schema``) stays the authority: the form checks what it can say
better next to a field first, then lets the schema decide and maps its errors to fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from ssar.directory.names import group_key
from ssar.errors import ValidationFailed
from ssar.profiles.models import Profile
from ssar.profiles.schema import (
    DEFAULT_EXTENSION_TIMEOUT,
    DEFAULT_THRESHOLD,
    MAX_PRIORITY,
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    USER_ATTRIBUTES,
    ProfileFields,
    ProfileSpec,
)

#: the user attributes a credential claim can be compared with, as the form labels them
ATTRIBUTE_LABELS: dict[str, str] = {
    "given_name": "Given name",
    "family_name": "Family name",
    "birthdate": "Date of birth",
    "employee_id": "Employee ID",
    "email": "Email address",
}
assert tuple(ATTRIBUTE_LABELS) == USER_ATTRIBUTES

#: the form fields, in the order of the page (the error summary lists errors in this order)
FIELD_ORDER: tuple[str, ...] = (
    "name",
    "description",
    "priority",
    "mode",
    "include_groups",
    "exclude_groups",
    "allow_privileged",
    "provider",
    "credential_types",
    "issuer_iss",
    "issuer_jwks_uri",
    "match",
    "claims",
    "extension_url",
    "extension_timeout",
    "face_required",
    "face_threshold",
    "tap_lifetime",
    "tap_one_time",
)

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "description": "Description",
    "priority": "Priority",
    "mode": "Mode",
    "include_groups": "Include groups",
    "exclude_groups": "Exclude groups",
    "allow_privileged": "Privileged accounts",
    "provider": "Verification provider",
    "credential_types": "Credential types",
    "issuer_iss": "Issuer identifier",
    "issuer_jwks_uri": "Issuer JWKS URL",
    "match": "Name matching",
    "claims": "Claim mapping",
    "extension_url": "Extension URL",
    "extension_timeout": "Extension timeout",
    "face_required": "Face check",
    "face_threshold": "Face check threshold",
    "tap_lifetime": "TAP lifetime",
    "tap_one_time": "One-time TAP",
}


class FormInvalid(ValidationFailed):
    """The form cannot be saved; ``errors`` maps form fields to one message each."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        first = next(iter(self.errors), None)
        super().__init__("; ".join(self.errors.values()), field=first)


@dataclass(frozen=True)
class FormContext:
    """What the form needs to know about the world to judge a submission."""

    groups: Mapping[str, str]  # group key → group name, every group of the directory
    taken_priorities: Mapping[int, str]  # priority → name of the *other* profile holding it
    tap_min: int
    tap_max: int
    providers: Sequence[str]  # the provider values that can be chosen
    issuers: Sequence[Mapping[str, Any]] = ()  # the profile's stored issuers (kept as they are)
    taken_names: frozenset[str] = frozenset()  # casefolded names of the *other* profiles


@dataclass(frozen=True)
class ProfileForm:
    """The values of the form as strings and booleans, exactly as shown or submitted."""

    name: str = ""
    description: str = ""
    priority: str = ""
    mode: str = "evaluation"
    include_groups: str = ""  # one group name per line
    exclude_groups: str = ""
    allow_privileged: bool = False
    provider: str = "reference"
    credential_types: str = ""  # one per line
    issuer_iss: str = ""  # a first issuer, for a profile that has none yet
    issuer_jwks_uri: str = ""
    match: str = "exact"
    claims: Mapping[str, str] = field(default_factory=dict)  # attribute → claim names, ", "
    extension_url: str = ""
    extension_timeout: str = ""
    face_required: bool = True
    face_threshold: str = str(DEFAULT_THRESHOLD)
    tap_lifetime: str = ""
    tap_one_time: bool = True

    def claim_for(self, attribute: str) -> str:
        return self.claims.get(attribute, "")

    @property
    def include_list(self) -> list[str]:
        return _lines(self.include_groups)

    @property
    def exclude_list(self) -> list[str]:
        return _lines(self.exclude_groups)


def blank(*, priority: int, tap_lifetime: int, tap_one_time: bool) -> ProfileForm:
    """A new profile: evaluation mode, the reference provider, names matched exactly, face
    check at the default threshold and the TAP policy's lifetime."""
    return ProfileForm(
        priority=str(priority),
        claims={"given_name": "given_name", "family_name": "family_name"},
        tap_lifetime=str(tap_lifetime),
        tap_one_time=tap_one_time,
    )


def next_priority(taken: Iterable[int]) -> int:
    """A free priority after the existing ones, in steps of 10 (room to put one between)."""
    highest = max(taken, default=0)
    return min(MAX_PRIORITY, (highest // 10 + 1) * 10)


def from_profile(profile: Profile) -> ProfileForm:
    """The form showing a stored profile."""
    claims: dict[str, list[str]] = {}
    for rule in profile.validation.claims:
        claims.setdefault(rule.attribute, []).append(rule.claim)
    extension = profile.validation.extension
    return ProfileForm(
        name=profile.name,
        description=profile.description,
        priority=str(profile.priority),
        mode=profile.mode,
        include_groups="\n".join(g.name for g in profile.include_groups),
        exclude_groups="\n".join(g.name for g in profile.exclude_groups),
        allow_privileged=profile.allow_privileged,
        provider=profile.provider,
        credential_types="\n".join(profile.credentials.types) if profile.credentials else "",
        match=profile.validation.match,
        claims={a: ", ".join(c) for a, c in claims.items()},
        extension_url=extension.url if extension else "",
        extension_timeout=_number(extension.timeout_seconds) if extension else "",
        face_required=profile.face_check.required,
        face_threshold=str(profile.face_check.threshold),
        tap_lifetime=str(profile.tap.lifetime_minutes),
        tap_one_time=profile.tap.one_time,
    )


def parse(data: Mapping[str, Sequence[str]]) -> ProfileForm:
    """A submitted form (every field as the list of its values; a checkbox that is not
    ticked is absent)."""

    def one(name: str, default: str = "") -> str:
        values = data.get(name) or [default]
        return values[-1].strip()

    def many(name: str) -> str:
        # a multi-select or checkboxes send the field once per value; a textarea once
        return "\n".join(v.strip() for v in data.get(name, ()) if v.strip())

    return ProfileForm(
        name=one("name"),
        description=one("description"),
        priority=one("priority"),
        mode=one("mode", "evaluation"),
        include_groups=many("include_groups"),
        exclude_groups=many("exclude_groups"),
        allow_privileged=bool(data.get("allow_privileged")),
        provider=one("provider"),
        credential_types=many("credential_types"),
        issuer_iss=one("issuer_iss"),
        issuer_jwks_uri=one("issuer_jwks_uri"),
        match=one("match", "exact"),
        claims={a: one(f"claim_{a}") for a in USER_ATTRIBUTES if one(f"claim_{a}")},
        extension_url=one("extension_url"),
        extension_timeout=one("extension_timeout"),
        face_required=bool(data.get("face_required")),
        face_threshold=one("face_threshold"),
        tap_lifetime=one("tap_lifetime"),
        tap_one_time=bool(data.get("tap_one_time")),
    )


def to_fields(form: ProfileForm, context: FormContext, *, new: bool) -> tuple[str, ProfileFields]:
    """The profile's name and fields; raises ``FormInvalid`` with every error found.

    ``new``: the mode is taken from the form only for a new profile (an existing profile
    switches mode on its own confirmation page)."""
    errors: dict[str, str] = {}

    if new and " ".join(form.name.split()).casefold() in context.taken_names:
        errors["name"] = f"a profile named “{form.name}” exists already"
    priority = _integer(form.priority, "priority", errors, low=1, high=MAX_PRIORITY)
    if priority is not None and priority in context.taken_priorities:
        errors["priority"] = (
            f"priority {priority} is already used by profile "
            f"“{context.taken_priorities[priority]}”; priorities must be unique"
        )
    include = _groups(form.include_list, "include_groups", context, errors)
    exclude = _groups(form.exclude_list, "exclude_groups", context, errors)
    if not form.include_list and "include_groups" not in errors:
        errors["include_groups"] = "choose at least one group whose members may recover"
    if "include_groups" not in errors and "exclude_groups" not in errors:
        both = {group_key(g) for g in include} & {group_key(g) for g in exclude}
        if both:
            names = ", ".join(g for g in include if group_key(g) in both)
            errors["exclude_groups"] = f"a group cannot be both included and excluded: {names}"
    if form.provider not in context.providers:
        errors["provider"] = "choose one of the listed providers"
    if form.mode not in ("evaluation", "production"):
        errors["mode"] = "choose evaluation or production"
    threshold = _integer(
        form.face_threshold, "face_threshold", errors, low=MIN_THRESHOLD, high=MAX_THRESHOLD
    )
    lifetime = _integer(
        form.tap_lifetime, "tap_lifetime", errors, low=context.tap_min, high=context.tap_max
    )
    if lifetime is not None and "tap_lifetime" in errors:
        errors["tap_lifetime"] = (
            f"must lie within the TAP policy: {context.tap_min} to {context.tap_max} minutes"
        )
    timeout: float | None = None
    if form.extension_timeout:
        try:
            timeout = float(form.extension_timeout)
        except ValueError:
            errors["extension_timeout"] = "a number of seconds, such as 2 or 2.5"
    claims: dict[str, str] = {}
    for attribute in USER_ATTRIBUTES:
        for claim in _split_claims(form.claim_for(attribute)):
            if claim in claims:
                errors["claims"] = f"the claim {claim} is mapped twice"
            claims[claim] = attribute

    raw: dict[str, Any] = {
        "name": form.name,
        "description": form.description,
        "include_groups": include,
        "exclude_groups": exclude,
        "allow_privileged": form.allow_privileged,
        "provider": form.provider,
        "validation": {"match": form.match, "claims": claims},
        "face_check": {"required": form.face_required},
        "tap": {"one_time": form.tap_one_time},
    }
    if new:
        raw["mode"] = form.mode
    if priority is not None:
        raw["priority"] = priority
    if threshold is not None:
        raw["face_check"]["threshold"] = threshold
    if lifetime is not None:
        raw["tap"]["lifetime_minutes"] = lifetime
    if form.extension_url:
        raw["validation"]["extension"] = {"url": form.extension_url}
        if timeout is not None:
            raw["validation"]["extension"]["timeout_seconds"] = timeout
    elif form.extension_timeout and "extension_timeout" not in errors:
        errors["extension_timeout"] = "a timeout needs an extension URL"
    credentials = _credentials(form, context, errors)
    if credentials is not None:
        raw["credentials"] = credentials

    try:
        spec = ProfileSpec.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            name, message = _field_of(error)
            errors.setdefault(name, message)
    if errors:
        raise FormInvalid(_ordered(errors))
    fields = ProfileFields.model_validate(spec.model_dump(exclude={"name"}, exclude_none=True))
    return spec.name, fields


def errors_from_service(exc: ValidationFailed) -> dict[str, str]:
    """Map what ``ProfileService.put`` refused to form fields (the service checks the
    directory and the policies again inside its transaction, so a race lands here)."""
    problems = getattr(exc, "problems", None) or (exc.detail,)
    errors: dict[str, str] = {}
    for line in problems:
        message = line.split(": ", 1)[1] if line.startswith("profile ") and ": " in line else line
        errors.setdefault(_service_field(exc, line), message)
    return _ordered(errors)


def summary(errors: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(field, label, message) for the error summary at the top of the form."""
    return [(f, FIELD_LABELS.get(f, f), m) for f, m in _ordered(errors).items()]


def with_priority(form: ProfileForm, priority: int) -> ProfileForm:
    return replace(form, priority=str(priority))


# --- internals -----------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    seen: list[str] = []
    for line in text.splitlines():
        name = " ".join(line.split())
        if name and name not in seen:
            seen.append(name)
    return seen


def _split_claims(text: str) -> list[str]:
    return [c for c in (p.strip() for p in text.replace(";", ",").split(",")) if c]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _integer(text: str, name: str, errors: dict[str, str], *, low: int, high: int) -> int | None:
    if not text:
        errors[name] = "is required"
        return None
    try:
        value = int(text)
    except ValueError:
        errors[name] = f"must be a whole number from {low:,} to {high:,}"
        return None
    if not low <= value <= high:
        errors[name] = f"must be from {low:,} to {high:,} (got {value:,})"
    return value


def _groups(names: list[str], name: str, context: FormContext, errors: dict[str, str]) -> list[str]:
    """The groups by their directory spelling; unknown ones are an error of the field."""
    found: list[str] = []
    unknown: list[str] = []
    for group in names:
        known = context.groups.get(group_key(group))
        if known is None:
            unknown.append(group)
        elif known not in found:
            found.append(known)
    if unknown:
        errors[name] = "not in the directory: " + ", ".join(unknown)
    return found


def _credentials(
    form: ProfileForm, context: FormContext, errors: dict[str, str]
) -> dict[str, Any] | None:
    if form.provider.startswith("oidc_ida:"):
        return None  # the OpenID provider vouches for the claims; credentials do not apply
    types = _lines(form.credential_types)
    issuers = [dict(i) for i in context.issuers]
    if not issuers and (form.issuer_iss or form.issuer_jwks_uri):
        if not form.issuer_iss:
            errors["issuer_iss"] = "is required with a JWKS URL"
        elif not form.issuer_jwks_uri:
            errors["issuer_jwks_uri"] = "is required with an issuer identifier"
        else:
            issuers = [{"iss": form.issuer_iss, "jwks_uri": form.issuer_jwks_uri}]
    if not issuers and ("issuer_iss" in errors or "issuer_jwks_uri" in errors):
        return None
    if form.provider == "openid4vp" and not issuers:
        errors["issuer_iss"] = (
            "a wallet profile needs a trusted issuer: give its identifier and JWKS URL "
            "(more issuers and other trust anchors on the Trusted issuers page)"
        )
        return None
    if not types and not issuers:
        return None  # the reference provider accepts the credential of its own issuer
    if not types:
        errors["credential_types"] = "list at least one credential type the issuers issue"
        return None
    if not issuers:
        errors["credential_types"] = (
            "other credential types need a trusted issuer; leave this empty to accept the "
            "reference verification service's credential"
        )
        return None
    return {"types": types, "issuers": issuers}


def _field_of(error: Mapping[str, Any]) -> tuple[str, str]:
    """The form field a pydantic error belongs to, and a readable message."""
    loc = tuple(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        message = "is required"
    head = loc[0] if loc else ""
    pairs = {
        ("face_check", "threshold"): "face_threshold",
        ("face_check", "required"): "face_required",
        ("tap", "lifetime_minutes"): "tap_lifetime",
        ("tap", "one_time"): "tap_one_time",
        ("validation", "match"): "match",
        ("validation", "claims"): "claims",
    }
    if len(loc) >= 2 and (loc[0], loc[1]) in pairs:
        return pairs[(loc[0], loc[1])], message
    if loc[:3] == ("validation", "extension", "url"):
        return "extension_url", message
    if loc[:2] == ("validation", "extension"):
        return "extension_timeout", message
    if head == "credentials":
        if len(loc) >= 2 and loc[1] == "types":
            return "credential_types", message
        if len(loc) >= 2 and loc[1] == "issuers":
            return "issuer_iss", message
        return "credential_types", message
    if head in FIELD_LABELS:
        return head, message
    lowered = message.lower()
    if "included and excluded" in lowered:
        return "exclude_groups", message
    if "credentials" in lowered:
        return "credential_types", message
    return "provider" if "provider" in lowered else "name", message


def _service_field(exc: ValidationFailed, line: str) -> str:
    if exc.field and exc.field in FIELD_LABELS:
        return exc.field
    lowered = line.lower()
    for needle, name in (
        ("unknown groups", "include_groups"),
        ("priority", "priority"),
        ("tap.lifetime_minutes", "tap_lifetime"),
        ("tap policy", "tap_lifetime"),
        ("provider", "provider"),
        ("threshold", "face_threshold"),
        ("credential", "credential_types"),
        ("issuer", "issuer_iss"),
    ):
        if needle in lowered:
            return name
    return "name"


def _ordered(errors: Mapping[str, str]) -> dict[str, str]:
    rank = {f: i for i, f in enumerate(FIELD_ORDER)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(rank))))


__all__ = [
    "ATTRIBUTE_LABELS",
    "DEFAULT_EXTENSION_TIMEOUT",
    "FIELD_LABELS",
    "MAX_THRESHOLD",
    "MIN_THRESHOLD",
    "FormContext",
    "FormInvalid",
    "ProfileForm",
    "blank",
    "errors_from_service",
    "from_profile",
    "next_priority",
    "parse",
    "summary",
    "to_fields",
]
