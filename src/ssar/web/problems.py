"""The one place where domain errors become HTTP: RFC 9457 problem+json for APIs, an error page
for browsers. Routes and services never raise HTTP errors themselves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ssar import errors

STATUS: list[tuple[type[errors.SsarError], int]] = [
    (errors.Throttled, 429),
    (errors.ReauthenticationRequired, 401),
    (errors.AuthenticationFailed, 401),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.ValidationFailed, 422),
    (errors.PermissionDenied, 403),
    (errors.CsrfFailed, 403),
    (errors.CredentialError, 400),
    (errors.ConfigurationError, 500),
]

PROBLEM_BASE = "https://ssar.dev/problems/"


def status_for(exc: errors.SsarError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "code": code,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/scim/", "/.well-known/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _render(request: Request, status: int, code: str, title: str, detail: str) -> Response:
    if wants_html(request):
        templates = request.app.state.templates
        return templates.TemplateResponse(  # type: ignore[no-any-return]
            request,
            "error.html",
            {"title": title, "detail": detail, "code": code},
            status_code=status,
        )
    return problem(status, code, title, detail)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.SsarError)
    async def _ssar_error(request: Request, exc: errors.SsarError) -> Response:
        extra_detail = exc.detail
        if isinstance(exc, errors.AuthenticationFailed):
            extra_detail = exc.title  # one uniform message, whatever went wrong
        return _render(request, status_for(exc), exc.code, exc.title, extra_detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            return _render(request, 422, "validation_failed", "Invalid input", "Check the form.")
        fields = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(
            422, "validation_failed", "Invalid input", "The request is invalid.", errors=fields
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        title = str(exc.detail) if exc.detail else "Error"
        return _render(request, exc.status_code, code, title, title)
