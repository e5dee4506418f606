"""Demo-only pages: the built-in outbox, where mail goes when no SMTP server is configured.
Mounted only when ``SSAR_DEMO`` is on; never in production."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from ssar.store.tables import OutboxRow
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/dev", include_in_schema=False)


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, registry: RegistryDep, templates: TemplatesDep) -> HTMLResponse:
    with registry.database.transaction() as session:
        rows = list(
            session.execute(
                select(OutboxRow).order_by(OutboxRow.created_at.desc()).limit(100)
            ).scalars()
        )
    return templates.TemplateResponse(request, "dev_outbox.html", {"messages": rows})
