"""Recovery reports: the funnel, the failure reasons, the outcomes per day and the case records.

Every figure is counted by the database (``GROUP BY`` with ``CASE`` sums), never by loading the
flows, so a report over a hundred thousand flows stays one or two indexed scans of
``recovery_flows.created_at``. The stage a flow reached is derived from columns the recovery
service writes at each step (see ``ssar.recovery.service``):

* **credential verified** — ``issuer`` is set in the same transaction as the ``verified`` event;
* **face matched** — the profile needs no face check, or a face check passed: a pass resets the
  consecutive failures to 0 and leaves its score, while every scored failure counts one failure
  (only ``challenge_expired`` does not, and it has no score);
* **account validated** — ``evidence_hash`` is bound only when the decision passed (R10);
* **restored** — ``tap_method_id`` is set by restoration (it survives ``completed`` and the
  expiry of an untaken pass); **evaluated** — the state ``evaluated`` (R4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from ssar.errors import NotFound
from ssar.store.db import Database
from ssar.store.tables import RecoveryFlowRow, UserRow

F = RecoveryFlowRow

#: the funnel, in order: (key, label)
STAGES: tuple[tuple[str, str], ...] = (
    ("started", "Started"),
    ("verified", "Credential verified"),
    ("face_matched", "Face matched"),
    ("validated", "Account validated"),
    ("restored", "Restored"),
    ("evaluated", "Evaluated"),
)
#: what became of a flow: (key, label)
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("restored", "Restored"),
    ("evaluated", "Evaluated"),
    ("failed", "Failed"),
    ("abandoned", "Expired or cancelled"),
    ("in_progress", "In progress"),
)
OUTCOME_KEYS = frozenset(key for key, _ in OUTCOMES)
MODES = ("evaluation", "production")
#: where a flow that did not finish stopped: (key, label)
STOPPED_AT: dict[str, str] = {
    "verification": "Identity verification",
    "face": "Face check",
    "validation": "Account validation",
    "decision": "Decision",
}
DEFAULT_DAYS = 30
MAX_DAYS = 366
#: report dates outside these are refused (a range computed around year 1 or 9999 overflows)
EARLIEST = date(2000, 1, 1)
LATEST = date(9000, 12, 31)
#: deeper pages than this are clamped (an OFFSET past 64 bits is a server error)
MAX_PAGE = 1_000_000
PAGE_SIZE = 25

#: reason codes people read in the reports; anything else is shown as its code in words
REASONS: dict[str, str] = {
    "not_eligible": "Not eligible (no profile, unknown, disabled or locked account)",
    "evidence_reused": "Identity evidence already recovered another account",
    "not_matched": "Credential does not match the account",
    "ambiguous_namesakes": "Namesakes in the directory could not be told apart",
    "extension_failed": "Refused by the custom extension",
    "face_check_failed": "Face did not match after the allowed attempts",
    "portrait_missing": "Credential has no portrait",
    "untrusted_issuer": "Credential from an untrusted issuer",
    "revoked": "Credential revoked",
    "suspended": "Credential suspended",
    "status_unavailable": "Credential status could not be checked",
    "malformed": "Malformed presentation",
    "provider_error": "Verification provider error",
    "transaction_expired": "Presentation request expired",
    "wallet_error": "Wallet reported an error",
    "bad_signature": "Credential signature invalid",
    "key_binding_invalid": "Holder binding invalid",
    "key_binding_missing": "Holder binding missing",
}
CHECKS: dict[str, str] = {
    "profile": "Profile",
    "provider": "Verification provider",
    "credential": "Credential",
    "face": "Face check",
    "eligibility": "Eligibility",
    "evidence": "Evidence not reused",
    "account_match": "Account match",
    "extension": "Custom extension",
    "restoration": "Restoration",
    "decision": "Decision",
    "tap": "Temporary Access Pass",
}
_TONES: dict[str, str] = {
    "passed": "success",
    "applies": "success",
    "restored": "success",
    "shown": "success",
    "failed": "danger",
    "not_eligible": "danger",
    "evaluated": "info",
}


def reason_label(reason: str | None, state: str | None = None) -> str:
    """A reason code in words; ``expired``/``cancelled`` flows read as what happened to them."""
    if state == "expired":
        return "Timed out before finishing"
    if state == "cancelled":
        return "Cancelled by the person"
    if not reason:
        return "—"
    return REASONS.get(reason) or reason.replace("_", " ").capitalize()


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilter:
    """A date range (UTC days, both ends included) and optionally one profile and one mode."""

    start: date
    end: date
    profile: str | None = None
    mode: str | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **extra: str | int | None) -> str:
        """The filter as a query string (for chart URLs and the pager)."""
        from urllib.parse import urlencode

        values: dict[str, str | int | None] = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "profile": self.profile,
            "mode": self.mode,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def default_filter(today: date, days: int = DEFAULT_DAYS) -> ReportFilter:
    return ReportFilter(start=today - timedelta(days=days - 1), end=today)


def parse_filter(
    params: Mapping[str, str | None], *, today: date
) -> tuple[ReportFilter, dict[str, str]]:
    """The filter from query parameters (``from``, ``to``, ``profile``, ``mode``) and an error
    per field it could not use (that field falls back to its default)."""
    errors: dict[str, str] = {}
    default = default_filter(today)

    def day(name: str, fallback: date) -> date:
        raw = (params.get(name) or "").strip()
        if not raw:
            return fallback
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            errors[name] = "Enter a date as YYYY-MM-DD."
            return fallback
        if not EARLIEST <= value <= LATEST:
            errors[name] = f"Choose a date from {EARLIEST} to {LATEST}."
            return fallback
        return value

    end = day("to", default.end)
    start = day("from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        errors["from"] = "The start must be on or before the end."
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    elif (end - start).days + 1 > MAX_DAYS:
        errors["from"] = f"Choose at most {MAX_DAYS} days."
        start = end - timedelta(days=MAX_DAYS - 1)
    mode = (params.get("mode") or "").strip() or None
    if mode is not None and mode not in MODES:
        errors["mode"] = "Choose evaluation or production."
        mode = None
    profile = (params.get("profile") or "").strip()[:128] or None
    return ReportFilter(start=start, end=end, profile=profile, mode=mode), errors


def _where(flt: ReportFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [F.created_at >= flt.since, F.created_at < flt.until]
    if flt.profile is not None:
        clauses.append(F.profile_name == flt.profile)
    if flt.mode is not None:
        clauses.append(F.mode == flt.mode)
    return clauses


# --- the stage and outcome of a flow, as SQL --------------------------------------------------


def _verified() -> ColumnElement[bool]:
    return F.issuer.is_not(None)


def _face_passed() -> ColumnElement[bool]:
    return and_(F.face_attempts > 0, F.face_failures == 0, F.face_score.is_not(None))


def _face_matched() -> ColumnElement[bool]:
    return and_(_verified(), or_(F.face_required.is_(False), _face_passed()))


def _validated() -> ColumnElement[bool]:
    return F.evidence_hash.is_not(None)


def _restored() -> ColumnElement[bool]:
    return F.tap_method_id.is_not(None)


def _evaluated() -> ColumnElement[bool]:
    return F.state == "evaluated"


def _outcome() -> ColumnElement[str]:
    return case(
        (_restored(), "restored"),
        (_evaluated(), "evaluated"),
        (F.state == "failed", "failed"),
        (F.state.in_(("expired", "cancelled")), "abandoned"),
        else_="in_progress",
    )


def _stopped_at() -> ColumnElement[str]:
    return case(
        (~_verified(), "verification"),
        (~_face_matched(), "face"),
        (~_validated(), "validation"),
        else_="decision",
    )


def _outcome_clause(outcome: str) -> ColumnElement[bool]:
    return {
        "restored": _restored(),
        "evaluated": _evaluated(),
        "failed": F.state == "failed",
        "abandoned": and_(F.state.in_(("expired", "cancelled")), ~_restored()),
        "in_progress": and_(
            ~_restored(), F.state.not_in(("evaluated", "failed", "expired", "cancelled"))
        ),
    }[outcome]


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _stage_sums() -> list[Any]:
    return [
        func.count(),
        _count(_verified()),
        _count(_face_matched()),
        _count(_validated()),
        _count(_restored()),
        _count(_evaluated()),
    ]


def _day(session: Session) -> Any:
    """The UTC calendar day of ``created_at`` (SQLite stores UTC; PostgreSQL is told)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", F.created_at))
    return func.date(F.created_at)


