"""Admin center: the tenant's Temporary Access Pass policy (R25), stored for every process."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ssar.admin.roles import CONFIG_MANAGE
from ssar.admin.web import AdminDep, redirect, register_notices, render
from ssar.config import TapPolicy
from ssar.errors import ValidationFailed
from ssar.signin.tap import MIN_LENGTH, tap_entropy_bits
from ssar.web.deps import RegistryDep, TemplatesDep, client_ip
from ssar.web.pages import Csrf

router = APIRouter(prefix="/admin", include_in_schema=False)
register_notices({"tap_policy_saved": "The Temporary Access Pass policy was saved."})

FIELDS = ("length", "lifetime_minutes", "min_lifetime_minutes", "max_lifetime_minutes")


@router.get("/tap-policy")
def tap_policy_page(
    request: Request, registry: RegistryDep, templates: TemplatesDep, admin: AdminDep
) -> Response:
    policy = registry.signin.taps.policy
    return _form(request, templates, admin, registry, values=policy.model_dump(), errors={})


@router.post("/tap-policy")
def save_tap_policy(
    request: Request,
    registry: RegistryDep,
    templates: TemplatesDep,
    admin: AdminDep,
    _csrf: Csrf,
    length: Annotated[str, Form()],
    lifetime_minutes: Annotated[str, Form()],
    min_lifetime_minutes: Annotated[str, Form()],
    max_lifetime_minutes: Annotated[str, Form()],
    one_time: Annotated[str | None, Form()] = None,
) -> Response:
    admin.require(CONFIG_MANAGE)
    values: dict[str, Any] = {
        "length": length,
        "lifetime_minutes": lifetime_minutes,
        "min_lifetime_minutes": min_lifetime_minutes,
        "max_lifetime_minutes": max_lifetime_minutes,
        "one_time": one_time is not None,
    }
    errors: dict[str, str] = {}
    try:
        policy = TapPolicy.model_validate(values)
        registry.signin.taps.set_policy(policy, actor=admin.actor, ip=client_ip(request))
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "lifetime_minutes"
            message = str(error["msg"]).removeprefix("Value error, ")
            errors.setdefault(field if field in FIELDS else "lifetime_minutes", message)
    except ValidationFailed as exc:
        errors[exc.field or "length"] = exc.detail
    if errors:
        return _form(
            request, templates, admin, registry, values=values, errors=errors, status_code=422
        )
    return redirect("/admin/tap-policy?done=tap_policy_saved")


def _form(
    request: Request,
    templates: TemplatesDep,
    admin: AdminDep,
    registry: RegistryDep,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    default = registry.signin.taps.default_policy
    try:
        bits = round(tap_entropy_bits(int(values["length"])))
    except (TypeError, ValueError):
        bits = None
    return render(
        request,
        templates,
        admin,
        "admin/tap_policy.html",
        {
            "values": values,
            "errors": errors,
            "default": default.model_dump(),
            "bits": bits,
            "min_length": MIN_LENGTH,
        },
        section="tap-policy",
        status_code=status_code,
    )
