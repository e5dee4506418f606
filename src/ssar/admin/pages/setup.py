"""Admin center: the guided first-run set-up — from an empty organisation to a profile in
evaluation mode in four short steps (directory, who, how, review). The answers travel in the
query string and hidden fields; the profile is judged by the same form code as the profile
pages and created through ``ProfileService`` with the admin as actor."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from ssar.admin import profile_forms as forms
from ssar.admin.profile_admin import (
    directory_counts,
    form_context,
    group_choices,
    largest_group,
    provider_choices,
)
from ssar.admin.roles import CONFIG_MANAGE, USERS_MANAGE
from ssar.admin.setup_flow import DEFAULT_WALLET_TYPE, SetupState, progress, step_for
from ssar.admin.web import AdminContext, AdminDep, redirect, register_notices, render
from ssar.errors import ValidationFailed
from ssar.profiles.schema import ProfileFields
from ssar.registry import Registry
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)

register_notices({"setup_imported": "Users imported."})

SECTION = "profiles"
MAX_CSV_BYTES = 20 * 1024 * 1024


@router.get("/setup")
def setup_directory(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    created: int | None = None,
    skipped: int = 0,
    groups: int = 0,
    rejected: int = 0,
) -> Response:
    admin.require(CONFIG_MANAGE)
    imported = None
    if created is not None:
        imported = {"created": created, "skipped": skipped, "groups": groups, "rejected": rejected}
    return _directory_page(request, registry, templates, admin, imported=imported)


@router.post("/setup/import")
async def setup_import(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep, _csrf: Csrf
) -> Response:
    async with request.form(max_files=1, max_fields=4) as form:  # closes the upload
        admin.require(CONFIG_MANAGE)
        admin.require(USERS_MANAGE)
        upload = form.get("users")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _directory_page(
                request, registry, templates, admin, error="Choose a CSV file to upload."
            )
        content = await upload.read(MAX_CSV_BYTES + 1)
    if len(content) > MAX_CSV_BYTES:
        error = (
            f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; use `ssar users import`."
        )
        return _directory_page(request, registry, templates, admin, error=error)
    try:
        text = content.decode("utf-8-sig")
        result = registry.directory.import_users_csv(
            io.StringIO(text, newline=""), actor=admin.actor
        )
    except UnicodeDecodeError:
        return _directory_page(
            request, registry, templates, admin, error="The file is not UTF-8 text."
        )
    except ValidationFailed as exc:
        return _directory_page(request, registry, templates, admin, error=exc.detail)
    if result.errors:
        return _directory_page(
            request,
            registry,
            templates,
            admin,
            imported={
                "created": result.created,
                "skipped": result.skipped,
                "groups": len(result.groups_created),
                "rejected": result.rejected,
            },
            row_errors=result.errors[:20],
        )
    return redirect(
        f"/admin/setup?created={result.created}&skipped={result.skipped}"
        f"&groups={len(result.groups_created)}&rejected=0"
    )


@router.get("/setup/who")
def setup_who(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    admin.require(CONFIG_MANAGE)
    state = SetupState.parse(_query(request))
    return _who_page(request, registry, templates, admin, state)


@router.get("/setup/how")
def setup_how(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    admin.require(CONFIG_MANAGE)
    state = SetupState.parse(_query(request))
    errors = _judge(registry, state)
    if step_for(errors) == "who":
        return _who_page(request, registry, templates, admin, state, errors=errors)
    return _how_page(request, registry, templates, admin, state)


@router.get("/setup/review")
def setup_review(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    admin.require(CONFIG_MANAGE)
    state = SetupState.parse(_query(request))
    return _review_or_earlier(request, registry, templates, admin, state, _judge(registry, state))


@router.post("/setup/create")
async def setup_create(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep, _csrf: Csrf
) -> Response:
    admin.require(CONFIG_MANAGE)
    form = await request.form()
    data = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    state = SetupState.parse(data)
    name, fields, errors = _profile(registry, state)
    if errors or fields is None:
        return _review_or_earlier(request, registry, templates, admin, state, errors)
    try:
        result = registry.profiles.put(name=name, fields=fields, actor=admin.actor)
    except ValidationFailed as exc:
        errors = forms.errors_from_service(exc)
        return _review_or_earlier(request, registry, templates, admin, state, errors)
    return redirect(f"/admin/setup/done?profile={result.profile.id}")


@router.get("/setup/done")
def setup_done(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    profile: str = "",
) -> Response:
    admin.require(CONFIG_MANAGE)
    created = registry.profiles.get_by_id(profile)
    return render(
        request,
        templates,
        admin,
        "admin/setup_done.html",
        {"profile": created, "steps": progress("finished")},
        section=SECTION,
    )


# --- helpers -------------------------------------------------------------------------------


def _query(request: Request) -> dict[str, list[str]]:
    params = request.query_params
    return {key: params.getlist(key) for key in params}


def _profile(
    registry: Registry, state: SetupState
) -> tuple[str, ProfileFields | None, dict[str, str]]:
    policy = registry.signin.taps.policy
    form = state.to_form(
        priority=forms.next_priority(p.priority for p in registry.profiles.list()),
        tap_lifetime=policy.lifetime_minutes,
        tap_one_time=policy.one_time,
    )
    context = form_context(registry, names=state.include + state.exclude)
    try:
        name, fields = forms.to_fields(form, context, new=True)
    except forms.FormInvalid as exc:
        return form.name, None, exc.errors
    return name, fields, {}


def _judge(registry: Registry, state: SetupState) -> dict[str, str]:
    """The errors of the answers given so far (only the steps already answered)."""
    errors = _profile(registry, state)[2]
    if "how" not in state.chosen:
        errors = {k: v for k, v in errors.items() if step_for({k: v}) == "who"}
    return errors


def _review_or_earlier(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    state: SetupState,
    errors: dict[str, str],
) -> Response:
    step = step_for(errors) if errors else "review"
    if step == "who":
        return _who_page(request, registry, templates, admin, state, errors=errors)
    if step == "how":
        return _how_page(request, registry, templates, admin, state, errors=errors)
    policy = registry.signin.taps.policy
    return render(
        request,
        templates,
        admin,
        "admin/setup_review.html",
        {
            "state": state,
            "errors": errors,
            "steps": progress("review"),
            "providers": dict(provider_choices(registry)),
            "policy": policy,
            "hidden": [(k, v) for k, v in state.fields(through="how")],
            "back": state.link("/admin/setup/how", through="how"),
            "who_link": state.link("/admin/setup/who", through="who"),
            "priority": forms.next_priority(p.priority for p in registry.profiles.list()),
        },
        section=SECTION,
        status_code=422 if errors else 200,
    )


def _directory_page(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    *,
    imported: dict[str, int] | None = None,
    row_errors: Any = (),
    error: str | None = None,
) -> Response:
    return render(
        request,
        templates,
        admin,
        "admin/setup.html",
        {
            "counts": directory_counts(registry),
            "profiles": registry.profiles.list(),
            "imported": imported,
            "row_errors": row_errors,
            "error": error,
            "steps": progress("directory"),
        },
        section=SECTION,
        status_code=422 if error else 200,
    )


def _who_page(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    state: SetupState,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    groups = group_choices(registry)
    include = list(state.include)
    if not state.chosen and not include:
        proposed = largest_group(registry)  # usually everyone's group, such as "All Staff"
        include = [proposed] if proposed else []
    return render(
        request,
        templates,
        admin,
        "admin/setup_who.html",
        {
            "state": state,
            "include": include,
            "groups": groups,
            "errors": errors or {},
            "steps": progress("who"),
        },
        section=SECTION,
        status_code=422 if errors else 200,
    )


def _how_page(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    state: SetupState,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        templates,
        admin,
        "admin/setup_how.html",
        {
            "state": state,
            "errors": errors or {},
            "steps": progress("how"),
            "oidc": [(v, label) for v, label in provider_choices(registry) if ":" in v],
            "hidden": state.fields(through="who"),
            "back": state.link("/admin/setup/who", through="who"),
            "wallet_type": state.credential_type or DEFAULT_WALLET_TYPE,
        },
        section=SECTION,
        status_code=422 if errors else 200,
    )
