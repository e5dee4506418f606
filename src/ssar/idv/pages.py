"""The reference identity verification service's pages: show a document, take a live selfie,
receive the credential. Routes translate HTTP into :class:`VerificationService` calls only."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from ssar.errors import Gone, NotFound, ValidationFailed
from ssar.idv.errors import DocumentError, IssuanceError
from ssar.idv.service import (
    DocumentEvidence,
    VerificationService,
    document_error_message,
    licence_evidence,
    mrz_evidence,
    passport_evidence,
)
from ssar.registry import Registry
from ssar.signin.sessions import CookieSpec
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import BrowserDep, Csrf, _page, _redirect

router = APIRouter(include_in_schema=False)
MAX_UPLOAD = 8 * 1024 * 1024
OIDC_COOKIE = "ssar_idv_oidc"


# --- the OpenID provider role (OIDC4IDA): a relying party sends the person here -------------


@router.get("/idv/.well-known/openid-configuration")
def openid_configuration(registry: RegistryDep) -> JSONResponse:
    return JSONResponse(registry.idv_openid_provider.metadata())


@router.get("/idv/oidc/authorize")
def openid_authorize(request: Request, registry: RegistryDep) -> Response:
    provider = registry.idv_openid_provider
    pending = provider.check_request(dict(request.query_params))
    response = _redirect("/idv")
    response.set_cookie(
        OIDC_COOKIE,
        provider.seal_request(pending),
        max_age=30 * 60,
        path="/",
        secure=registry.settings.https,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/idv/oidc/token")
async def openid_token(request: Request, registry: RegistryDep) -> JSONResponse:
    async with request.form(max_fields=8) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        answer = registry.idv_openid_provider.token(fields)
    except IssuanceError as exc:
        return JSONResponse({"error": exc.code, "error_description": exc.detail}, status_code=400)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.get("/idv/oidc/userinfo")
def openid_userinfo(request: Request, registry: RegistryDep) -> JSONResponse:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token:
            raise IssuanceError("a bearer token is required", code="invalid_token")
        answer = registry.idv_openid_provider.userinfo(token)
    except IssuanceError as exc:
        return JSONResponse(
            {"error": exc.code, "error_description": exc.detail},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return JSONResponse(answer)


def verification(registry: Registry) -> VerificationService:
    cached = registry.__dict__.get("idv_verification")
    if cached is None:
        cached = VerificationService(
            database=registry.database,
            clock=registry.clock,
            secret_key=registry.secret_key,
            issuance=registry.idv_issuance,
            csca_dir=registry.settings.var_dir / "idv" / "csca",
        )
        registry.__dict__["idv_verification"] = cached
    return cached


def _cookie(registry: Registry) -> CookieSpec:
    if registry.settings.https:
        return CookieSpec(name="__Host-ssar_idv", secure=True)
    return CookieSpec(name="ssar_idv", secure=False)


def _handle(request: Request, registry: Registry) -> str:
    handle = request.cookies.get(_cookie(registry).name)
    if not handle:
        raise NotFound("no identity verification in progress in this browser")
    return handle


async def _files(request: Request, names: tuple[str, ...]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    async with request.form(max_files=len(names), max_fields=4) as form:
        for name in names:
            upload = form.get(name)
            if not isinstance(upload, UploadFile):
                raise ValidationFailed(f"{name} is missing", field=name)
            data = await upload.read(MAX_UPLOAD + 1)
            if not data or len(data) > MAX_UPLOAD:
                raise ValidationFailed(f"{name} is empty or larger than 8 MB", field=name)
            out[name] = data
    return out


@router.get("/idv")
def idv_start(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    return _page(request, registry, templates, browser, "idv/start.html", {"error": None})


def _started(registry: Registry, evidence: DocumentEvidence) -> Response:
    view = verification(registry).start(evidence)
    response = _redirect("/idv/selfie")
    spec = _cookie(registry)
    response.set_cookie(
        spec.name,
        view.handle,
        max_age=30 * 60,
        path="/",
        secure=spec.secure,
        httponly=True,
        samesite="lax",
    )
    return response


async def _document(
    request: Request, registry: Registry, templates: object, browser: object, kind: str
) -> Response:
    from starlette.concurrency import run_in_threadpool

    now = registry.clock.now()
    try:
        if kind == "licence":
            files = await _files(request, ("front", "back"))
            evidence = await run_in_threadpool(
                licence_evidence, files["front"], files["back"], now=now
            )
        elif kind == "mrz":
            mrz, files = await _mrz_form(request)
            evidence = await run_in_threadpool(mrz_evidence, mrz, files["photo"], now=now)
        else:
            files = await _files(request, ("sod", "dg1", "dg2"))
            service = verification(registry)
            evidence = await run_in_threadpool(
                lambda: passport_evidence(
                    sod=files["sod"], dg1=files["dg1"], dg2=files["dg2"], csca=service.csca, now=now
                )
            )
    except DocumentError as exc:
        response = _page(
            request,
            registry,
            templates,
            browser,  # type: ignore[arg-type]
            "idv/start.html",
            {"error": document_error_message(exc), "code": exc.code},
        )
        response.status_code = 422
        return response
    return _started(registry, evidence)


@router.post("/idv/licence")
async def idv_licence(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
) -> Response:
    return await _document(request, registry, templates, browser, "licence")


async def _mrz_form(request: Request) -> tuple[str, dict[str, bytes]]:
    async with request.form(max_files=1, max_fields=4) as form:
        mrz = form.get("mrz")
        photo = form.get("photo")
        if not isinstance(mrz, str) or not mrz.strip() or len(mrz) > 200:
            raise ValidationFailed("the machine readable zone is missing", field="mrz")
        if not isinstance(photo, UploadFile):
            raise ValidationFailed("the photo of the data page is missing", field="photo")
        data = await photo.read(MAX_UPLOAD + 1)
        if not data or len(data) > MAX_UPLOAD:
            raise ValidationFailed("the photo is empty or larger than 8 MB", field="photo")
    return mrz.strip().upper(), {"photo": data}


@router.post("/idv/mrz")
async def idv_mrz(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
) -> Response:
    return await _document(request, registry, templates, browser, "mrz")


@router.post("/idv/passport")
async def idv_passport(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    browser: BrowserDep,
    _csrf: Csrf,
) -> Response:
    return await _document(request, registry, templates, browser, "passport")


@router.get("/idv/selfie")
def idv_selfie(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    service = verification(registry)
    handle = _handle(request, registry)
    view = service.view(handle)
    if view.state != "selfie":
        return _redirect("/idv/offer")
    return _page(
        request,
        registry,
        templates,
        browser,
        "recovery/face.html",
        {
            "challenge": service.challenge(handle),
            "probe_url": "/idv/selfie/probe",
            "submit_url": "/idv/selfie",
            "attempts_left": view.attempts_left,
        },
    )


@router.post("/idv/selfie/probe")
async def idv_selfie_probe(request: Request, registry: RegistryDep, _csrf: Csrf) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    from ssar.recovery.service import probe_pose
    from ssar.web.recovery import read_frame

    _handle(request, registry)
    return JSONResponse(await run_in_threadpool(probe_pose, await read_frame(request)))


@router.post("/idv/selfie")
async def idv_selfie_submit(request: Request, registry: RegistryDep, _csrf: Csrf) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    from ssar.web.recovery import _frames

    handle = _handle(request, registry)
    token, frames = await _frames(request)
    service = verification(registry)
    provider = registry.idv_openid_provider
    pending = provider.open_request(request.cookies.get(OIDC_COOKIE))
    try:
        view = await run_in_threadpool(
            lambda: service.submit_selfie(handle, token=token, frames=frames, offer=pending is None)
        )
    except Gone:
        return JSONResponse({"redirect": "/idv/offer"})
    if pending is not None and view.identity is not None and view.document_hash is not None:
        # an OpenID Connect relying party sent the person: back to it with a code
        back = provider.grant(pending, identity=view.identity, document_hash=view.document_hash)
        response = JSONResponse({"redirect": back})
        response.delete_cookie(OIDC_COOKIE, path="/")
        return response
    if view.state == "selfie":
        return JSONResponse(
            {
                "retry": {
                    "message": view.message or "Please try again.",
                    "attempts_left": view.attempts_left,
                    "challenge": service.challenge(handle),
                }
            }
        )
    return JSONResponse({"redirect": "/idv/offer"})


@router.get("/idv/offer")
def idv_offer(
    request: Request, registry: RegistryDep, templates: TemplatesDep, browser: BrowserDep
) -> Response:
    view = verification(registry).view(_handle(request, registry))
    if view.state == "selfie":
        return _redirect("/idv/selfie")
    wallet_url = None
    if view.offer is not None and registry.settings.demo:
        wallet_url = "/wallet/receive?" + urlencode({"offer": view.offer["link"]})
    return _page(
        request,
        registry,
        templates,
        browser,
        "idv/offer.html",
        {"state": view.state, "offer": view.offer, "wallet_url": wallet_url},
    )
