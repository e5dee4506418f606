"""The audit viewer's pure pieces: type families, date bounds, summaries and badge tones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ssar.audit.query import AuditFilter, parse_day, summarise, tone, type_choices


@pytest.mark.parametrize(
    ("value", "prefix"),
    [("recovery.", "recovery."), ("recovery.*", "recovery."), ("tap.issued", None), ("", None)],
)
def test_a_type_ending_in_a_dot_or_star_is_a_family(value: str, prefix: str | None) -> None:
    assert AuditFilter(type=value).type_prefix == prefix


def test_the_filter_is_active_only_with_a_value() -> None:
    assert not AuditFilter().active
    assert AuditFilter(user="ada").active


def test_dates_are_utc_day_bounds_and_until_includes_its_day() -> None:
    assert parse_day("2026-11-23") == datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_day("2026-11-23", end=True) == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_day("2026-11-23T10:30:00") == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    assert parse_day("2026-11-23T10:30:00+02:00") == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert parse_day("  ") is None
    with pytest.raises(ValueError, match="Invalid"):
        parse_day("yesterday")


def test_type_choices_put_each_family_before_its_types() -> None:
    choices = type_choices(["tap.redeemed", "recovery.started", "tap.issued", "signout"])
    assert [value for value, _ in choices] == [
        "recovery.",
        "recovery.started",
        "signout",
        "tap.",
        "tap.issued",
        "tap.redeemed",
    ]
    assert dict(choices)["tap."] == "tap.* (all)"


def test_summaries_leave_out_ids_and_stay_short() -> None:
    data = {
        "flow_id": "3f0c",
        "profile": "Employees",
        "one_time": True,
        "reason": None,
        "usernames": ["a", "b", "c", "d", "e", "f"],
        "changed": {"mode": "production"},
    }
    assert summarise(data) == (
        'profile: Employees; one time: yes; usernames: a, b, c, d, e …; changed: {"mode": '
        '"production"}'
    )
    assert summarise({"expires_at": "2026-11-23T15:57:52.590983+01:00", "at": "T"}) == (
        "expires at: 2026-11-23 14:57; at: T"
    )
    long = summarise({"note": "x" * 300}, width=40)
    assert len(long) == 40
    assert long.endswith("…")
    assert summarise({}) == ""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("signin.failed", "danger"),
        ("recovery.face_check_failed", "danger"),
        ("recovery.account_not_matched", "danger"),
        ("recovery.account_matched", "success"),
        ("signin.succeeded", "success"),
        ("method.removed", "warn"),
        ("tap.issued", "warn"),
        ("tap_policy.updated", "info"),
        ("recovery.started", "muted"),
        ("signout", "muted"),
    ],
)
def test_badge_tones(kind: str, expected: str) -> None:
    assert tone(kind) == expected
