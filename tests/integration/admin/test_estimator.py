"""The cost-savings estimator page and API: defaults from the directory, the projection with its
formula, field errors for absurd values, and the actuals from the organisation's own flows
(issue #7, item 5)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from ssar.registry import Registry
from ssar.web.app import create_app
from tests.integration.admin.test_reports import INLINE, seed_flow
from tests.support.admin import admin_browser
from tests.support.users import add_user


def value(html: str, name: str, table: str = "projection-table") -> str:
    part = html[html.index(f'id="{table}"') :]
    found = re.search(rf'data-value="{name}">(?:<strong>|<a [^>]*>)?([^<]+)<', part)
    assert found, name
    return found.group(1).strip()


def test_estimator_defaults_to_the_enabled_users_and_shows_its_formula(registry: Registry) -> None:
    for i in range(49):
        add_user(registry, f"person{i}", given_name="P", family_name=f"N{i}")
    with admin_browser(registry, role="reader") as admin:  # 50 enabled users with the admin
        page = admin.client.get("/admin/estimator")
        assert page.status_code == 200
        html = page.text
        assert not INLINE.search(html)
        assert 'name="users" type="number"' in html
        assert re.search(r'id="e-users" name="users"[^>]*value="50"', html)
        assert re.search(r'id="e-check_cost"[^>]*value="1.50"', html)
        assert "Default: the 50 enabled users in the directory." in html
        assert "An assumption" in html
        # 50 × 2 % = 1 attempt; 90 % self-served
        assert value(html, "attempts") == "1"
        assert value(html, "self_served") == "0.9"
        assert value(html, "helpdesk_cost_avoided") == "$54.00"
        assert value(html, "verification_cost") == "$1.50"
        assert value(html, "net_monthly") == "$52.50"
        assert value(html, "net_yearly") == "$630.00"
        assert value(html, "hours_regained") == "0.8 h"  # (0.9 × 55 − 0.1 × 5) / 60
        formula = html[html.index('id="formula"') :]
        assert "R = 50 users × 2 % = 1" in formula
        assert "$54.00 − $1.50 = $52.50" in formula
        assert "Actuals appear here once people recover their accounts" in html


def test_estimator_takes_the_admins_figures(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        html = admin.client.get(
            "/admin/estimator?users=12000&share_percent=1&helpdesk_cost=70"
            "&helpdesk_minutes=45&self_service_minutes=10&check_cost=2&success_percent=100"
        ).text
        assert value(html, "attempts") == "120"
        assert value(html, "helpdesk_cost_avoided") == "$8,400.00"
        assert value(html, "verification_cost") == "$240.00"
        assert value(html, "net_monthly") == "$8,160.00"
        assert value(html, "hours_regained") == "70.0 h"


def test_absurd_values_are_refused_with_a_field_error(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/estimator?share_percent=250&helpdesk_cost=-60&users=abc")
        assert page.status_code == 422
        html = page.text
        assert 'id="e-share_percent-error">Must be at most 100.' in html
        assert 'id="e-helpdesk_cost-error">Must be at least 0.' in html
        assert 'id="e-users-error">Enter a number.' in html
        assert re.search(r'id="e-share_percent"[^>]*value="250"[^>]*aria-invalid="true"', html)
        assert value(html, "attempts") == "0.02"  # computed with the defaults meanwhile


def test_actuals_come_from_the_last_30_days_of_flows(registry: Registry) -> None:
    now = registry.clock.now()
    for kind in ("restored", "completed", "evaluated", "failed_face"):
        seed_flow(registry, kind, created_at=now - timedelta(days=3))
    seed_flow(registry, "restored", created_at=now - timedelta(days=40))  # too old
    with admin_browser(registry) as admin:
        html = admin.client.get("/admin/estimator").text
        assert value(html, "started", "actuals-table") == "4"
        assert value(html, "restored", "actuals-table") == "2"
        assert value(html, "evaluated", "actuals-table") == "1"
        assert value(html, "helpdesk_cost_avoided", "actuals-table") == "$180.00"
        assert "4 × $1.50 = $6.00" in html
        assert value(html, "net_savings", "actuals-table") == "$174.00"
        assert value(html, "hours_regained", "actuals-table") == "2.7 h"  # 160 min / 60
        assert "Actuals appear here" not in html


def test_estimator_api_gives_the_same_numbers(any_registry: Registry) -> None:
    add_user(any_registry, "ada", given_name="Ada", family_name="Lovelace")
    seed_flow(any_registry, "restored")
    token = any_registry.api_tokens.create(name="r", scopes=["admin:read"]).token
    with TestClient(create_app(any_registry)) as client:
        assert client.get("/api/admin/estimator").status_code == 401
        headers = {"authorization": f"Bearer {token}"}
        body = client.get(
            "/api/admin/estimator?users=1000&success_percent=100", headers=headers
        ).json()
        assert body["enabled_users"] == 1
        assert body["inputs"]["users"] == 1000
        assert body["inputs"]["check_cost"] == 1.5
        assert body["projection"]["attempts"] == 20
        assert body["projection"]["net_monthly"] == 1170.0
        assert body["projection"]["hours_regained"] == 18.3
        assert "R = 1,000 users × 2 % = 20" in body["formula"]
        assert body["actuals"]["restored"] == 1
        assert body["actuals"]["savings"]["helpdesk_cost_avoided"] == 60.0
        assert (
            client.get("/api/admin/estimator?share_percent=101", headers=headers).status_code == 422
        )
        assert client.get("/api/admin/estimator?users=-1", headers=headers).status_code == 422
        operation = client.get("/openapi.json").json()["paths"]["/api/admin/estimator"]["get"]
        assert operation["summary"]
        assert {"401", "403", "422"} <= set(operation["responses"])
        params = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert params["share_percent"]["anyOf"][0]["maximum"] == 100


def test_estimator_needs_an_admin(registry: Registry) -> None:
    from tests.support.web import page_client

    with page_client(registry) as client:
        response = client.get("/admin/estimator")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/signin"
