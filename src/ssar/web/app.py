"""The ASGI application: one FastAPI app with the pages, the public and admin APIs and SCIM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ssar.config import Settings
from ssar.logging import configure_logging
from ssar.registry import Registry
from ssar.web.deps import RegistryDep
from ssar.web.problems import install_problem_handlers
from ssar.web.security import SecurityHeadersMiddleware

HERE = Path(__file__).parent


def create_app(registry: Registry, *, idv_only: bool = False) -> FastAPI:
    """The whole service, or with ``idv_only`` the reference identity verification service
    alone (``ssar idv serve``): its pages, the OpenID4VCI issuer and status lists."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from ssar.notify.outbox import OutboxWorker

        worker = OutboxWorker(registry)  # mail leaves when SSAR_SMTP_URL is set
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="SSAR",
        version="0.1.0",
        description="Self-service account recovery by identity proofing.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.registry = registry
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["settings"] = registry.settings
    app.state.templates = templates
    install_problem_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware, hsts=registry.settings.https)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def readyz(registry: RegistryDep) -> Response:
        if registry.database.ping():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    @app.get("/.well-known/jwks.json", tags=["service"])
    def jwks(registry: RegistryDep) -> dict[str, Any]:
        return {"keys": [registry.signing_key.public_jwk()]}

    if idv_only:
        from ssar.idv.pages import router as idv_pages
        from ssar.idv.routes import router as idv_router

        app.include_router(idv_router)
        app.include_router(idv_pages)
        return app

    from ssar.admin.api import router as admin_router
    from ssar.directory.scim import router as scim_router
    from ssar.web.pages import router as pages_router

    app.include_router(scim_router)
    app.include_router(admin_router)
    from ssar.admin.api_trust import router as admin_trust_router

    app.include_router(admin_trust_router)
    from ssar.admin.api_users import router as admin_users_router

    app.include_router(admin_users_router)
    from ssar.admin.api_reports import router as admin_reports_router

    app.include_router(admin_reports_router)
    from ssar.admin.api_audit import router as audit_api_router

    app.include_router(audit_api_router)
    _install_admin_center(app)
    from ssar.admin.profiles_api import router as profiles_router

    app.include_router(profiles_router)
    app.include_router(pages_router)
    from ssar.web.recovery import api as recovery_api
    from ssar.web.recovery import pages as recovery_pages

    app.include_router(recovery_api)
    app.include_router(recovery_pages)
    from ssar.web.metrics import install_request_timing
    from ssar.web.metrics import router as metrics_router

    app.include_router(metrics_router)
    install_request_timing(app)
    # the reference identity verification service (its own keys; `reference` provider)
    from ssar.idv.pages import router as idv_pages
    from ssar.idv.routes import router as idv_router

    app.include_router(idv_router)
    app.include_router(idv_pages)
    from ssar.openid4vp.routes import router as openid4vp_router

    app.include_router(openid4vp_router)
    if registry.settings.demo:  # the reference web wallet is for demos and tests only
        from ssar.wallet.routes import router as wallet_router

        app.include_router(wallet_router)
    if registry.settings.demo:
        from ssar.web.dev import router as dev_router

        app.include_router(dev_router)
    return app


def _install_admin_center(app: FastAPI) -> None:
    """The admin center's pages (``ssar.admin.pages``); without a passkey session they send the
    browser to ``/admin/signin``."""
    import importlib

    from fastapi import Request
    from fastapi.responses import RedirectResponse

    from ssar.admin.pages import AREAS
    from ssar.admin.web import AdminSignInRequired

    for area in AREAS:
        module = importlib.import_module(f"ssar.admin.pages.{area}")
        app.include_router(module.router)

    @app.exception_handler(AdminSignInRequired)
    async def _admin_signin(request: Request, exc: AdminSignInRequired) -> Response:
        return RedirectResponse("/admin/signin", status_code=303)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (``ssar serve``): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    registry = Registry(settings)
    registry.migrate()
    return create_app(registry)


def create_idv_app_from_env() -> FastAPI:
    """Factory for ``ssar idv serve``: the reference identity verification service alone."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    registry = Registry(settings)
    registry.migrate()
    return create_app(registry, idv_only=True)
