"""What the directory hands out: frozen results (never table rows) and the input rules for them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Final

from ssar.errors import ValidationFailed


class Unset(Enum):
    """Marks an update argument the caller did not give (``None`` means "clear it")."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True)
class EmailAddress:
    """An address of a user. ``notify`` marks a notification address (R5, R27)."""

    address: str
    primary: bool = False
    notify: bool = True
    kind: str = "work"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    given_name: str
    family_name: str
    display_name: str
    emails: tuple[EmailAddress, ...]
    employee_id: str | None
    external_id: str | None
    birthdate: str | None
    enabled: bool
    privileged: bool
    created_at: datetime
    updated_at: datetime
    groups: tuple[str, ...] = ()  # names of the groups the user is directly in

    @property
    def notification_addresses(self) -> tuple[str, ...]:
        return tuple(e.address for e in self.emails if e.notify)

    @property
    def primary_email(self) -> str | None:
        for email in self.emails:
            if email.primary:
                return email.address
        return self.emails[0].address if self.emails else None


@dataclass(frozen=True)
class GroupMember:
    """A direct member of a group: a user or a nested group."""

    id: str
    type: str  # "User" | "Group"
    display: str


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    members: tuple[GroupMember, ...] | None = None  # None when not loaded
    parents: tuple[str, ...] = ()  # names of the groups this group is directly nested in


@dataclass(frozen=True)
class UserPage:
    users: tuple[User, ...]
    total: int


@dataclass(frozen=True)
class GroupPage:
    groups: tuple[Group, ...]
    total: int


@dataclass(frozen=True)
class AuthMethodSummary:
    """A sign-in method bound to a user, as the directory shows it (read-only)."""

    id: str
    type: str  # passkey | totp | tap
    label: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class ImportRowError:
    line: int
    username: str | None
    reason: str


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int  # usernames that already existed
    groups_created: tuple[str, ...]
    errors: tuple[ImportRowError, ...] = field(default=())

    @property
    def rejected(self) -> int:
        return len(self.errors)


# --- input rules -----------------------------------------------------------------------------

MAX_NAME = 256
# Usernames are often e-mail-shaped (UPNs); what matters is that they are unambiguous to type.
_USERNAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,256}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def clean_username(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not _USERNAME.match(value):
        raise ValidationFailed(
            "a username is 1 to 256 characters without spaces or control characters",
            field="username",
        )
    return value


def clean_name(value: str | None, *, field_name: str, required: bool = True) -> str:
    value = unicodedata.normalize("NFC", " ".join((value or "").split()))
    if required and not value:
        raise ValidationFailed(f"{field_name} is required", field=field_name)
    if len(value) > MAX_NAME:
        raise ValidationFailed(
            f"{field_name} is longer than {MAX_NAME} characters", field=field_name
        )
    return value


def clean_group_name(value: str) -> str:
    return clean_name(value, field_name="group name")


def clean_email(value: str) -> str:
    value = value.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValidationFailed(f"{value!r} is not an e-mail address", field="emails")
    return value


def clean_emails(values: object) -> tuple[EmailAddress, ...]:
    """Addresses as strings or ``EmailAddress``; the first is primary unless one says so."""
    if isinstance(values, str):
        raise ValidationFailed("emails must be a list", field="emails")
    result: list[EmailAddress] = []
    seen: set[str] = set()
    for value in values:  # type: ignore[attr-defined]
        email = value if isinstance(value, EmailAddress) else EmailAddress(address=str(value))
        address = clean_email(email.address)
        if address.casefold() in seen:
            continue
        seen.add(address.casefold())
        result.append(
            EmailAddress(
                address=address, primary=email.primary, notify=email.notify, kind=email.kind
            )
        )
    if result and not any(e.primary for e in result):
        first = result[0]
        result[0] = EmailAddress(first.address, primary=True, notify=first.notify, kind=first.kind)
    elif sum(e.primary for e in result) > 1:
        raise ValidationFailed("only one e-mail address can be primary", field="emails")
    return tuple(result)


def clean_optional(value: str | None, *, field_name: str, max_length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field_name} is longer than {max_length} characters", field=field_name
        )
    return value


def clean_birthdate(value: str | None) -> str | None:
    value = clean_optional(value, field_name="birthdate", max_length=10)
    if value is None:
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "birthdate must be an ISO date (YYYY-MM-DD)", field="birthdate"
        ) from None
    if len(value) != 10:
        raise ValidationFailed("birthdate must be an ISO date (YYYY-MM-DD)", field="birthdate")
    return value
