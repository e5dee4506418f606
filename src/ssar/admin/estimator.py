"""The cost-savings estimator: what self-service recovery saves against the helpdesk.

Pure functions over :class:`~decimal.Decimal` (money never goes through a float):

* attempts per month ``R = users × share``; self-served ``S = R × success rate``;
* helpdesk cost avoided ``S × helpdesk cost``; verification cost ``R × cost per check`` (every
  attempt pays for its check, including those that then go to the helpdesk anyway);
* net monthly savings = avoided − verification; yearly = 12 × monthly;
* hours regained ``(S × (helpdesk minutes − self-service minutes) − (R − S) × self-service
  minutes) / 60``: a failed attempt costs its minutes and then the helpdesk's.

The actuals apply the same formula to the organisation's own flows (``R`` = flows started,
``S`` = restored + evaluated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class InputField:
    name: str
    label: str
    hint: str
    minimum: Decimal
    maximum: Decimal
    default: Decimal
    unit: str  # "", "%", "$", "min"
    whole: bool = False  # a count of people: no fraction
    step: str = "any"


FIELDS: tuple[InputField, ...] = (
    InputField(
        "users",
        "Users",
        "People who can recover their account; defaults to the enabled users in the directory.",
        Decimal(1),
        Decimal(100_000_000),
        Decimal(0),  # replaced by the directory's count
        "",
        whole=True,
        step="1",
    ),
    InputField(
        "share_percent",
        "Share needing recovery per month",
        "Typically 1–3 % of users lose their last sign-in method in a month.",
        Decimal(0),
        Decimal(100),
        Decimal(2),
        "%",
        step="0.1",
    ),
    InputField(
        "helpdesk_cost",
        "Helpdesk cost per recovery",
        "Industry average: $60 per identity-verified reset by an agent.",
        Decimal(0),
        Decimal(10_000),
        Decimal(60),
        "$",
        step="0.01",
    ),
    InputField(
        "helpdesk_minutes",
        "Minutes of lost work, helpdesk",
        "Time the person cannot work while waiting for and talking to the helpdesk.",
        Decimal(0),
        Decimal(10_080),
        Decimal(60),
        "min",
        step="1",
    ),
    InputField(
        "self_service_minutes",
        "Minutes of lost work, self-service",
        "Time a self-service recovery takes: credential, face check, new passkey.",
        Decimal(0),
        Decimal(10_080),
        Decimal(5),
        "min",
        step="1",
    ),
    InputField(
        "check_cost",
        "Verification cost per check",
        "An assumption: what your verification provider charges per check. Edit it.",
        Decimal(0),
        Decimal(1_000),
        Decimal("1.50"),
        "$",
        step="0.01",
    ),
    InputField(
        "success_percent",
        "Self-service success rate",
        "Attempts that end in a recovery; the rest still call the helpdesk.",
        Decimal(0),
        Decimal(100),
        Decimal(90),
        "%",
        step="1",
    ),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class EstimateInputs:
    users: int
    share_percent: Decimal
    helpdesk_cost: Decimal
    helpdesk_minutes: Decimal
    self_service_minutes: Decimal
    check_cost: Decimal
    success_percent: Decimal


def defaults(*, users: int) -> EstimateInputs:
    values = {f.name: f.default for f in FIELDS}
    return EstimateInputs(
        users=max(int(FIELD_BY_NAME["users"].minimum), users),
        share_percent=values["share_percent"],
        helpdesk_cost=values["helpdesk_cost"],
        helpdesk_minutes=values["helpdesk_minutes"],
        self_service_minutes=values["self_service_minutes"],
        check_cost=values["check_cost"],
        success_percent=values["success_percent"],
    )


def _number(field: InputField, raw: str) -> Decimal:
    """``raw`` as a number within the field's limits, or ValueError with the message to show."""
    text = raw.strip().replace(",", "").replace("$", "").replace("%", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter a number.") from None
    if not value.is_finite():
        raise ValueError("Enter a number.")
    if field.whole and value != value.to_integral_value():
        raise ValueError("Enter a whole number.")
    if value < field.minimum:
        raise ValueError(f"Must be at least {plain(field.minimum)}.")
    if value > field.maximum:
        raise ValueError(f"Must be at most {plain(field.maximum)}.")
    return value


def parse_inputs(
    raw: Mapping[str, str | None], *, default_users: int
) -> tuple[EstimateInputs, dict[str, str]]:
    """The inputs from a form or query (blank fields take their default) and an error message
    per refused field (a refused field also takes its default, so a result is still shown)."""
    base = defaults(users=default_users)
    values: dict[str, Decimal] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        text = raw.get(field.name)
        if text is None or not text.strip():
            continue
        try:
            values[field.name] = _number(field, text)
        except ValueError as exc:
            errors[field.name] = str(exc)
    inputs = EstimateInputs(
        users=int(values.get("users", Decimal(base.users))),
        share_percent=values.get("share_percent", base.share_percent),
        helpdesk_cost=values.get("helpdesk_cost", base.helpdesk_cost),
        helpdesk_minutes=values.get("helpdesk_minutes", base.helpdesk_minutes),
        self_service_minutes=values.get("self_service_minutes", base.self_service_minutes),
        check_cost=values.get("check_cost", base.check_cost),
        success_percent=values.get("success_percent", base.success_percent),
    )
    return inputs, errors


@dataclass(frozen=True)
class Savings:
    """A month of recoveries, rounded for people: money to the cent, hours to a tenth."""

    attempts: Decimal  # recovery attempts per month
    self_served: Decimal  # of which recovered without the helpdesk
    helpdesk_cost_avoided: Decimal
    verification_cost: Decimal
    net_monthly: Decimal
    net_yearly: Decimal
    hours_regained: Decimal


def savings(*, attempts: Decimal, self_served: Decimal, inputs: EstimateInputs) -> Savings:
    if attempts < 0 or self_served < 0 or self_served > attempts:
        raise ValueError("self-served recoveries must be between 0 and the attempts")
    avoided = self_served * inputs.helpdesk_cost
    verification = attempts * inputs.check_cost
    net = avoided - verification
    minutes = (
        self_served * (inputs.helpdesk_minutes - inputs.self_service_minutes)
        - (attempts - self_served) * inputs.self_service_minutes
    )
    return Savings(
        attempts=attempts,
        self_served=self_served,
        helpdesk_cost_avoided=_money(avoided),
        verification_cost=_money(verification),
        net_monthly=_money(net),
        net_yearly=_money(net * 12),
        hours_regained=(minutes / 60).quantize(TENTH, ROUND_HALF_UP),
    )


def project(inputs: EstimateInputs) -> Savings:
    """The projection for a month from the inputs."""
    attempts = Decimal(inputs.users) * inputs.share_percent / HUNDRED
    return savings(
        attempts=attempts,
        self_served=attempts * inputs.success_percent / HUNDRED,
        inputs=inputs,
    )


def from_actuals(*, started: int, recovered: int, inputs: EstimateInputs) -> Savings:
    """The same formula over real flows: ``started`` attempts of which ``recovered`` restored
    (or, in evaluation mode, would have)."""
    return savings(attempts=Decimal(started), self_served=Decimal(recovered), inputs=inputs)


def formula(inputs: EstimateInputs, result: Savings) -> str:
    """The projection's arithmetic with the numbers substituted, for the ``.formula`` block."""
    r, s = result.attempts, result.self_served
    return "\n".join(
        (
            f"Attempts per month   R = {inputs.users:,} users × {plain(inputs.share_percent)} %"
            f" = {_count(r)}",
            f"Self-served          S = R × {plain(inputs.success_percent)} % success = {_count(s)}",
            f"Helpdesk avoided       = S × {dollars(inputs.helpdesk_cost)}"
            f" = {dollars(result.helpdesk_cost_avoided)}",
            f"Verification cost      = R × {dollars(inputs.check_cost)} per check"
            f" = {dollars(result.verification_cost)}",
            f"Net monthly savings    = {dollars(result.helpdesk_cost_avoided)}"
            f" − {dollars(result.verification_cost)} = {dollars(result.net_monthly)}",
            f"Net yearly savings     = 12 × {dollars(result.net_monthly)}"
            f" = {dollars(result.net_yearly)}",
            f"Hours regained         = (S × ({plain(inputs.helpdesk_minutes)} −"
            f" {plain(inputs.self_service_minutes)}) − (R − S) ×"
            f" {plain(inputs.self_service_minutes)}) min ÷ 60 = {hours(result.hours_regained)}",
        )
    )


# --- formatting -------------------------------------------------------------------------------


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """A number without trailing zeros or exponent: 2.50 → 2.5, 1E+2 → 100."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _count(value: Decimal) -> str:
    rounded = value.quantize(CENT, ROUND_HALF_UP)
    whole, _, frac = f"{rounded:,f}".partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def field_value(field: InputField, value: Decimal | int) -> str:
    """An input's value for its form field: money with cents, anything else as typed."""
    if field.unit == "$":
        return f"{Decimal(value).quantize(CENT, ROUND_HALF_UP)}"
    return plain(Decimal(value))


def count(value: Decimal) -> str:
    """Recoveries for people: up to two decimals, grouped thousands (24.68, 1,200)."""
    return _count(value)


def dollars(value: Decimal) -> str:
    """Money for people: $1,234.50, −$12.00."""
    amount = _money(value)
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def hours(value: Decimal) -> str:
    amount = value.quantize(TENTH, ROUND_HALF_UP)
    return f"{amount:,.1f} h"
