"""Recovery over HTTP: the JSON API of CONTRACTS.md (native apps, automated checks) and the
pages, both thin over :class:`ssar.recovery.service.RecoveryService`.

The API names the flow by its handle in the path (the handle is the capability); the pages keep
it in an HttpOnly cookie so it never appears in a URL, a history entry or a referrer.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from ssar.errors import Gone, NotFound, ValidationFailed
from ssar.recovery.restore import dispute
from ssar.recovery.service import (
    UNIFORM_MESSAGE,
    FlowView,
    RecoveryThrottled,
)
from ssar.registry import Registry
from ssar.signin.sessions import CookieSpec
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip
from ssar.web.pages import BrowserDep, Csrf, _page, _redirect

MAX_FRAMES = 12
MAX_FRAME_BYTES = 2 * 1024 * 1024

api = APIRouter(prefix="/api/recovery", tags=["recovery"])
pages = APIRouter(include_in_schema=False)


# --- JSON API --------------------------------------------------------------------------------


class StartFlow(BaseModel):
    username: str = Field(min_length=1, max_length=256)


def _next(view: FlowView, base: str) -> dict[str, Any]:
    flow = f"{base}/api/recovery/flows/{view.handle}"
    if view.state == "verifying":
        return {"step": "verify_identity", "verification": dict(view.verification or {})}
    if view.state == "face_checking" and view.face is not None:
        return {
            "step": "face_check",
            "challenge": view.face.to_json(),
            "attempts_left": view.attempts_left,
            "submit": f"{flow}/face",
        }
    if view.state == "restored":
        return {"step": "take_tap", "url": f"{flow}/tap"}
    if view.state == "completed":
        return {"step": "sign_in", "url": f"{base}/signin"}
    return {"step": "done", "evaluation": view.evaluation}


def _flow_json(view: FlowView, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id": view.handle, "state": view.state, "next": _next(view, base)}
    if view.verification is not None:
        body["verification"] = dict(view.verification)
    if view.message:
        body["message"] = view.message
    return body


@api.post("/flows", status_code=201)
def start_flow(body: StartFlow, request: Request, registry: RegistryDep) -> dict[str, Any]:
    """Start recovery for an account. Same shape, status and timing for every username (R1)."""
    view = registry.recovery.start(
        username=body.username,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _flow_json(view, registry.settings.base_url)


@api.get("/flows/{handle}")
def flow_status(handle: str, registry: RegistryDep) -> dict[str, Any]:
    return _flow_json(registry.recovery.status(handle), registry.settings.base_url)


async def _frames(request: Request) -> tuple[str, list[bytes]]:
    async with request.form(max_files=MAX_FRAMES + 1, max_fields=8) as form:
        token = form.get("token")
        uploads = [f for f in form.getlist("frames") if isinstance(f, UploadFile)]
        if not isinstance(token, str) or not token:
            raise ValidationFailed("the challenge token is missing", field="token")
        if not 1 <= len(uploads) <= MAX_FRAMES:
            raise ValidationFailed(f"send 1 to {MAX_FRAMES} frames", field="frames")
        frames = []
        for upload in uploads:
            data = await upload.read(MAX_FRAME_BYTES + 1)
            if len(data) > MAX_FRAME_BYTES:
                raise ValidationFailed("a frame is larger than 2 MB", field="frames")
            frames.append(data)
    return token, frames


async def read_frame(request: Request) -> bytes:
    """The one JPEG frame (multipart ``frame``) a capture page sends to have its pose read."""
    async with request.form(max_files=1, max_fields=2) as form:
        frame = form.get("frame")
        if not isinstance(frame, UploadFile):
            raise ValidationFailed("the frame is missing", field="frame")
        data = await frame.read(MAX_FRAME_BYTES + 1)
    if len(data) > MAX_FRAME_BYTES:
        raise ValidationFailed("the frame is larger than 2 MB", field="frame")
    return data


@api.post("/flows/{handle}/face")
async def submit_face(handle: str, request: Request, registry: RegistryDep) -> dict[str, Any]:
    """A burst of challenge frames (multipart: ``token`` and JPEG files ``frames``)."""
    token, frames = await _frames(request)
    view = await _run_sync(registry.recovery.submit_face, handle, token=token, frames=frames)
    return _flow_json(view, registry.settings.base_url)


@api.post("/flows/{handle}/tap")
def take_tap(handle: str, registry: RegistryDep) -> JSONResponse:
    """The TAP of a restored flow, once; 410 afterwards."""
    tap = registry.recovery.take_tap(handle)
    # the security headers make every response no-store
    return JSONResponse(
        {"tap": tap.tap, "expires_at": tap.expires_at.isoformat(), "one_time": tap.one_time}
    )


async def _run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args, **kwargs)


# --- pages -------------------------------------------------------------------------------------


def flow_cookie(registry: Registry) -> CookieSpec:
    if registry.settings.https:
        return CookieSpec(name="__Host-ssar_recovery", secure=True)
    return CookieSpec(name="ssar_recovery", secure=False)


def _handle(request: Request, registry: Registry) -> str:
    handle = request.cookies.get(flow_cookie(registry).name)
    if not handle:
        raise NotFound("no recovery in progress in this browser")
    return handle


def _url_for(view: FlowView) -> str:
    """The page that shows a flow in its state."""
    if view.state == "verifying":
        return "/recover/verify"
    if view.state == "face_checking":
        return "/recover/face"
    return "/recover/result"


@pages.get("/recover")
def recover_start_page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    username: str = "",
) -> Response:
    return _page(
        request, registry, templates, browser, "recovery/start.html", {"username": username[:256]}
    )


@pages.post("/recover")
def recover_start(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
    username: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    try:
        view = registry.recovery.start(
            username=username,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except RecoveryThrottled:
        response = _page(
            request,
            registry,
            templates,
            browser,
            "recovery/result.html",
            {"state": "failed", "message": UNIFORM_MESSAGE},
        )
        response.status_code = 429
        return response
    response = _redirect("/recover/verify")
    spec = flow_cookie(registry)
    response.set_cookie(
        spec.name,
        view.handle,
        max_age=registry.settings.recovery.flow_minutes * 60,
        path="/",
        secure=spec.secure,
        httponly=True,
        samesite="lax",
    )
    return response


@pages.get("/recover/verify")
def recover_verify(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    view = registry.recovery.status(_handle(request, registry))
    if view.state != "verifying":
        return _redirect(_url_for(view))
    verification = dict(view.verification or {})
    if verification.get("type") == "redirect":
        return RedirectResponse(str(verification["url"]), status_code=303)
    return _page(
        request,
        registry,
        templates,
        browser,
        "recovery/verify.html",
        {"verification": verification, "demo": registry.settings.demo},
    )


@pages.get("/recover/status")
def recover_status(request: Request, registry: RegistryDep) -> JSONResponse:
    """For the verify page's polling: the state and where to go (never a reason)."""
    view = registry.recovery.status(_handle(request, registry))
    return JSONResponse({"state": view.state, "next_url": _url_for(view)})


