"""Server-rendered pages (sign-in, security info). Routes translate HTTP ⇄ service calls only.

Every state-changing request passes ``csrf_protected`` (R26): forms carry a hidden ``csrf_token``
field, the WebAuthn script sends the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ssar.errors import AuthenticationFailed
from ssar.registry import Registry
from ssar.signin.models import IssuedSession, SessionInfo
from ssar.signin.sessions import CookieSpec, new_token
from ssar.signin.totp import TotpCodeMismatch
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip

router = APIRouter(include_in_schema=False)

BROWSER_TOKEN_MIN_LENGTH = 32


@dataclass(frozen=True)
class Browser:
    """What a request knows about its browser: the live session (if any) and the token that
    binds CSRF tokens and WebAuthn challenges to it."""

    session: SessionInfo | None
    session_token: str | None
    browser_token: str
    browser_token_is_new: bool

    @property
    def binding_token(self) -> str:
        if self.session is not None and self.session_token:
            return self.session_token
        return self.browser_token


def get_browser(request: Request, registry: RegistryDep) -> Browser:
    sessions = registry.signin.sessions
    session_token = request.cookies.get(sessions.cookie.name)
    browser_token = request.cookies.get(sessions.browser_cookie.name, "")
    is_new = len(browser_token) < BROWSER_TOKEN_MIN_LENGTH
    return Browser(
        session=sessions.resolve(session_token),
        session_token=session_token,
        browser_token=new_token() if is_new else browser_token,
        browser_token_is_new=is_new,
    )


BrowserDep = Annotated[Browser, Depends(get_browser)]


async def csrf_protected(request: Request, registry: RegistryDep, browser: BrowserDep) -> None:
    presented = request.headers.get("x-csrf-token")
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        presented = value if isinstance(value, str) else None
    registry.signin.sessions.check_csrf(binding_token=browser.binding_token, presented=presented)


Csrf = Annotated[None, Depends(csrf_protected)]


def require_session(browser: BrowserDep) -> SessionInfo:
    if browser.session is None:
        raise AuthenticationFailed("not signed in")
    return browser.session


SignedIn = Annotated[SessionInfo, Depends(require_session)]


class PasskeyOptionsRequest(BaseModel):
    username: str | None = Field(default=None, max_length=256)


class PasskeyCredentialRequest(BaseModel):
    credential: dict[str, Any]
    label: str = Field(default="", max_length=256)
    #: where to go after signing in: only ``/admin…`` or ``/security-info…`` (no open redirect)
    next: str | None = Field(default=None, max_length=512)


# --- response helpers ------------------------------------------------------------------------


def _set_cookie(response: Response, spec: CookieSpec, value: str) -> None:
    response.set_cookie(
        spec.name,
        value,
        path=spec.path,
        secure=spec.secure,
        httponly=spec.httponly,
        samesite="lax",
    )


def _with_cookies(
    response: Response,
    registry: Registry,
    browser: Browser,
    *,
    issued: IssuedSession | None = None,
    clear_session: bool = False,
) -> Response:
    sessions = registry.signin.sessions
    if browser.browser_token_is_new:
        _set_cookie(response, sessions.browser_cookie, browser.browser_token)
    if issued is not None:
        _set_cookie(response, sessions.cookie, issued.token)
    elif clear_session or (browser.session_token and browser.session is None):
        spec = sessions.cookie
        response.delete_cookie(
            spec.name, path=spec.path, secure=spec.secure, httponly=True, samesite="lax"
        )
    return response


def _page(
    request: Request,
    registry: Registry,
    templates: Any,
    browser: Browser,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    csrf_binding: str | None = None,
) -> Response:
    binding = csrf_binding or browser.binding_token
    values = {
        "csrf_token": registry.signin.sessions.csrf_token(binding_token=binding),
        "signed_in": browser.session,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values)
    return _with_cookies(response, registry, browser)


def safe_next(value: str | None) -> str | None:
    """A post-sign-in target: only a path on this site under ``/admin`` or ``/security-info``."""
    if not value or not value.startswith(("/admin", "/security-info")):
        return None
    if "//" in value or "\\" in value or any(ord(c) < 0x20 for c in value):
        return None
    return value


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- sign-in ---------------------------------------------------------------------------------


@router.get("/")
def home(browser: BrowserDep) -> Response:
    return _redirect("/security-info" if browser.session else "/signin")


@router.get("/signin")
def signin_page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    signed_out: bool = False,
) -> Response:
    return _page(request, registry, templates, browser, "signin.html", {"signed_out": signed_out})


@router.post("/signin")
def signin_choose_method(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
    username: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    # the same page for every username: it never says whether the account exists
    return _page(
        request,
        registry,
        templates,
        browser,
        "signin_methods.html",
        {"username": username.strip()},
    )


@router.post("/signin/tap")
def signin_tap(
    request: Request,
    registry: RegistryDep,
    browser: BrowserDep,
    _csrf: Csrf,
    username: Annotated[str, Form(max_length=256)],
    tap: Annotated[str, Form(max_length=128)],
) -> Response:
    result = registry.signin.signin_with_tap(
        username=username,
        tap=tap,
        previous_session_token=browser.session_token,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    target = "/security-info/passkey" if result.must_register_passkey else "/security-info"
    return _with_cookies(_redirect(target), registry, browser, issued=result.session)


@router.post("/signin/totp")
def signin_totp(
    request: Request,
    registry: RegistryDep,
    browser: BrowserDep,
    _csrf: Csrf,
    username: Annotated[str, Form(max_length=256)],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    result = registry.signin.signin_with_totp(
        username=username,
        code=code,
        previous_session_token=browser.session_token,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _with_cookies(_redirect("/security-info"), registry, browser, issued=result.session)


@router.post("/signin/passkey/options")
def signin_passkey_options(
    registry: RegistryDep, browser: BrowserDep, _csrf: Csrf, body: PasskeyOptionsRequest
) -> Response:
    options = registry.signin.passkey_signin_options(
        username=body.username, binding_token=browser.binding_token
    )
    return _with_cookies(JSONResponse({"publicKey": options.public_key}), registry, browser)


@router.post("/signin/passkey")
def signin_passkey(
    request: Request,
    registry: RegistryDep,
    browser: BrowserDep,
    _csrf: Csrf,
    body: PasskeyCredentialRequest,
) -> Response:
    result = registry.signin.signin_with_passkey(
        credential=body.credential,
        binding_token=browser.binding_token,
        previous_session_token=browser.session_token,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = JSONResponse({"redirect": safe_next(body.next) or "/security-info"})
    return _with_cookies(response, registry, browser, issued=result.session)


@router.post("/signout")
def signout(request: Request, registry: RegistryDep, browser: BrowserDep, _csrf: Csrf) -> Response:
    registry.signin.sessions.revoke(browser.session_token, ip=client_ip(request))
    return _with_cookies(
        _redirect("/signin?signed_out=true"), registry, browser, clear_session=True
    )


# --- security info -----------------------------------------------------------------------------


@router.get("/security-info")
def security_info(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    added: str | None = None,
    removed: bool = False,
) -> Response:
    if browser.session is None:
        return _with_cookies(_redirect("/signin"), registry, browser)
    methods = registry.signin.list_methods(session_info=browser.session)
    return _page(
        request,
        registry,
        templates,
        browser,
        "security_info.html",
        {
            "methods": methods,
            "recent": registry.signin.is_recent(browser.session),
            "added": added if added in ("passkey", "totp") else None,
            "removed": removed,
            "admin_role": registry.admin_roles.role_of(browser.session.user_id),
        },
    )


@router.get("/security-info/passkey")
def passkey_registration_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    if browser.session is None:
        return _with_cookies(_redirect("/signin"), registry, browser)
    return _page(
        request,
        registry,
        templates,
        browser,
        "passkey_register.html",
        {
            "recent": registry.signin.is_recent(browser.session),
            "with_tap": browser.session.method_type == "tap",
        },
    )


@router.post("/security-info/passkey/options")
def passkey_registration_options(
    registry: RegistryDep, browser: BrowserDep, _csrf: Csrf, session_info: SignedIn
) -> Response:
    options = registry.signin.passkey_registration_options(
        session_info=session_info, binding_token=browser.binding_token
    )
    return JSONResponse({"publicKey": options.public_key})


@router.post("/security-info/passkey")
def passkey_register(
    request: Request,
    registry: RegistryDep,
    browser: BrowserDep,
    _csrf: Csrf,
    session_info: SignedIn,
    body: PasskeyCredentialRequest,
) -> Response:
    registry.signin.register_passkey(
        session_info=session_info,
        credential=body.credential,
        binding_token=browser.binding_token,
        label=body.label,
        ip=client_ip(request),
    )
    return JSONResponse({"redirect": "/security-info?added=passkey"})


@router.get("/security-info/totp")
def totp_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    if browser.session is None:
        return _with_cookies(_redirect("/signin"), registry, browser)
    enrolment = registry.signin.begin_totp(
        session_info=browser.session, binding_token=browser.binding_token
    )
    return _page(request, registry, templates, browser, "totp.html", {"enrolment": enrolment})


@router.post("/security-info/totp")
def totp_confirm(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
    session_info: SignedIn,
    enrolment_token: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=16)],
    label: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        registry.signin.confirm_totp(
            session_info=session_info,
            enrolment_token=enrolment_token,
            code=code,
            binding_token=browser.binding_token,
            label=label,
            ip=client_ip(request),
        )
    except TotpCodeMismatch as exc:  # the same QR code and form again, with the reason
        enrolment = registry.signin.resume_totp(
            session_info=session_info,
            enrolment_token=enrolment_token,
            binding_token=browser.binding_token,
        )
        page = _page(
            request,
            registry,
            templates,
            browser,
            "totp.html",
            {"enrolment": enrolment, "error": exc.detail, "label": label},
        )
        page.status_code = 422
        return page
    return _redirect("/security-info?added=totp")


@router.post("/security-info/methods/{method_id}/remove")
def remove_method(
    request: Request,
    registry: RegistryDep,
    _csrf: Csrf,
    session_info: SignedIn,
    method_id: str,
) -> Response:
    registry.signin.remove_method(
        session_info=session_info, method_id=method_id, ip=client_ip(request)
    )
    return _redirect("/security-info?removed=true")