# --- the funnel report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    count: int
    percent: float  # of the flows started


@dataclass(frozen=True)
class FailureReason:
    reason: str
    state: str  # failed | expired | cancelled
    stage: str  # where it stopped (``STOPPED_AT``)
    label: str
    count: int

    @property
    def stage_label(self) -> str:
        return STOPPED_AT[self.stage]


@dataclass(frozen=True)
class DayOutcomes:
    day: date
    counts: dict[str, int]  # by outcome key

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ProfileFunnel:
    profile: str | None
    mode: str
    counts: dict[str, int]  # by stage key


@dataclass(frozen=True)
class FunnelReport:
    filter: ReportFilter
    stages: list[Stage]
    outcomes: dict[str, int]
    reasons: list[FailureReason]
    days: list[DayOutcomes]
    profiles: list[ProfileFunnel] = field(default_factory=list)

    @property
    def started(self) -> int:
        return self.stages[0].count

    def stage(self, key: str) -> int:
        return next(s.count for s in self.stages if s.key == key)


def _stages(counts: Sequence[int]) -> list[Stage]:
    started = counts[0]
    return [
        Stage(key, label, n, round(100.0 * n / started, 1) if started else 0.0)
        for (key, label), n in zip(STAGES, counts, strict=True)
    ]


def funnel(database: Database, flt: ReportFilter) -> FunnelReport:
    """The funnel, outcomes, failure reasons, outcomes per day and the funnel per profile."""
    where = _where(flt)
    with database.transaction() as session:
        per_profile = session.execute(
            select(F.profile_name, F.mode, *_stage_sums())
            .where(*where)
            .group_by(F.profile_name, F.mode)
            .order_by(func.count().desc(), F.profile_name, F.mode)
        ).all()
        outcome = _outcome()
        by_outcome = dict(
            session.execute(select(outcome, func.count()).where(*where).group_by(outcome)).all()
        )
        stopped = _stopped_at()
        reasons = session.execute(
            select(F.reason, F.state, stopped, func.count())
            .where(*where, F.state.in_(("failed", "expired", "cancelled")), ~_restored())
            .group_by(F.reason, F.state, stopped)
            .order_by(func.count().desc(), F.reason)
        ).all()
        day = _day(session)
        daily = session.execute(
            select(day, outcome, func.count()).where(*where).group_by(day, outcome)
        ).all()
    profiles = [
        ProfileFunnel(
            profile=name,
            mode=mode,
            counts={key: int(n) for (key, _), n in zip(STAGES, sums, strict=True)},
        )
        for name, mode, *sums in per_profile
    ]
    totals = [sum(p.counts[key] for p in profiles) for key, _ in STAGES]
    by_day: dict[date, dict[str, int]] = {}
    for raw_day, key, n in daily:
        when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        by_day.setdefault(when, {k: 0 for k, _ in OUTCOMES})[key] = int(n)
    days = [
        DayOutcomes(
            flt.start + timedelta(days=i),
            by_day.get(flt.start + timedelta(days=i), {k: 0 for k, _ in OUTCOMES}),
        )
        for i in range(flt.days)
    ]
    return FunnelReport(
        filter=flt,
        stages=_stages(totals),
        outcomes={key: int(by_outcome.get(key, 0)) for key, _ in OUTCOMES},
        reasons=[
            FailureReason(
                reason=reason or state,
                state=state,
                stage=stage,
                label=reason_label(reason, state),
                count=int(n),
            )
            for reason, state, stage, n in reasons
        ],
        days=days,
        profiles=profiles,
    )


