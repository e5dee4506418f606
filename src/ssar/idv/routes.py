"""HTTP endpoints of the reference IDV's credential issuer (OpenID4VCI 1.0, SD-JWT VC issuer
metadata, Token Status List). Each translates HTTP ⇄ one ``IssuanceService`` call; OAuth-style
errors (``{"error", "error_description"}``) for the protocol endpoints, problem responses
(``ssar.web.problems``) for the rest. The issuer identifier is ``SSAR_BASE_URL`` + ``/idv``.

- ``GET /.well-known/openid-credential-issuer/idv`` (and ``/idv/.well-known/…``): issuer metadata
- ``GET /.well-known/oauth-authorization-server/idv`` (and ``/idv/.well-known/…``): token endpoint
- ``GET /.well-known/jwt-vc-issuer/idv`` (and ``/idv/.well-known/…``): the issuer's keys
- ``GET /idv/jwks.json``: the issuer's keys
- ``GET /idv/offers/{ref}``: the credential offer (``credential_offer_uri``); ``…/qr.svg`` its QR
- ``POST /idv/token``: pre-authorized code (+ ``tx_code``) → access token
- ``POST /idv/nonce``: a fresh ``c_nonce``
- ``POST /idv/credential``: bearer access token + proof → the SD-JWT VC
- ``GET /idv/status/{list_id}``: the Status List Token (``application/statuslist+jwt``)
- ``GET|POST /idv/admin/credentials/{id}[/revoke|/suspend|/reinstate]``: admin bearer token
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ssar.credentials.statuslist import MEDIA_TYPE
from ssar.idv.errors import IssuanceError
from ssar.idv.oid4vci import PREFIX, IssuanceService
from ssar.web.auth import AdminPrincipal
from ssar.web.deps import RegistryDep

router = APIRouter(tags=["idv"])
NO_STORE = {"Cache-Control": "no-store"}
_NAME = PREFIX.strip("/")


def get_issuance(registry: RegistryDep) -> IssuanceService:
    """The deployment's issuance service (one per registry, built by the composition root)."""
    return registry.idv_issuance


IssuanceDep = Annotated[IssuanceService, Depends(get_issuance)]
OptionalForm = Annotated[str | None, Form()]


def oauth_error(exc: IssuanceError) -> JSONResponse:
    """RFC 6749 §5.2 / OpenID4VCI §8.3.1.2 error body; ``invalid_token`` is a 401 with
    ``WWW-Authenticate`` (RFC 6750 §3)."""
    headers = dict(NO_STORE)
    status = 400
    if exc.code == "invalid_token":
        status = 401
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(
        {"error": exc.code, "error_description": exc.detail}, status_code=status, headers=headers
    )


# --- metadata ------------------------------------------------------------------------------


@router.get(f"/.well-known/openid-credential-issuer/{_NAME}")
@router.get(f"{PREFIX}/.well-known/openid-credential-issuer")
def credential_issuer_metadata(issuance: IssuanceDep) -> dict[str, Any]:
    return issuance.credential_issuer_metadata()


@router.get(f"/.well-known/oauth-authorization-server/{_NAME}")
@router.get(f"{PREFIX}/.well-known/oauth-authorization-server")
def authorization_server_metadata(issuance: IssuanceDep) -> dict[str, Any]:
    return issuance.authorization_server_metadata()


@router.get(f"/.well-known/jwt-vc-issuer/{_NAME}")
@router.get(f"{PREFIX}/.well-known/jwt-vc-issuer")
def jwt_vc_issuer_metadata(issuance: IssuanceDep) -> dict[str, Any]:
    return issuance.jwt_vc_issuer_metadata()


@router.get(f"{PREFIX}/jwks.json")
def jwks(issuance: IssuanceDep) -> dict[str, Any]:
    return issuance.jwks()


# --- offers and the protocol endpoints --------------------------------------------------------


