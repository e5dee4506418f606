"""HTTP endpoints of the OpenID4VP verifier; each translates HTTP ⇄ one ``PresentationService``
call. Errors become problem responses in ``ssar.web.problems``.

- ``GET|POST /openid4vp/request/{request_id}``: the Request Object (``request_uri``)
- ``GET /openid4vp/request/{request_id}/qr.svg``: QR code of the wallet link
- ``POST /openid4vp/response``: the response endpoint (``response_uri``)
- ``GET /openid4vp/transactions/{transaction_id}``: status for polling front ends
- ``GET /openid4vp/return?response_code=…``: the default same-device return page
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ssar.errors import CredentialError
from ssar.openid4vp.request_object import MEDIA_TYPE
from ssar.web.deps import RegistryDep, TemplatesDep

router = APIRouter(prefix="/openid4vp", tags=["openid4vp"])
NO_STORE = {"Cache-Control": "no-store"}
OptionalForm = Annotated[str | None, Form()]


@router.get("/request/{request_id}", response_class=Response)
def get_request_object(request_id: str, registry: RegistryDep) -> Response:
    token = registry.presentations.request_object(request_id=request_id)
    return Response(token, media_type=MEDIA_TYPE, headers=NO_STORE)


@router.post("/request/{request_id}", response_class=Response)
def post_request_object(
    request_id: str,
    registry: RegistryDep,
    wallet_metadata: OptionalForm = None,
    wallet_nonce: OptionalForm = None,
) -> Response:
    token = registry.presentations.request_object(
        request_id=request_id, wallet_metadata=wallet_metadata, wallet_nonce=wallet_nonce
    )
    return Response(token, media_type=MEDIA_TYPE, headers=NO_STORE)


@router.get("/request/{request_id}/qr.svg", response_class=Response)
def request_qr(request_id: str, registry: RegistryDep) -> Response:
    svg = registry.presentations.qr_svg(request_id=request_id)
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.post("/response")
def post_response(
    registry: RegistryDep,
    vp_token: OptionalForm = None,
    state: OptionalForm = None,
    response: OptionalForm = None,
    error: OptionalForm = None,
    error_description: OptionalForm = None,
) -> JSONResponse:
    form = {
        name: value
        for name, value in {
            "vp_token": vp_token,
            "state": state,
            "response": response,
            "error": error,
            "error_description": error_description,
        }.items()
        if value is not None
    }
    accepted = registry.presentations.receive_response(form=form)
    body: dict[str, Any] = {}
    if accepted.redirect_uri is not None:
        body["redirect_uri"] = accepted.redirect_uri
    return JSONResponse(body, headers=NO_STORE)


@router.get("/transactions/{transaction_id}")
def transaction_status(transaction_id: str, registry: RegistryDep) -> JSONResponse:
    status = registry.presentations.status(transaction_id=transaction_id)
    return JSONResponse(
        {
            "status": status.status,
            "error": status.error_code,
            "expires_at": status.expires_at.isoformat(),
        },
        headers=NO_STORE,
    )


@router.get("/return", response_class=HTMLResponse)
def same_device_return(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    response_code: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    try:
        if response_code is None:
            raise CredentialError("no response code", code="response_code_mismatch")
        result = registry.presentations.take_result(response_code=response_code)
    except CredentialError as exc:
        return templates.TemplateResponse(
            request,
            "wallet/verifier_result.html",
            {"verified": False, "error": exc.code, "credentials": []},
            status_code=400,
            headers=NO_STORE,
        )
    return templates.TemplateResponse(
        request,
        "wallet/verifier_result.html",
        {"verified": True, "error": None, "credentials": result.credentials},
        headers=NO_STORE,
    )
