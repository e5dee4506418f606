"""Reading a users CSV: required columns, optional ones, line numbers of bad rows."""

from __future__ import annotations

import io

import pytest

from ssar.directory.importer import ImportRow, read_users_csv
from ssar.directory.models import ImportRowError
from ssar.errors import ValidationFailed


def _read(text: str) -> list[ImportRow | ImportRowError]:
    return list(read_users_csv(io.StringIO(text)))


def test_rows_are_cleaned_and_optional_columns_read() -> None:
    (row,) = _read(
        "Username,given_name,family_name,email,groups,employee_id,privileged\n"
        "  alice ,Alice,  Martin ,a@x.example;b@x.example, Staff ;  Eng  Team ;Staff,E1,TRUE\n"
    )
    assert isinstance(row, ImportRow)
    assert (row.username, row.family_name, row.display_name) == ("alice", "Martin", "Alice Martin")
    assert [e.address for e in row.emails] == ["a@x.example", "b@x.example"]
    assert row.emails[0].primary
    assert not row.emails[1].primary
    assert row.groups == ("Staff", "Eng Team")
    assert (row.employee_id, row.privileged, row.line) == ("E1", True, 2)


def test_bad_rows_carry_line_numbers_and_blank_lines_are_skipped() -> None:
    results = _read(
        "username,given_name,family_name,privileged\n"
        "ok,A,B,\n"
        "\n"
        "two words,A,B,\n"
        "short,A\n"
        "flag,A,B,maybe\n"
        '"multi\nline",A,B,\n'
    )
    errors = [r for r in results if isinstance(r, ImportRowError)]
    assert [(e.line, e.username) for e in errors] == [
        (4, "two words"),
        (5, "short"),
        (6, "flag"),
        (8, "multi\nline"),
    ]
    assert "privileged" in errors[2].reason
    assert sum(isinstance(r, ImportRow) for r in results) == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "username,given_name\n",
        "username,given_name,family_name,mail\n",
        "username,username,given_name,family_name\n",
    ],
)
def test_unusable_header_refuses_the_file(header: str) -> None:
    with pytest.raises(ValidationFailed):
        _read(header + "a,b,c\n")


def test_byte_order_mark_is_ignored() -> None:
    (row,) = _read("\ufeffusername,given_name,family_name\nzoe,Zoe,Z\n")
    assert isinstance(row, ImportRow)
    assert row.username == "zoe"
