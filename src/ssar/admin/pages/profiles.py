"""Admin center: identity verification profiles — the list with the "which profile applies"
tester, a profile's page, the create/edit form, the mode switch and deletion (each change with
a confirmation page). Every change goes through ``ProfileService`` with the admin as actor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ssar.admin import profile_forms as forms
from ssar.admin.profile_admin import flow_counts, form_context, group_choices, provider_choices
from ssar.admin.roles import CONFIG_MANAGE
from ssar.admin.web import AdminContext, AdminDep, redirect, register_notices, render
from ssar.errors import ValidationFailed
from ssar.profiles.models import Profile
from ssar.registry import Registry
from ssar.web.deps import RegistryDep, TemplatesDep
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)

register_notices(
    {
        "profile_created": "Profile created in evaluation mode. Try it with a test user, then "
        "watch the case in the recovery reports.",
        "profile_created_production": "Profile created in production mode.",
        "profile_updated": "Profile saved.",
        "profile_deleted": "Profile deleted.",
        "profile_production": "The profile is now in production: a successful recovery "
        "restores the account.",
        "profile_evaluation": "The profile is back in evaluation: recovery changes no account.",
    }
)

SECTION = "profiles"
#: outcome → (label, badge tone) of the "which profile applies" trace
TRACE_OUTCOMES = {
    "applies": ("Applies", "success"),
    "excluded": ("Excluded", "danger"),
    "not_included": ("Not included", "muted"),
    "privileged": ("Privileged account", "warn"),
}


@router.get("/profiles")
def profiles_page(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    user: str = "",
) -> Response:
    username = user.strip()[:256]
    decision = registry.profiles.which(username) if username else None
    return render(
        request,
        templates,
        admin,
        "admin/profiles.html",
        {
            "profiles": registry.profiles.list(),
            "which_user": username,
            "decision": decision,
            "trace_outcomes": TRACE_OUTCOMES,
        },
        section=SECTION,
    )


@router.get("/profiles/new")
def new_profile_form(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    admin.require(CONFIG_MANAGE)
    policy = registry.signin.taps.policy
    form = forms.blank(
        priority=forms.next_priority(p.priority for p in registry.profiles.list()),
        tap_lifetime=policy.lifetime_minutes,
        tap_one_time=policy.one_time,
    )
    return _form_page(request, registry, templates, admin, form, profile=None)


@router.post("/profiles/new")
async def create_profile(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep, _csrf: Csrf
) -> Response:
    admin.require(CONFIG_MANAGE)
    form = forms.parse(await _form_data(request))
    names = form.include_list + form.exclude_list
    context = form_context(registry, names=names)
    try:
        name, fields = forms.to_fields(form, context, new=True)
        result = registry.profiles.put(name=name, fields=fields, actor=admin.actor)
    except forms.FormInvalid as exc:
        return _form_page(request, registry, templates, admin, form, None, errors=exc.errors)
    except ValidationFailed as exc:
        errors = forms.errors_from_service(exc)
        return _form_page(request, registry, templates, admin, form, None, errors=errors)
    done = (
        "profile_created" if result.profile.mode == "evaluation" else "profile_created_production"
    )
    return redirect(f"/admin/profiles/{result.profile.id}?done={done}")


@router.get("/profiles/{profile_id}")
def profile_page(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    profile = registry.profiles.get_by_id(profile_id)
    return render(
        request,
        templates,
        admin,
        "admin/profile.html",
        {
            "profile": profile,
            "document": profile.to_document(),
            "labels": forms.ATTRIBUTE_LABELS,
            "flows": flow_counts(registry, profile.id),
        },
        section=SECTION,
    )


@router.get("/profiles/{profile_id}/edit")
def edit_profile_form(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    return _form_page(request, registry, templates, admin, forms.from_profile(profile), profile)


@router.post("/profiles/{profile_id}/edit")
async def save_profile(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    # the name identifies the profile (YAML, API); the form does not rename it
    form = forms.parse({**(await _form_data(request)), "name": [profile.name]})
    context = form_context(registry, names=form.include_list + form.exclude_list, editing=profile)
    try:
        name, fields = forms.to_fields(form, context, new=False)
        registry.profiles.put(name=name, fields=fields, actor=admin.actor)
    except forms.FormInvalid as exc:
        return _form_page(request, registry, templates, admin, form, profile, errors=exc.errors)
    except ValidationFailed as exc:
        errors = forms.errors_from_service(exc)
        return _form_page(request, registry, templates, admin, form, profile, errors=errors)
    return redirect(f"/admin/profiles/{profile.id}?done=profile_updated")


@router.get("/profiles/{profile_id}/mode")
def mode_page(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    return _mode_page(request, registry, templates, admin, profile)


@router.post("/profiles/{profile_id}/mode")
async def switch_mode(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    data = await _form_data(request)
    target = (data.get("mode") or [""])[-1]
    if target != _other_mode(profile.mode):
        # a stale page (someone switched it meanwhile) or a forged value: show the page again
        return _mode_page(
            request,
            registry,
            templates,
            admin,
            profile,
            error="The profile's mode changed meanwhile; check what this switch does now.",
        )
    if not data.get("confirm"):
        return _mode_page(
            request,
            registry,
            templates,
            admin,
            profile,
            error="Tick “I understand” to confirm the switch.",
        )
    registry.profiles.set_mode(profile.name, target, actor=admin.actor)
    return redirect(f"/admin/profiles?done=profile_{target}")


@router.get("/profiles/{profile_id}/delete")
def delete_page(
    profile_id: str,
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    return render(
        request,
        templates,
        admin,
        "admin/profile_delete.html",
        {"profile": profile, "flows": flow_counts(registry, profile.id)},
        section=SECTION,
    )


@router.post("/profiles/{profile_id}/delete")
def delete_profile(
    profile_id: str, registry: RegistryDep, admin: AdminDep, _csrf: Csrf
) -> Response:
    admin.require(CONFIG_MANAGE)
    profile = registry.profiles.get_by_id(profile_id)
    registry.profiles.delete(profile.name, actor=admin.actor)
    return redirect("/admin/profiles?done=profile_deleted")


# --- helpers -------------------------------------------------------------------------------


async def _form_data(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {
        key: [v for v in form.getlist(key) if isinstance(v, str)]
        for key in form
        if key != "csrf_token"
    }


def _other_mode(mode: str) -> str:
    return "evaluation" if mode == "production" else "production"


def _form_page(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    form: forms.ProfileForm,
    profile: Profile | None,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    policy = registry.signin.taps.policy
    issuers = []
    if profile is not None and profile.credentials is not None:
        issuers = [i.iss for i in profile.credentials.issuers]
    return render(
        request,
        templates,
        admin,
        "admin/profile_form.html",
        {
            "form": form,
            "profile": profile,
            "errors": errors or {},
            "error_summary": forms.summary(errors or {}),
            "groups": group_choices(registry),
            "providers": provider_choices(registry),
            "attributes": forms.ATTRIBUTE_LABELS,
            "issuers": issuers,
            "policy": policy,
            "thresholds": (forms.MIN_THRESHOLD, forms.MAX_THRESHOLD),
        },
        section=SECTION,
        status_code=422 if errors else 200,
    )


def _mode_page(
    request: Request,
    registry: Registry,
    templates: Any,
    admin: AdminContext,
    profile: Profile,
    *,
    error: str | None = None,
) -> Response:
    return render(
        request,
        templates,
        admin,
        "admin/profile_mode.html",
        {
            "profile": profile,
            "target": _other_mode(profile.mode),
            "flows": flow_counts(registry, profile.id),
            "error": error,
        },
        section=SECTION,
        status_code=422 if error else 200,
    )
