"""Recovery reports in the admin center: the funnel, failure reasons and days counted by the
database from seeded flows, the charts as SVG with their own policy, the case list and each
case's check-by-check record, the JSON API, and one report over real flows (issue #7, item 4)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest

from ssar.admin import reports
from ssar.registry import Registry
from ssar.store.tables import RecoveryFlowRow
from tests.integration.recovery.conftest import Harness, harness  # noqa: F401 (fixture)
from tests.support.admin import admin_browser
from tests.support.web import INLINE

#: how each kind of seeded flow ends: its state, reason and the checks it recorded
KINDS = (
    "restored",
    "completed",
    "evaluated",
    "failed_credential",
    "failed_face",
    "failed_match",
    "expired",
    "cancelled",
    "face_checking",
)


def seed_flow(
    registry: Registry,
    kind: str,
    *,
    account: str = "erika",
    profile: str | None = "Employees",
    mode: str = "production",
    created_at: datetime | None = None,
    face_required: bool = True,
    user_id: str | None = None,
    ip: str = "203.0.113.7",
) -> str:
    """One recovery flow row as the recovery service leaves it after ``kind`` (see KINDS)."""
    now = created_at or registry.clock.now()
    at = now.isoformat()
    checks: list[dict[str, Any]] = [
        {"at": at, "check": "profile", "outcome": "applies", "detail": "applies"}
    ]
    fields: dict[str, Any] = {"state": kind, "reason": None}
    verified = kind not in ("failed_credential", "expired", "cancelled")
    if kind == "failed_credential":
        checks.append(
            {"at": at, "check": "credential", "outcome": "failed", "detail": "untrusted_issuer"}
        )
        fields.update(state="failed", reason="untrusted_issuer")
    if verified:
        fields.update(issuer="https://issuer.example", credential_type="urn:eudi:pid:1")
        checks.append(
            {
                "at": at,
                "check": "credential",
                "outcome": "passed",
                "issuer": "https://issuer.example",
                "format": "dc+sd-jwt",
                "type": "urn:eudi:pid:1",
            }
        )
    if verified and face_required and kind != "face_checking":
        if kind == "failed_face":
            fields.update(state="failed", reason="face_check_failed", face_attempts=3)
            fields.update(face_failures=3, face_score=41.5)
            for attempt in (1, 2, 3):
                checks.append(
                    {
                        "at": at,
                        "check": "face",
                        "outcome": "failed",
                        "detail": "mismatch",
                        "score": 41.5,
                        "attempt": attempt,
                    }
                )
        else:
            fields.update(face_attempts=1, face_failures=0, face_score=88.25)
            checks.append(
                {
                    "at": at,
                    "check": "face",
                    "outcome": "passed",
                    "detail": "matched",
                    "score": 88.25,
                    "attempt": 1,
                }
            )
    if kind in ("restored", "completed", "evaluated", "failed_match"):
        checks += [
            {"at": at, "check": "eligibility", "outcome": "passed", "detail": "applies"},
            {"at": at, "check": "evidence", "outcome": "passed", "detail": "unused"},
            {
                "at": at,
                "check": "account_match",
                "outcome": "failed" if kind == "failed_match" else "passed",
                "detail": "not_matched" if kind == "failed_match" else "singled_out_by_claims",
                "rule": "exact",
                "claims": [
                    {"claim": "given_name", "attribute": "given_name", "outcome": "matched"},
                    {
                        "claim": "family_name",
                        "attribute": "family_name",
                        "outcome": "family_name_mismatch" if kind == "failed_match" else "matched",
                    },
                ],
                "namesakes": 0,
            },
        ]
    if kind == "failed_match":
        fields.update(state="failed", reason="not_matched")
    if kind in ("restored", "completed"):
        fields.update(evidence_hash=secrets.token_hex(32), tap_method_id=secrets.token_hex(8))
        checks.append(
            {
                "at": at,
                "check": "restoration",
                "outcome": "restored",
                "methods_revoked": 1,
                "sessions_revoked": 0,
            }
        )
        if kind == "completed":
            checks.append({"at": at, "check": "tap", "outcome": "shown"})
    if kind == "evaluated":
        mode = "evaluation"
        fields.update(evidence_hash=secrets.token_hex(32))
        checks.append(
            {"at": at, "check": "decision", "outcome": "evaluated", "detail": "evaluation mode"}
        )
    if kind in ("expired", "cancelled"):
        fields.update(reason=kind)
    finished = fields["state"] in ("evaluated", "completed", "failed", "expired", "cancelled")
    row = RecoveryFlowRow(
        handle_hash=secrets.token_hex(32),
        public_key=b"\x00" * 32,
        account=account,
        account_key=secrets.token_hex(16),
        address_key=secrets.token_hex(16),
        user_id=user_id,
        eligibility="applies",
        profile_id=None,
        profile_name=profile,
        mode=mode,
        provider="openid4vp",
        face_required=face_required,
        face_threshold=70,
        nonce=secrets.token_hex(8),
        face_attempts=fields.pop("face_attempts", 0),
        face_failures=fields.pop("face_failures", 0),
        checks=checks,
        ip=ip,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/124",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(minutes=30),
        finished_at=now + timedelta(minutes=4) if finished else None,
        **fields,
    )
    with registry.database.transaction() as session:
        session.add(row)
        session.flush()
        return row.id


def seed_month(registry: Registry) -> dict[str, str]:
    """A spread of flows over the last days; returns one flow id per kind."""
    ids: dict[str, str] = {}
    now = registry.clock.now()
    plan = [
        ("restored", 0, "Employees"),
        ("restored", 1, "Employees"),
        ("completed", 2, "Employees"),
        ("evaluated", 3, "Contractors"),
        ("evaluated", 3, "Contractors"),
        ("failed_credential", 4, "Employees"),
        ("failed_face", 5, "Employees"),
        ("failed_face", 6, "Employees"),
        ("failed_match", 7, "Contractors"),
        ("expired", 8, "Employees"),
        ("cancelled", 9, "Employees"),
        ("face_checking", 0, "Employees"),
    ]
    for i, (kind, days_ago, profile) in enumerate(plan):
        ids[kind] = seed_flow(
            registry,
            kind,
            account=f"user{i}",
            profile=profile,
            created_at=now - timedelta(days=days_ago, minutes=i),
        )
    # outside the default 30 days: never counted
    seed_flow(registry, "restored", account="old", created_at=now - timedelta(days=45))
    return ids


# --- the service ---------------------------------------------------------------------------


def test_funnel_counts_each_stage_reason_and_day_in_sql(any_registry: Registry) -> None:
    seed_month(any_registry)
    flt = reports.default_filter(any_registry.clock.now().date())
    report = reports.funnel(any_registry.database, flt)
    assert {s.key: s.count for s in report.stages} == {
        "started": 12,
        "verified": 9,  # all but the untrusted issuer, the expired and the cancelled
        "face_matched": 6,  # less the two failed face checks and the one still at it
        "validated": 5,  # less the account that did not match
        "restored": 3,  # restored, and completed (its pass taken)
        "evaluated": 2,
    }
    assert report.outcomes == {
        "restored": 3,
        "evaluated": 2,
        "failed": 4,
        "abandoned": 2,
        "in_progress": 1,
    }
    reasons = {(r.reason, r.stage): r.count for r in report.reasons}
    assert reasons == {
        ("face_check_failed", "face"): 2,
        ("untrusted_issuer", "verification"): 1,
        ("not_matched", "validation"): 1,
        ("expired", "verification"): 1,
        ("cancelled", "verification"): 1,
    }
    assert report.reasons[0].reason == "face_check_failed"  # most frequent first
    assert len(report.days) == 30
    today = report.days[-1]
    assert today.day == any_registry.clock.now().date()
    assert today.counts["restored"] == 1
    assert today.counts["in_progress"] == 1
    assert sum(d.total for d in report.days) == 12
    by_profile = {(p.profile, p.mode): p.counts for p in report.profiles}
    assert by_profile[("Contractors", "evaluation")]["evaluated"] == 2
    assert by_profile[("Employees", "production")]["restored"] == 3


def test_filters_narrow_by_profile_mode_and_dates(any_registry: Registry) -> None:
    seed_month(any_registry)
    today = any_registry.clock.now().date()
    only = reports.ReportFilter(start=today - timedelta(days=29), end=today, profile="Contractors")
    assert reports.funnel(any_registry.database, only).started == 3
    prod = reports.ReportFilter(start=today - timedelta(days=29), end=today, mode="production")
    assert reports.funnel(any_registry.database, prod).outcomes["evaluated"] == 0
    week = reports.ReportFilter(start=today - timedelta(days=2), end=today)
    assert reports.funnel(any_registry.database, week).started == 4
    old = reports.ReportFilter(start=today - timedelta(days=60), end=today - timedelta(days=31))
    assert reports.funnel(any_registry.database, old).outcomes["restored"] == 1


def test_case_list_pages_and_filters_by_outcome(registry: Registry) -> None:
    now = registry.clock.now()
    for i in range(reports.PAGE_SIZE + 3):
        seed_flow(registry, "failed_face", account=f"p{i:02d}", created_at=now - timedelta(i))
    seed_flow(registry, "restored", account="winner", created_at=now - timedelta(hours=1))
    flt = reports.default_filter(now.date())
    first, more = reports.case_list(registry.database, flt)
    assert more
    assert len(first) == reports.PAGE_SIZE
    assert first[0].account == "p00"
    assert first[1].account == "winner"
    second, more = reports.case_list(registry.database, flt, page=2)
    assert not more
    assert [c.account for c in second] == ["p24", "p25", "p26", "p27"]
    restored, _ = reports.case_list(registry.database, flt, outcome="restored")
    assert [(c.account, c.stage) for c in restored] == [("winner", "restored")]
    failed, _ = reports.case_list(registry.database, flt, outcome="failed")
    assert failed[0].stage == "verified"
    assert failed[0].reason == "face_check_failed"


# --- the pages -----------------------------------------------------------------------------


def test_reports_page_shows_funnel_reasons_profiles_and_cases(registry: Registry) -> None:
    ids = seed_month(registry)
    with admin_browser(registry, role="reader") as admin:
        page = admin.client.get("/admin/reports")
        assert page.status_code == 200, page.text
        from ssar.web.security import CSP

        assert page.headers["content-security-policy"] == CSP  # only charts have their own
        html = page.text
        assert not INLINE.search(html)
        assert 'aria-current="page"' in html
        assert "Recovery funnel" in html
        funnel = html[
            html.index('id="funnel-table"') : html.index(
                "</table>", html.index('id="funnel-table"')
            )
        ]
        assert re.search(r'data-stage="face_matched">.*?<td class="num">6</td>', funnel, re.S)
        assert "Face did not match after the allowed attempts" in html
        assert f'href="/admin/reports/cases/{ids["failed_face"]}"' in html
        assert re.search(r'<img src="/admin/reports/charts/funnel\.svg\?from=[^"]+" alt="', html)
        assert "Contractors" in html

        filtered = admin.client.get("/admin/reports?profile=Contractors&outcome=evaluated")
        assert filtered.status_code == 200
        assert ids["evaluated"] in filtered.text
        assert ids["restored"] not in filtered.text

        bad = admin.client.get("/admin/reports?from=yesterday&mode=sideways")
        assert bad.status_code == 200
        assert "Enter a date as YYYY-MM-DD." in bad.text
        assert "Choose evaluation or production." in bad.text


def test_reports_page_without_flows_says_so(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/reports")
        assert page.status_code == 200
        assert "No recovery attempts in this period" in page.text
        assert "<img" not in page.text.split("<main", 1)[1]


@pytest.mark.parametrize("name", ["funnel", "reasons", "daily"])
def test_charts_are_svg_without_script_with_their_own_policy(registry: Registry, name: str) -> None:
    seed_month(registry)
    with admin_browser(registry, role="reader") as admin:
        response = admin.client.get(f"/admin/reports/charts/{name}.svg?profile=Employees")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        svg = response.text
        assert svg.lstrip().startswith("<svg")
        assert "<script" not in svg
        assert "kozea.github.io" not in svg
        assert {u.split("/")[2] for u in re.findall(r"https?://[^\"'\s<]+", svg)} == {
            "www.w3.org"
        }  # nothing fetched, no links out
        if name == "funnel":
            assert "Face matched" in svg
            assert "Credential verified" in svg
        if name == "reasons":
            assert "Face did not match" in svg
    assert admin.client.get("/admin/reports/charts/nope.svg").status_code == 404


def test_chart_needs_an_admin(registry: Registry) -> None:
    from tests.support.web import page_client

    with page_client(registry) as client:
        response = client.get("/admin/reports/charts/funnel.svg")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/signin"


def test_case_page_shows_every_check_in_order(registry: Registry) -> None:
    from tests.support.users import add_user

    user_id = add_user(registry, "erika", given_name="Erika", family_name="Mustermann")
    case_id = seed_flow(registry, "completed", account="Erika ", user_id=user_id)
    with admin_browser(registry, role="helpdesk") as admin:
        page = admin.client.get(f"/admin/reports/cases/{case_id}")
        assert page.status_code == 200, page.text
        html = page.text
        assert not INLINE.search(html)
        assert f'href="/admin/users/{user_id}"' in html
        assert "203.0.113.7" in html
        assert "https://issuer.example" in html
        assert "88.2" in html
        assert "threshold 70" in html
        checks = re.findall(r'data-check="([a-z_]+)" data-outcome="([a-z_]+)"', html)
        assert checks == [
            ("profile", "applies"),
            ("credential", "passed"),
            ("face", "passed"),
            ("eligibility", "passed"),
            ("evidence", "passed"),
            ("account_match", "passed"),
            ("restoration", "restored"),
            ("tap", "shown"),
        ]
        assert "given_name → given_name: matched" in html
        assert "Methods revoked:</span> 1" in html
        missing = admin.client.get(
            "/admin/reports/cases/00000000-0000-0000-0000-000000000000",
            headers={"accept": "text/html"},
        )
        assert missing.status_code == 404


def test_case_page_of_a_failed_face_check_shows_the_score_below_threshold(
    registry: Registry,
) -> None:
    case_id = seed_flow(registry, "failed_face", account="mallory")
    with admin_browser(registry) as admin:
        html = admin.client.get(f"/admin/reports/cases/{case_id}").text
        assert "Face did not match after the allowed attempts" in html
        assert "41.5" in html
        assert "below" in html
        assert html.count('data-check="face" data-outcome="failed"') == 3
        assert "No user with this name" in html


# --- the API -------------------------------------------------------------------------------


def _token(registry: Registry, scope: str) -> dict[str, str]:
    token = registry.api_tokens.create(name=f"t-{scope}", scopes=[scope], actor="test")
    return {"authorization": f"Bearer {token.token}"}


def test_funnel_api_gives_the_page_numbers(any_registry: Registry) -> None:
    from fastapi.testclient import TestClient

    from ssar.web.app import create_app

    seed_month(any_registry)
    with TestClient(create_app(any_registry)) as client:
        assert client.get("/api/admin/reports/funnel").status_code == 401
        headers = _token(any_registry, "admin:read")
        body = client.get("/api/admin/reports/funnel", headers=headers).json()
        assert [s["key"] for s in body["stages"]] == [k for k, _ in reports.STAGES]
        assert body["stages"][2] == {
            "key": "face_matched",
            "label": "Face matched",
            "count": 6,
            "percent": 50.0,
        }
        assert body["outcomes"]["restored"] == 3
        assert body["failure_reasons"][0]["reason"] == "face_check_failed"
        assert len(body["days"]) == 30
        narrowed = client.get(
            "/api/admin/reports/funnel?profile=Contractors&mode=evaluation", headers=headers
        ).json()
        assert narrowed["stages"][0]["count"] == 2
        assert narrowed["profile"] == "Contractors"
        bad = client.get("/api/admin/reports/funnel?from=2020-13-01", headers=headers)
        assert bad.status_code == 422
        schema = client.get("/openapi.json").json()
        operation = schema["paths"]["/api/admin/reports/funnel"]["get"]
        assert operation["summary"]
        assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert {"401", "403", "422"} <= set(operation["responses"])


# --- a real recovery, then its case in the report -----------------------------------------


def test_a_real_recovery_and_a_refused_one_appear_with_their_checks(
    harness: Harness,  # noqa: F811
) -> None:
    harness.user("erika", "Erika", "Mustermann")
    harness.profile()  # production, no face check
    started = harness.start("erika").json()
    harness.present(harness.wallet(), started["verification"]["link"])
    assert harness.flow(started["id"])["state"] == "restored"
    refused = harness.start("erika").json()
    other = {"given_name": "Max", "family_name": "Mustermann", "birthdate": "1980-01-01"}
    harness.present(harness.wallet(other), refused["verification"]["link"])
    assert harness.flow(refused["id"])["state"] == "failed"

    registry = harness.registry
    by_state = {c["state"]: c["id"] for c in registry.recovery.cases()}  # case ids, not handles
    restored_id, refused_id = by_state["restored"], by_state["failed"]
    report = reports.funnel(registry.database, reports.default_filter(harness.clock.now().date()))
    assert [s.count for s in report.stages] == [2, 2, 2, 1, 1, 0]
    assert [(r.reason, r.stage) for r in report.reasons] == [("not_matched", "validation")]
    with admin_browser(registry, username="auditor", role="reader") as admin:
        html = admin.client.get("/admin/reports").text
        assert f'href="/admin/reports/cases/{restored_id}"' in html
        assert f'href="/admin/reports/cases/{refused_id}"' in html
        case = admin.client.get(f"/admin/reports/cases/{restored_id}").text
        checks = re.findall(r'data-check="([a-z_]+)" data-outcome="([a-z_]+)"', case)
        assert checks == [
            ("profile", "applies"),
            ("credential", "passed"),
            ("eligibility", "passed"),
            ("evidence", "passed"),
            ("account_match", "passed"),
            ("restoration", "restored"),
        ]
        assert "Not required by the profile" in case
        failed = admin.client.get(f"/admin/reports/cases/{refused_id}").text
        assert ("account_match", "failed") in re.findall(
            r'data-check="([a-z_]+)" data-outcome="([a-z_]+)"', failed
        )
        assert "Credential does not match the account" in failed
