"""The web wallet (demo mode only, mounted under ``/wallet``): the credentials held in
``var/wallet``, a form to open a wallet link (cross-device: paste it; same-device: the link
opens ``/wallet/authorize``), a consent page, and the presentation itself.

It is the reference wallet running inside the server process: it fetches the Request Object
and posts the response over HTTP like any other wallet (through an ``httpx.Client`` that
tests can replace with ``app.dependency_overrides[get_wallet_http]``). Forms carry a
double-submit CSRF token (cookie + field).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ssar.errors import CsrfFailed, SsarError
from ssar.openid4vp.links import AuthorizationLink, parse_link
from ssar.registry import Registry
from ssar.wallet.presenter import Presenter
from ssar.wallet.store import Wallet
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/wallet", include_in_schema=False)
CSRF_COOKIE = "ssar_wallet_csrf"
NO_STORE = {"Cache-Control": "no-store"}


def get_wallet_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


WalletHttpDep = Annotated[httpx.Client, Depends(get_wallet_http)]


def _wallet(registry: Registry) -> Wallet:
    return Wallet(registry.settings.var_dir / "wallet")


def _csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    return token if token and len(token) >= 22 else secrets.token_urlsafe(16)


def _check_csrf(request: Request, field: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        raise CsrfFailed()


def _page(
    request: Request,
    templates: Jinja2Templates,
    registry: Registry,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    token = _csrf_token(request)
    response = templates.TemplateResponse(
        request, name, {**context, "csrf": token}, status_code=status_code, headers=NO_STORE
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=registry.settings.https,
        path="/wallet",
    )
    return response


def _presenter(registry: Registry, http: httpx.Client) -> Presenter:
    return Presenter(wallet=_wallet(registry), http=http, clock=registry.clock)


def _authorize_url(link: AuthorizationLink) -> str:
    params = {"client_id": link.client_id, "request_uri": link.request_uri}
    if link.request_uri_method != "get":
        params["request_uri_method"] = link.request_uri_method
    return f"/wallet/authorize?{urlencode(params)}"


@router.get("", response_class=HTMLResponse)
def wallet_home(request: Request, registry: RegistryDep, templates: TemplatesDep) -> Response:
    wallet = _wallet(registry)
    return _page(
        request,
        templates,
        registry,
        "wallet/index.html",
        {
            "initialised": wallet.initialised(),
            "credentials": wallet.credentials(),
            "directory": str(wallet.directory),
        },
    )


@router.post("/open")
def open_link(
    request: Request,
    link: Annotated[str, Form(max_length=8192)],
    csrf: Annotated[str, Form()],
) -> Response:
    _check_csrf(request, csrf)
    parsed = parse_link(link, allowed_schemes=("openid4vp", "https", "http"))
    return RedirectResponse(_authorize_url(parsed), status_code=303)


@router.get("/authorize", response_class=HTMLResponse)
def authorize(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    http: WalletHttpDep,
    client_id: Annotated[str, Query(max_length=2048)],
    request_uri: Annotated[str, Query(max_length=2048)],
    request_uri_method: Annotated[str, Query(pattern="^(get|post)$")] = "get",
) -> Response:
    link = AuthorizationLink(client_id, request_uri, request_uri_method)
    presenter = _presenter(registry, http)
    try:
        verifier_request = presenter.fetch_request(link)
        selections = presenter.select(verifier_request)
    except SsarError as exc:
        return _page(
            request,
            templates,
            registry,
            "wallet/done.html",
            {"ok": False, "code": exc.code, "detail": exc.detail},
            status_code=400,
        )
    return _page(
        request,
        templates,
        registry,
        "wallet/consent.html",
        {"link": link, "verifier": verifier_request, "selections": selections},
    )


@router.post("/authorize")
def share(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    http: WalletHttpDep,
    client_id: Annotated[str, Form(max_length=2048)],
    request_uri: Annotated[str, Form(max_length=2048)],
    csrf: Annotated[str, Form()],
    decision: Annotated[str, Form(pattern="^(share|decline)$")],
    request_uri_method: Annotated[str, Form(pattern="^(get|post)$")] = "get",
) -> Response:
    _check_csrf(request, csrf)
    presenter = _presenter(registry, http)
    try:
        verifier_request = presenter.fetch_request(
            AuthorizationLink(client_id, request_uri, request_uri_method)
        )
        if decision == "share":
            outcome = presenter.present(verifier_request)
        else:
            outcome = presenter.decline(verifier_request)
    except SsarError as exc:
        return _page(
            request,
            templates,
            registry,
            "wallet/done.html",
            {"ok": False, "code": exc.code, "detail": exc.detail},
            status_code=400,
        )
    if outcome.redirect_uri is not None:
        # same-device: back to the verifier in this browser, carrying its response code
        return RedirectResponse(outcome.redirect_uri, status_code=303)
    return _page(
        request,
        templates,
        registry,
        "wallet/done.html",
        {"ok": decision == "share", "code": None, "detail": None},
    )


# --- receiving a credential (OpenID4VCI) ---------------------------------------------------

#: registered JWT / SD-JWT VC claims: how the credential works, not what it says about you
_TECHNICAL_CLAIMS = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub", "jti"})
_CLAIM_NAMES = {
    "given_name": "given name",
    "family_name": "family name",
    "birthdate": "date of birth",
    "verification": "how your identity was verified",
}


@router.get("/receive", response_class=HTMLResponse)
def receive_form(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    offer: Annotated[str | None, Query(max_length=8192)] = None,
) -> Response:
    """The form for an offer link (``openid-credential-offer://…``) and its PIN."""
    return _page(
        request, templates, registry, "wallet/receive.html", {"offer": offer or "", "result": None}
    )


@router.post("/receive", response_class=HTMLResponse)
def receive_credential(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    http: WalletHttpDep,
    offer: Annotated[str, Form(max_length=8192)],
    csrf: Annotated[str, Form()],
    tx_code: Annotated[str | None, Form(max_length=16)] = None,
) -> Response:
    from ssar.wallet.receive import Receiver

    _check_csrf(request, csrf)
    wallet = _wallet(registry)
    try:
        wallet.init()
        received = Receiver(wallet=wallet, http=http, clock=registry.clock).receive(
            offer, tx_code=tx_code or None
        )
    except SsarError as exc:
        return _page(
            request,
            templates,
            registry,
            "wallet/receive.html",
            {"offer": offer, "result": None, "code": exc.code, "detail": exc.detail},
            status_code=400,
        )
    return _page(
        request,
        templates,
        registry,
        "wallet/receive.html",
        {
            "offer": "",
            "result": received.stored,
            "claims": [
                _CLAIM_NAMES.get(name, name)
                for name in received.claims
                if name not in _TECHNICAL_CLAIMS
            ],
        },
    )
