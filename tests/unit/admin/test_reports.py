"""The reports' pure parts: the filter from query parameters, reason labels and a check entry
in words (issue #7, item 4)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ssar.admin import reports

TODAY = date(2026, 3, 31)


def test_default_filter_is_the_last_30_days_including_today() -> None:
    flt, errors = reports.parse_filter({}, today=TODAY)
    assert errors == {}
    assert flt.start == date(2026, 3, 2)
    assert flt.end == TODAY
    assert flt.days == 30
    assert flt.since == datetime(2026, 3, 2, tzinfo=UTC)
    assert flt.until == datetime(2026, 4, 1, tzinfo=UTC)  # the end day is included


def test_filter_from_parameters_and_its_query_string() -> None:
    flt, errors = reports.parse_filter(
        {"from": "2026-01-01", "to": "2026-01-31", "profile": " Staff ", "mode": "evaluation"},
        today=TODAY,
    )
    assert errors == {}
    assert (flt.start, flt.end, flt.profile, flt.mode) == (
        date(2026, 1, 1),
        date(2026, 1, 31),
        "Staff",
        "evaluation",
    )
    assert flt.query(page=2) == "from=2026-01-01&to=2026-01-31&profile=Staff&mode=evaluation&page=2"


def test_bad_parameters_fall_back_with_an_error_each() -> None:
    flt, errors = reports.parse_filter(
        {"from": "31/01/2026", "to": "soon", "mode": "live"}, today=TODAY
    )
    assert errors == {
        "from": "Enter a date as YYYY-MM-DD.",
        "to": "Enter a date as YYYY-MM-DD.",
        "mode": "Choose evaluation or production.",
    }
    assert flt == reports.default_filter(TODAY)


def test_reversed_or_too_long_ranges_are_refused() -> None:
    flt, errors = reports.parse_filter({"from": "2026-03-10", "to": "2026-03-01"}, today=TODAY)
    assert errors == {"from": "The start must be on or before the end."}
    assert flt.end == date(2026, 3, 1)
    flt, errors = reports.parse_filter({"from": "2020-01-01"}, today=TODAY)
    assert errors == {"from": f"Choose at most {reports.MAX_DAYS} days."}
    assert flt.days == reports.MAX_DAYS


def test_reason_labels() -> None:
    assert reports.reason_label("face_check_failed") == (
        "Face did not match after the allowed attempts"
    )
    assert reports.reason_label("some_new_code") == "Some new code"
    assert reports.reason_label("expired", "expired") == "Timed out before finishing"
    assert reports.reason_label("expired", "failed") == "Expired"  # the credential's expiry
    assert reports.reason_label(None) == "—"


def test_check_entry_in_words() -> None:
    entry = reports.check_entry(
        {
            "at": "2026-03-01T10:00:00+00:00",
            "check": "account_match",
            "outcome": "failed",
            "detail": "not_matched",
            "rule": "exact",
            "claims": [
                {
                    "claim": "family_name",
                    "attribute": "family_name",
                    "outcome": "family_name_mismatch",
                }
            ],
            "namesakes": 0,
        }
    )
    assert entry.label == "Account match"
    assert entry.tone == "danger"
    assert entry.detail == "Credential does not match the account"
    assert entry.score is None
    assert entry.facts == [
        ("Rule", "exact"),
        ("Claims", "family_name → family_name: family name mismatch"),
        ("Namesakes", "0"),
    ]
    face = reports.check_entry(
        {"check": "face", "outcome": "passed", "detail": "matched", "score": 91, "attempt": 2}
    )
    assert (face.tone, face.score, face.facts) == ("success", 91.0, [("Attempt", "2")])
    evaluated = reports.check_entry({"check": "decision", "outcome": "evaluated"})
    assert (evaluated.label, evaluated.tone, evaluated.detail) == ("Decision", "info", "")


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_report_dates_far_from_now_are_refused_not_overflowed(value: str) -> None:
    from ssar.admin.reports import parse_filter

    for name in ("from", "to"):
        flt, errors = parse_filter({name: value}, today=date(2026, 11, 23))
        assert name in errors
        assert flt.end == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("top", "ticks"),
    [(0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (5, [0, 1, 2, 3, 4, 5]), (12, [0, 3, 6, 9, 12])],
)
def test_chart_axes_count_in_whole_numbers(top: int, ticks: list[int]) -> None:
    from ssar.admin.charts import count_ticks

    assert count_ticks(top) == ticks