@pages.post("/recover/same-device")
def recover_same_device(request: Request, registry: RegistryDep, _csrf: Csrf) -> Response:
    verification = registry.recovery.same_device(_handle(request, registry))
    if registry.settings.demo:
        # the demo web wallet on this origin stands for a wallet app on this device
        query = urlencode(
            {"client_id": verification["client_id"], "request_uri": verification["request_uri"]}
        )
        return _redirect(f"/wallet/authorize?{query}")
    return RedirectResponse(str(verification["link"]), status_code=303)


@pages.get("/recover/return")
def recover_return(request: Request, registry: RegistryDep, response_code: str = "") -> Response:
    """The wallet's same-device redirect, with its response code (OpenID4VP §14.3)."""
    view = registry.recovery.status(
        _handle(request, registry), response_code=response_code[:256] or None
    )
    return _redirect(_url_for(view))


@pages.get("/recover/callback")
def recover_callback(request: Request, registry: RegistryDep) -> Response:
    """Back from a redirect provider (OpenID Connect for Identity Assurance)."""
    params = {k: v[:2048] for k, v in request.query_params.items()}
    view = registry.recovery.complete_redirect(_handle(request, registry), params)
    return _redirect(_url_for(view))


@pages.get("/recover/face")
def recover_face(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
) -> Response:
    view = registry.recovery.view(_handle(request, registry))
    if view.state != "face_checking" or view.face is None:
        return _redirect(_url_for(view))
    return _page(
        request,
        registry,
        templates,
        browser,
        "recovery/face.html",
        {
            "challenge": {
                "poses": list(view.face.poses),
                "token": view.face.token,
                "deadline": view.face.deadline.isoformat(),
            },
            "probe_url": "/recover/face/probe",
            "submit_url": "/recover/face",
            "attempts_left": view.attempts_left,
        },
    )


@pages.post("/recover/face/probe")
async def recover_face_probe(request: Request, registry: RegistryDep, _csrf: Csrf) -> JSONResponse:
    data = await read_frame(request)
    result = await _run_sync(registry.recovery.probe_frame, _handle(request, registry), data)
    return JSONResponse(result)


@pages.post("/recover/face")
async def recover_face_submit(request: Request, registry: RegistryDep, _csrf: Csrf) -> JSONResponse:
    handle = _handle(request, registry)
    token, frames = await _frames(request)
    view: FlowView = await _run_sync(
        registry.recovery.submit_face, handle, token=token, frames=frames
    )
    if view.state == "face_checking" and view.face is not None:
        return JSONResponse(
            {
                "retry": {
                    "message": view.message or "Please try again.",
                    "attempts_left": view.attempts_left,
                    "challenge": view.face.to_json(),
                }
            }
        )
    return JSONResponse({"redirect": _url_for(view)})


@pages.get("/recover/result")
def recover_result(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    # status, not view: a flow whose decision was interrupted is decided now (R3)
    view = registry.recovery.status(_handle(request, registry))
    if view.state in ("verifying", "face_checking"):
        return _redirect(_url_for(view))
    return _page(
        request,
        registry,
        templates,
        browser,
        "recovery/result.html",
        {"state": view.state, "message": view.message, "evaluation": view.evaluation},
    )


@pages.post("/recover/tap")
def recover_tap(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
) -> Response:
    """Show the TAP, once. The person is not signed in (R6): the pass is the only way in."""
    try:
        tap = registry.recovery.take_tap(_handle(request, registry))
    except Gone:
        return _redirect("/recover/result")
    # the flow cookie stays until it expires: going back shows "Recovery complete"
    return _page(request, registry, templates, browser, "recovery/tap.html", {"tap": tap})


@pages.get("/recover/dispute/{token}")
def recover_dispute_page(
    token: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
) -> Response:
    return _page(
        request, registry, templates, browser, "recovery/dispute.html", {"token": token[:128]}
    )


@pages.post("/recover/dispute/{token}")
def recover_dispute(
    token: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
) -> Response:
    outcome = dispute(registry.recovery, token[:128])
    return _page(
        request,
        registry,
        templates,
        browser,
        "recovery/dispute.html",
        {"done": True, "outcome": outcome},
    )
