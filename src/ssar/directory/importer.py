"""Reading a users CSV file into validated rows. Pure (no database): the service imports them.

Columns: ``username,given_name,family_name`` are required; ``email`` (``;``-separated, the first is
primary), ``groups`` (``;``-separated), ``employee_id``, ``privileged``, ``display_name``,
``external_id``, ``birthdate`` and ``enabled`` are optional. An unknown column refuses the whole
file, because a misspelt optional column would otherwise be dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from ssar.directory.models import (
    EmailAddress,
    ImportRowError,
    clean_birthdate,
    clean_emails,
    clean_group_name,
    clean_name,
    clean_optional,
    clean_username,
)
from ssar.errors import ValidationFailed

REQUIRED_COLUMNS = ("username", "given_name", "family_name")
OPTIONAL_COLUMNS = (
    "email",
    "groups",
    "employee_id",
    "privileged",
    "display_name",
    "external_id",
    "birthdate",
    "enabled",
)
_TRUE = frozenset({"1", "true", "yes", "y"})
_FALSE = frozenset({"", "0", "false", "no", "n"})


@dataclass(frozen=True)
class ImportRow:
    line: int
    username: str
    given_name: str
    family_name: str
    display_name: str
    emails: tuple[EmailAddress, ...] = ()
    groups: tuple[str, ...] = ()
    employee_id: str | None = None
    external_id: str | None = None
    birthdate: str | None = None
    privileged: bool = False
    enabled: bool = True


def _flag(value: str, *, column: str, default: bool) -> bool:
    value = value.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationFailed(f"{column} must be true or false, not {value!r}", field=column)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def parse_row(
    line: int, record: dict[str, str], *, group_names: dict[str, str] | None = None
) -> ImportRow:
    """Validate one CSV record; raises ValidationFailed naming the first problem.
    ``group_names`` caches cleaned group names, which repeat on almost every row."""
    cache = group_names if group_names is not None else {}
    groups: list[str] = []
    for raw in _split(record.get("groups")):
        if raw not in cache:
            cache[raw] = clean_group_name(raw)
        groups.append(cache[raw])
    given = clean_name(record.get("given_name"), field_name="given_name")
    family = clean_name(record.get("family_name"), field_name="family_name")
    display = clean_name(record.get("display_name"), field_name="display_name", required=False)
    return ImportRow(
        line=line,
        username=clean_username(record.get("username") or ""),
        given_name=given,
        family_name=family,
        display_name=display or f"{given} {family}",
        emails=clean_emails(_split(record.get("email"))),
        groups=tuple(dict.fromkeys(groups)),
        employee_id=clean_optional(
            record.get("employee_id"), field_name="employee_id", max_length=128
        ),
        external_id=clean_optional(
            record.get("external_id"), field_name="external_id", max_length=256
        ),
        birthdate=clean_birthdate(record.get("birthdate")),
        privileged=_flag(record.get("privileged") or "", column="privileged", default=False),
        enabled=_flag(record.get("enabled") or "", column="enabled", default=True),
    )


def read_users_csv(stream: TextIO) -> Iterator[ImportRow | ImportRowError]:
    """Yield a validated row or the reason a row was rejected, with its line number.

    Raises ValidationFailed before yielding anything when the header is unusable.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("the file is empty; the first line names the columns") from None
    columns = [c.strip().lower().lstrip("\ufeff") for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(columns)) != len(columns):
        raise ValidationFailed(
            f"bad header: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
            f"columns are {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
            field="header",
        )
    group_names: dict[str, str] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines are not rows
        if len(values) != len(columns):
            yield ImportRowError(
                line,
                values[0].strip() or None if values else None,
                f"expected {len(columns)} fields, found {len(values)}",
            )
            continue
        record = dict(zip(columns, values, strict=True))
        try:
            yield parse_row(line, record, group_names=group_names)
        except ValidationFailed as exc:
            yield ImportRowError(line, record.get("username", "").strip() or None, exc.detail)
