"""The cost-savings estimator's arithmetic, rounding and input validation (issue #7, item 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ssar.admin import estimator
from ssar.admin.estimator import EstimateInputs, parse_inputs, project


def inputs(**overrides: object) -> EstimateInputs:
    values: dict[str, object] = {
        "users": 1000,
        "share_percent": Decimal(2),
        "helpdesk_cost": Decimal(60),
        "helpdesk_minutes": Decimal(60),
        "self_service_minutes": Decimal(5),
        "check_cost": Decimal("1.50"),
        "success_percent": Decimal(100),
    }
    values.update(overrides)
    return EstimateInputs(**values)  # type: ignore[arg-type]


def test_projection_with_every_attempt_succeeding() -> None:
    result = project(inputs())
    assert result.attempts == 20
    assert result.self_served == 20
    assert result.helpdesk_cost_avoided == Decimal("1200.00")
    assert result.verification_cost == Decimal("30.00")
    assert result.net_monthly == Decimal("1170.00")
    assert result.net_yearly == Decimal("14040.00")
    assert result.hours_regained == Decimal("18.3")  # 20 × 55 min = 1100 min


def test_failed_attempts_pay_their_check_and_their_minutes() -> None:
    result = project(inputs(success_percent=Decimal(90)))
    assert result.self_served == 18
    assert result.helpdesk_cost_avoided == Decimal("1080.00")
    assert result.verification_cost == Decimal("30.00")  # all 20 attempts
    # (18 × 55 − 2 × 5) / 60 = 980 / 60
    assert result.hours_regained == Decimal("16.3")


def test_money_rounds_half_up_to_the_cent_and_hours_to_a_tenth() -> None:
    result = project(inputs(users=333, share_percent=Decimal("1.5"), check_cost=Decimal("0.35")))
    assert result.attempts == Decimal("4.995")
    assert result.verification_cost == Decimal("1.75")  # 1.74825 → 1.75
    assert result.helpdesk_cost_avoided == Decimal("299.70")
    assert result.net_monthly == Decimal("297.95")
    assert result.net_yearly == Decimal("3575.42")  # 12 × 297.95175, rounded once
    assert result.hours_regained == Decimal("4.6")  # 4.995 × 55 / 60 = 4.57875


def test_net_savings_can_be_negative_when_checks_cost_more() -> None:
    result = project(inputs(helpdesk_cost=Decimal(1), check_cost=Decimal(5)))
    assert result.net_monthly == Decimal("-80.00")
    assert estimator.dollars(result.net_monthly) == "−$80.00"


def test_actuals_use_the_same_formula() -> None:
    result = estimator.from_actuals(started=10, recovered=7, inputs=inputs())
    assert result.helpdesk_cost_avoided == Decimal("420.00")
    assert result.verification_cost == Decimal("15.00")
    assert result.hours_regained == Decimal("6.2")  # (7 × 55 − 3 × 5) / 60 = 370 / 60
    with pytest.raises(ValueError, match="self-served"):
        estimator.from_actuals(started=2, recovered=3, inputs=inputs())


def test_blank_inputs_take_the_defaults_and_users_the_directory_count() -> None:
    parsed, errors = parse_inputs({"users": "", "share_percent": None}, default_users=4321)
    assert errors == {}
    assert parsed == EstimateInputs(
        users=4321,
        share_percent=Decimal(2),
        helpdesk_cost=Decimal(60),
        helpdesk_minutes=Decimal(60),
        self_service_minutes=Decimal(5),
        check_cost=Decimal("1.50"),
        success_percent=Decimal(90),
    )


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("users", "-5", "Must be at least 1."),
        ("users", "2.5", "Enter a whole number."),
        ("users", "1e12", "Must be at most 100000000."),
        ("share_percent", "150", "Must be at most 100."),
        ("share_percent", "-1", "Must be at least 0."),
        ("helpdesk_cost", "abc", "Enter a number."),
        ("helpdesk_cost", "NaN", "Enter a number."),
        ("helpdesk_cost", "Infinity", "Enter a number."),
        ("helpdesk_minutes", "20000", "Must be at most 10080."),
        ("check_cost", "-0.01", "Must be at least 0."),
        ("success_percent", "101", "Must be at most 100."),
    ],
)
def test_absurd_or_negative_values_are_refused_per_field(
    field: str, raw: str, message: str
) -> None:
    parsed, errors = parse_inputs({field: raw}, default_users=100)
    assert errors == {field: message}
    default = estimator.defaults(users=100)
    assert getattr(parsed, field) == getattr(default, field)  # the result uses the default


def test_inputs_may_be_written_as_people_do() -> None:
    parsed, errors = parse_inputs(
        {"users": "12,000", "helpdesk_cost": "$75.50", "share_percent": "1.5%"}, default_users=1
    )
    assert errors == {}
    assert parsed.users == 12000
    assert parsed.helpdesk_cost == Decimal("75.50")
    assert parsed.share_percent == Decimal("1.5")


def test_formula_shows_the_numbers_substituted() -> None:
    chosen = inputs(users=12000, success_percent=Decimal(90))
    text = estimator.formula(chosen, project(chosen))
    assert "R = 12,000 users × 2 % = 240" in text
    assert "S = R × 90 % success = 216" in text
    assert "= S × $60.00 = $12,960.00" in text
    assert "= R × $1.50 per check = $360.00" in text
    assert "= $12,960.00 − $360.00 = $12,600.00" in text
    assert "12 × $12,600.00 = $151,200.00" in text
    assert "(S × (60 − 5) − (R − S) × 5) min ÷ 60 = 196.0 h" in text


def test_formatting() -> None:
    assert estimator.count(Decimal("24.675")) == "24.68"
    assert estimator.count(Decimal("1200.0")) == "1,200"
    assert estimator.hours(Decimal("1234.56")) == "1,234.6 h"
    assert estimator.dollars(Decimal("1234.5")) == "$1,234.50"
    field = estimator.FIELD_BY_NAME["check_cost"]
    assert estimator.field_value(field, Decimal("1.5")) == "1.50"
    assert estimator.field_value(estimator.FIELD_BY_NAME["share_percent"], Decimal("2.50")) == "2.5"