@router.get(f"{PREFIX}/offers/{{offer_ref}}")
def credential_offer(offer_ref: str, issuance: IssuanceDep) -> JSONResponse:
    return JSONResponse(issuance.credential_offer(offer_ref=offer_ref), headers=NO_STORE)


@router.get(f"{PREFIX}/offers/{{offer_ref}}/qr.svg", response_class=Response)
def credential_offer_qr(offer_ref: str, issuance: IssuanceDep) -> Response:
    svg = issuance.offer_qr_svg(offer_ref=offer_ref)
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.post(f"{PREFIX}/token")
def token(
    issuance: IssuanceDep,
    grant_type: OptionalForm = None,
    pre_authorized_code: Annotated[str | None, Form(alias="pre-authorized_code")] = None,
    tx_code: OptionalForm = None,
) -> JSONResponse:
    try:
        issued = issuance.exchange_token(
            grant_type=grant_type, pre_authorized_code=pre_authorized_code, tx_code=tx_code
        )
    except IssuanceError as exc:
        return oauth_error(exc)
    return JSONResponse(issued.to_json(), headers=NO_STORE)


@router.post(f"{PREFIX}/nonce")
def nonce(issuance: IssuanceDep) -> JSONResponse:
    return JSONResponse({"c_nonce": issuance.new_nonce()}, headers=NO_STORE)


@router.post(f"{PREFIX}/credential")
async def credential(request: Request, issuance: IssuanceDep) -> JSONResponse:
    scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
    raw = await request.body()
    try:
        if scheme.lower() != "bearer" or not access_token.strip():
            raise IssuanceError("a bearer access token is required", code="invalid_token")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IssuanceError(
                "the credential request is not JSON", code="invalid_credential_request"
            ) from exc
        if not isinstance(body, dict):
            raise IssuanceError(
                "the credential request is not a JSON object", code="invalid_credential_request"
            )
        issued = await run_in_threadpool(
            issuance.issue_credential, access_token=access_token.strip(), request=body
        )
    except IssuanceError as exc:
        return oauth_error(exc)
    return JSONResponse(issued.to_json(), headers=NO_STORE)


@router.get(f"{PREFIX}/status/{{list_id}}", response_class=Response)
def status_list(list_id: str, issuance: IssuanceDep) -> Response:
    token = issuance.status_lists.token(list_id)
    max_age = int(issuance.status_lists.ttl.total_seconds())
    return Response(token, media_type=MEDIA_TYPE, headers={"Cache-Control": f"max-age={max_age}"})


# --- administration ------------------------------------------------------------------------


class StatusChange(BaseModel):
    reason: str | None = Field(default=None, max_length=128)


class CredentialStatusResponse(BaseModel):
    credential_id: str
    status: str
    status_list_uri: str
    index: int


def _status_response(issuance: IssuanceService, credential_id: str) -> CredentialStatusResponse:
    status = issuance.status_lists.status(credential_id)
    return CredentialStatusResponse(
        credential_id=status.credential_id,
        status=status.status,
        status_list_uri=issuance.status_lists.uri(status.list_id),
        index=status.index,
    )


@router.get(f"{PREFIX}/admin/credentials/{{credential_id}}")
def credential_status(
    credential_id: str, principal: AdminPrincipal, issuance: IssuanceDep
) -> CredentialStatusResponse:
    return _status_response(issuance, credential_id)


@router.post(f"{PREFIX}/admin/credentials/{{credential_id}}/{{action}}")
def change_credential_status(
    credential_id: str,
    action: Literal["revoke", "suspend", "reinstate"],
    principal: AdminPrincipal,
    issuance: IssuanceDep,
    body: StatusChange | None = None,
) -> CredentialStatusResponse:
    reason = body.reason if body is not None else None
    change = {
        "revoke": issuance.status_lists.revoke,
        "suspend": issuance.status_lists.suspend,
        "reinstate": issuance.status_lists.reinstate,
    }[action]
    change(credential_id, reason=reason, actor=principal.actor)
    return _status_response(issuance, credential_id)
