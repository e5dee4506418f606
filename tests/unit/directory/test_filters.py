"""The SCIM filter and path language: parsing, precedence, errors, value matching."""

from __future__ import annotations

import pytest

from ssar.directory.filters import (
    And,
    AttrPath,
    Compare,
    FilterError,
    Not,
    Or,
    Present,
    ValuePath,
    matches,
    parse_filter,
    parse_path,
)


def test_simple_comparison_with_escapes_and_urn_prefix() -> None:
    assert parse_filter('userName eq "a\\"b"') == Compare("username", "eq", 'a"b')
    assert parse_filter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"') == Compare(
        "username", "eq", "x"
    )
    assert parse_filter("active eq true") == Compare("active", "eq", True)
    assert parse_filter("title pr") == Present("title")


def test_and_binds_tighter_than_or_and_not_with_parentheses() -> None:
    node = parse_filter('a eq "1" or b eq "2" and not (c eq "3")')
    assert node == Or(
        Compare("a", "eq", "1"), And(Compare("b", "eq", "2"), Not(Compare("c", "eq", "3")))
    )
    grouped = parse_filter('(a eq "1" or b eq "2") and c eq "3"')
    assert isinstance(grouped, And)


def test_value_path_filter() -> None:
    assert parse_filter('members[value eq "id1"]') == ValuePath(
        "members", Compare("value", "eq", "id1")
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        'userName xx "a"',
        "userName eq",
        'userName eq "a" and',
        "userName eq bare",
        '(a eq "1"',
    ],
)
def test_bad_filters_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_paths() -> None:
    assert parse_path("name.givenName") == AttrPath("name", None, "givenname")
    assert parse_path('emails[type eq "work"].value') == AttrPath(
        "emails", Compare("type", "eq", "work"), "value"
    )
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
    assert parse_path(enterprise) == AttrPath(enterprise.lower())
    with pytest.raises(FilterError):
        parse_path('emails[type eq "work"]x')


def test_matches_ignores_case_and_combines() -> None:
    email = {"value": "A@X.example", "type": "Work", "primary": True}
    assert matches(parse_filter('type eq "work"'), email)
    assert matches(parse_filter('value ew "x.EXAMPLE" and primary eq true'), email)
    assert not matches(parse_filter('type eq "home" or not (primary eq true)'), email)
    assert matches(parse_filter("value pr"), email)
    assert not matches(parse_filter("display pr"), email)