def profile_names(database: Database, extra: Sequence[str] = ()) -> list[str]:
    """Profile names to filter by: the configured ones and any a flow was recorded under."""
    with database.transaction() as session:
        recorded = session.execute(
            select(F.profile_name).where(F.profile_name.is_not(None)).distinct()
        ).scalars()
        return sorted({*extra, *(name for name in recorded if name)}, key=str.casefold)


# --- case lists and case records --------------------------------------------------------------


@dataclass(frozen=True)
class CaseSummary:
    id: str
    created_at: datetime
    account: str
    profile: str | None
    mode: str
    state: str
    outcome: str
    reason: str | None
    reason_label: str
    stage: str  # the furthest funnel stage reached (key of ``STAGES``)
    face_score: float | None
    disputed: bool

    @property
    def stage_label(self) -> str:
        return dict(STAGES)[self.stage]


def _furthest(verified: bool, face: bool, validated: bool, restored: bool, evaluated: bool) -> str:
    for key, reached in (
        ("restored", restored),
        ("evaluated", evaluated),
        ("validated", validated),
        ("face_matched", face),
        ("verified", verified),
    ):
        if reached:
            return key
    return "started"


def case_list(
    database: Database, flt: ReportFilter, *, outcome: str | None = None, page: int = 1
) -> tuple[list[CaseSummary], bool]:
    """One page of cases, newest first, and whether an older page exists."""
    where = _where(flt)
    if outcome is not None:
        where.append(_outcome_clause(outcome))
    page = min(max(1, page), MAX_PAGE)
    with database.transaction() as session:
        rows = session.execute(
            select(
                F.id,
                F.created_at,
                F.account,
                F.profile_name,
                F.mode,
                F.state,
                F.reason,
                F.face_score,
                F.disputed_at,
                _outcome(),
                _verified(),
                _face_matched(),
                _validated(),
                _restored(),
                _evaluated(),
            )
            .where(*where)
            .order_by(F.created_at.desc(), F.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
    cases = [
        CaseSummary(
            id=r[0],
            created_at=r[1],
            account=r[2],
            profile=r[3],
            mode=r[4],
            state=r[5],
            outcome=r[9],
            reason=r[6],
            reason_label=reason_label(r[6], r[5]) if r[9] in ("failed", "abandoned") else "",
            stage=_furthest(*(bool(v) for v in r[10:15])),
            face_score=r[7],
            disputed=r[8] is not None,
        )
        for r in rows[:PAGE_SIZE]
    ]
    return cases, len(rows) > PAGE_SIZE


@dataclass(frozen=True)
class CheckEntry:
    at: str | None
    check: str
    label: str
    outcome: str
    tone: str
    detail: str
    score: float | None
    facts: list[tuple[str, str]]  # the check's other recorded values, in words


@dataclass(frozen=True)
class CaseDetail:
    id: str
    account: str
    user_id: str | None
    username: str | None
    user_display_name: str | None
    eligibility: str
    profile: str | None
    mode: str
    provider: str
    issuer: str | None
    credential_type: str | None
    state: str
    outcome: str
    reason: str | None
    reason_label: str
    stage: str
    face_required: bool
    face_threshold: int
    face_attempts: int
    face_score: float | None
    ip: str | None
    user_agent: str | None
    created_at: datetime
    finished_at: datetime | None
    disputed_at: datetime | None
    checks: list[CheckEntry]

    @property
    def stage_label(self) -> str:
        return dict(STAGES)[self.stage]

    @property
    def face_passed(self) -> bool | None:
        if self.face_score is None:
            return None
        return self.face_score >= self.face_threshold


def _words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if all(isinstance(v, Mapping) for v in value):
            return "; ".join(_claim_words(v) for v in value) or "none"
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_words(v)}" for k, v in value.items())
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def _claim_words(claim: Mapping[str, Any]) -> str:
    if "claim" in claim and "attribute" in claim:
        return f"{claim['claim']} → {claim['attribute']}: {_words(claim.get('outcome'))}"
    return _words(dict(claim))


def check_entry(raw: Mapping[str, Any]) -> CheckEntry:
    """One entry of a flow's ``checks`` in words: its outcome's tone, detail and other values."""
    name = str(raw.get("check", "?"))
    outcome = str(raw.get("outcome", "—"))
    detail = raw.get("detail")
    score = raw.get("score")
    facts = [
        (key.replace("_", " ").capitalize(), _words(value))
        for key, value in raw.items()
        if key not in ("at", "check", "outcome", "detail", "score") and value not in (None, "")
    ]
    return CheckEntry(
        at=str(raw["at"]) if raw.get("at") else None,
        check=name,
        label=CHECKS.get(name) or name.replace("_", " ").capitalize(),
        outcome=outcome,
        tone=_TONES.get(outcome, "muted"),
        detail=reason_label(str(detail)) if detail not in (None, "") else "",
        score=float(score) if isinstance(score, int | float) else None,
        facts=facts,
    )


def case_detail(database: Database, case_id: str) -> CaseDetail:
    """The full record of one recovery case (no claims, no images: the flow keeps none)."""
    with database.transaction() as session:
        row = session.execute(
            select(F, _outcome(), _verified(), _face_matched(), _validated(), _restored()).where(
                F.id == case_id
            )
        ).one_or_none()
        if row is None:
            raise NotFound("no such recovery case")
        flow: RecoveryFlowRow = row[0]
        user = session.get(UserRow, flow.user_id) if flow.user_id else None
        outcome = str(row[1])
        return CaseDetail(
            id=flow.id,
            account=flow.account,
            user_id=flow.user_id,
            username=user.username if user is not None else None,
            user_display_name=user.display_name if user is not None else None,
            eligibility=flow.eligibility,
            profile=flow.profile_name,
            mode=flow.mode,
            provider=flow.provider,
            issuer=flow.issuer,
            credential_type=flow.credential_type,
            state=flow.state,
            outcome=outcome,
            reason=flow.reason,
            reason_label=reason_label(flow.reason, flow.state),
            stage=_furthest(
                bool(row[2]), bool(row[3]), bool(row[4]), bool(row[5]), flow.state == "evaluated"
            ),
            face_required=flow.face_required,
            face_threshold=flow.face_threshold,
            face_attempts=flow.face_attempts,
            face_score=flow.face_score,
            ip=flow.ip,
            user_agent=flow.user_agent,
            created_at=flow.created_at,
            finished_at=flow.finished_at,
            disputed_at=flow.disputed_at,
            checks=[check_entry(c) for c in flow.checks or [] if isinstance(c, Mapping)],
        )


# --- figures for the cost-savings estimator ---------------------------------------------------


@dataclass(frozen=True)
class RecoveryActuals:
    since: datetime
    until: datetime
    started: int
    restored: int
    evaluated: int
    failed: int


def actuals(database: Database, *, since: datetime, until: datetime) -> RecoveryActuals:
    """How the organisation's own flows ended between ``since`` and ``until``."""
    outcome = _outcome()
    with database.transaction() as session:
        counts = dict(
            session.execute(
                select(outcome, func.count())
                .where(F.created_at >= since, F.created_at < until)
                .group_by(outcome)
            ).all()
        )
    return RecoveryActuals(
        since=since,
        until=until,
        started=int(sum(counts.values())),
        restored=int(counts.get("restored", 0)),
        evaluated=int(counts.get("evaluated", 0)),
        failed=int(counts.get("failed", 0)),
    )
