"""Admin center: sign-in and the overview page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from ssar.admin.web import AdminDep, render
from ssar.registry import Registry
from ssar.store.tables import GroupRow, RecoveryFlowRow, UserRow
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import BrowserDep, _page

router = APIRouter(prefix="/admin", include_in_schema=False)

#: flow states that end a flow, grouped as the overview counts them
OUTCOMES = {"restored": "Restored", "evaluated": "Evaluated", "failed": "Failed"}


@router.get("/signin")
def admin_signin(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
) -> Response:
    needs_passkey = browser.session is not None and browser.session.method_type != "passkey"
    return _page(
        request,
        registry,
        templates,
        browser,
        "admin/signin.html",
        {"needs_passkey": needs_passkey, "title": "Admin center"},
    )


@router.get("")
def overview(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    return render(
        request, templates, admin, "admin/overview.html", summary(registry), section="overview"
    )


def summary(registry: Registry) -> dict[str, Any]:
    """The figures on the overview page: directory size, profiles and the last 30 days' flows."""
    since = registry.clock.now() - timedelta(days=30)
    with registry.database.transaction() as session:
        users = session.execute(
            select(func.count()).select_from(UserRow).where(UserRow.enabled.is_(True))
        ).scalar_one()
        groups = session.execute(select(func.count()).select_from(GroupRow)).scalar_one()
        by_state = dict(
            session.execute(
                select(RecoveryFlowRow.state, func.count())
                .where(RecoveryFlowRow.created_at >= since)
                .group_by(RecoveryFlowRow.state)
            ).all()
        )
    profiles = registry.profiles.list()
    started = sum(by_state.values())
    outcomes = {name: int(by_state.get(state, 0)) for state, name in OUTCOMES.items()}
    in_progress = started - sum(outcomes.values())
    return {
        "users": int(users),
        "groups": int(groups),
        "profiles": profiles,
        "production_profiles": sum(1 for p in profiles if p.mode == "production"),
        "started": started,
        "outcomes": outcomes,
        "in_progress": in_progress,
        "recent_cases": registry.recovery.cases(limit=8),
        "first_run": not profiles,
    }
