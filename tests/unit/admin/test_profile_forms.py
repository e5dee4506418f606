"""The profile form ⇄ ProfileFields conversion and its per-field errors; the set-up's state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from ssar.admin import profile_forms as forms
from ssar.admin.setup_flow import SetupState, progress, step_for
from ssar.errors import ValidationFailed
from ssar.profiles.models import (
    ClaimRule,
    CredentialPolicy,
    ExtensionEndpoint,
    FaceCheckPolicy,
    GroupRef,
    Profile,
    TapSettings,
    TrustedIssuer,
    ValidationRules,
)
from ssar.profiles.schema import ProfileValidationFailed

CONTEXT = forms.FormContext(
    groups={"all staff": "All Staff", "executives": "Executives", "board": "Board"},
    taken_priorities={10: "Employees"},
    tap_min=10,
    tap_max=480,
    providers=("reference", "openid4vp", "oidc_ida:bank"),
)


def _data(**values: str | Sequence[str]) -> dict[str, list[str]]:
    base: dict[str, str | Sequence[str]] = {
        "name": "Contractors",
        "priority": "20",
        "mode": "evaluation",
        "include_groups": ["All Staff"],
        "provider": "reference",
        "match": "exact",
        "claim_given_name": "given_name",
        "claim_family_name": "family_name",
        "face_required": "1",
        "face_threshold": "70",
        "tap_lifetime": "60",
        "tap_one_time": "1",
    }
    base.update(values)
    return {k: [v] if isinstance(v, str) else list(v) for k, v in base.items()}


def _errors(data: dict[str, list[str]], context: forms.FormContext = CONTEXT) -> dict[str, str]:
    with pytest.raises(forms.FormInvalid) as caught:
        forms.to_fields(forms.parse(data), context, new=True)
    return caught.value.errors


def test_a_valid_form_becomes_profile_fields() -> None:
    name, fields = forms.to_fields(
        forms.parse(
            _data(
                include_groups=["all staff"],  # the directory's spelling is used
                exclude_groups=["Executives\nBoard"],
                claim_birthdate="birthdate, dob",
                extension_url="https://hr.example.org/validate",
                extension_timeout="2.5",
            )
        ),
        CONTEXT,
        new=True,
    )
    assert name == "Contractors"
    assert fields.mode == "evaluation"
    assert fields.include_groups == ["All Staff"]
    assert fields.exclude_groups == ["Executives", "Board"]
    assert fields.validation.claims == {
        "given_name": "given_name",
        "family_name": "family_name",
        "birthdate": "birthdate",
        "dob": "birthdate",
    }
    assert fields.validation.extension is not None
    assert fields.validation.extension.timeout_seconds == 2.5
    assert (fields.face_check.required, fields.face_check.threshold) == (True, 70)
    assert (fields.tap.lifetime_minutes, fields.tap.one_time) == (60, True)
    assert fields.credentials is None


def test_unticked_checkboxes_are_false() -> None:
    data = _data()
    del data["face_required"], data["tap_one_time"]
    _, fields = forms.to_fields(forms.parse(data), CONTEXT, new=True)
    assert fields.face_check.required is False
    assert fields.tap.one_time is False
    assert fields.allow_privileged is False


def test_an_existing_profile_keeps_its_mode() -> None:
    _, fields = forms.to_fields(forms.parse(_data(mode="production")), CONTEXT, new=False)
    assert fields.mode is None  # the service keeps the stored mode


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"priority": "10"}, "priority", "already used by profile “Employees”"),
        ({"priority": "ten"}, "priority", "whole number"),
        ({"priority": "0"}, "priority", "must be from 1"),
        ({"include_groups": ["All Staff", "Nope"]}, "include_groups", "not in the directory: Nope"),
        ({"include_groups": []}, "include_groups", "at least one group"),
        ({"exclude_groups": ["All Staff"]}, "exclude_groups", "both included and excluded"),
        ({"face_threshold": "101"}, "face_threshold", "must be from 50 to 100 (got 101)"),
        ({"face_threshold": "49"}, "face_threshold", "must be from 50 to 100"),
        ({"tap_lifetime": "481"}, "tap_lifetime", "TAP policy: 10 to 480 minutes"),
        ({"provider": "magic"}, "provider", "listed providers"),
        ({"name": ""}, "name", ""),
        ({"name": "a/b"}, "name", "without '/'"),
        ({"claim_given_name": ""}, "claims", "given_name"),
        ({"extension_url": "http://hr.example.org"}, "extension_url", "https"),
        ({"extension_timeout": "3"}, "extension_timeout", "needs an extension URL"),
        (
            {"extension_url": "https://hr.example.org", "extension_timeout": "11"},
            "extension_timeout",
            "10",
        ),
        ({"match": "fuzzy"}, "match", ""),
    ],
)
def test_each_error_belongs_to_its_field(
    values: dict[str, str | Sequence[str]], field: str, message: str
) -> None:
    errors = _errors(_data(**values))
    assert field in errors, errors
    assert message in errors[field]


def test_a_new_profile_needs_a_free_name_and_an_edit_keeps_its_own() -> None:
    context = forms.FormContext(**{**CONTEXT.__dict__, "taken_names": frozenset({"employees"})})
    assert "exists already" in _errors(_data(name="EMPLOYEES"), context)["name"]
    name, _ = forms.to_fields(forms.parse(_data(name="Employees")), context, new=False)
    assert name == "Employees"


def test_all_errors_are_reported_at_once_in_page_order() -> None:
    errors = _errors(_data(face_threshold="101", priority="10", include_groups=["Nope"]))
    assert list(errors) == ["priority", "include_groups", "face_threshold"]
    summary = forms.summary(errors)
    assert summary[0][:2] == ("priority", "Priority")


def test_a_wallet_profile_needs_types_and_an_issuer() -> None:
    errors = _errors(_data(provider="openid4vp"))
    assert "trusted issuer" in errors["issuer_iss"]
    half = _errors(_data(provider="openid4vp", issuer_iss="https://pid.example.eu"))
    assert half["issuer_jwks_uri"] == "is required with an issuer identifier"
    no_types = _errors(
        _data(
            provider="openid4vp",
            issuer_iss="https://pid.example.eu",
            issuer_jwks_uri="https://pid.example.eu/jwks.json",
        )
    )
    assert "credential type" in no_types["credential_types"]
    _, fields = forms.to_fields(
        forms.parse(
            _data(
                provider="openid4vp",
                credential_types="urn:eudi:pid:1\n\nurn:eudi:pid:1\norg.iso.18013.5.1.mDL",
                issuer_iss="https://pid.example.eu",
                issuer_jwks_uri="https://pid.example.eu/jwks.json",
            )
        ),
        CONTEXT,
        new=True,
    )
    assert fields.credentials is not None
    assert fields.credentials.types == ["urn:eudi:pid:1", "org.iso.18013.5.1.mDL"]
    assert fields.credentials.issuers[0].jwks_uri == "https://pid.example.eu/jwks.json"


def test_stored_issuers_are_kept_and_types_replaced() -> None:
    context = forms.FormContext(
        **{
            **CONTEXT.__dict__,
            "issuers": (
                {"iss": "https://idv.example.org", "jwks_uri": "https://idv.example.org/j"},
            ),
        }
    )
    _, fields = forms.to_fields(
        forms.parse(_data(provider="openid4vp", credential_types="urn:x:1")), context, new=False
    )
    assert fields.credentials is not None
    assert [i.iss for i in fields.credentials.issuers] == ["https://idv.example.org"]
    assert fields.credentials.types == ["urn:x:1"]


def test_oidc_ida_takes_no_credentials_and_reference_types_need_an_issuer() -> None:
    _, fields = forms.to_fields(
        forms.parse(_data(provider="oidc_ida:bank", credential_types="urn:x:1")), CONTEXT, new=True
    )
    assert fields.credentials is None
    errors = _errors(_data(credential_types="urn:x:1"))
    assert "need a trusted issuer" in errors["credential_types"]


def _profile() -> Profile:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Profile(
        id="p1",
        name="Employees",
        description="Everyone",
        mode="production",
        priority=10,
        include_groups=(GroupRef("g1", "All Staff"),),
        exclude_groups=(GroupRef("g2", "Executives"), GroupRef("g3", "Board")),
        allow_privileged=True,
        provider="openid4vp",
        credentials=CredentialPolicy(
            types=("urn:eudi:pid:1",),
            issuers=(TrustedIssuer("https://pid.example.eu", jwks_uri="https://pid.example.eu/j"),),
        ),
        validation=ValidationRules(
            match="relaxed",
            claims=(
                ClaimRule("given_name", "given_name"),
                ClaimRule("family_name", "family_name"),
                ClaimRule("personal_administrative_number", "employee_id"),
            ),
            extension=ExtensionEndpoint("https://hr.example.org/v", 3.0),
        ),
        face_check=FaceCheckPolicy(required=True, threshold=85),
        tap=TapSettings(lifetime_minutes=30, one_time=False),
        created_at=now,
        updated_at=now,
    )


def test_a_stored_profile_fills_the_form_and_round_trips() -> None:
    profile = _profile()
    form = forms.from_profile(profile)
    assert form.priority == "10"
    assert form.exclude_list == ["Executives", "Board"]
    assert form.claim_for("employee_id") == "personal_administrative_number"
    assert form.extension_timeout == "3"
    assert form.tap_one_time is False
    context = forms.FormContext(
        **{
            **CONTEXT.__dict__,
            "taken_priorities": {},
            "issuers": (profile.to_document()["credentials"]["issuers"][0],),
        }
    )
    _, fields = forms.to_fields(form, context, new=False)
    document = profile.to_document()
    for key in ("priority", "include_groups", "exclude_groups", "allow_privileged", "provider"):
        assert getattr(fields, key) == document[key], key
    assert fields.validation.model_dump(exclude_none=True) == document["validation"]
    assert fields.face_check.model_dump() == document["face_check"]
    assert fields.tap.model_dump() == document["tap"]


def test_service_errors_are_mapped_to_fields() -> None:
    errors = forms.errors_from_service(
        ProfileValidationFailed(
            [
                "profile 'X': unknown groups (create them first): 'Interns'",
                "profile 'X': priority 1 is already used by profile 'Y'; priorities must be unique",
                "profile 'X': tap.lifetime_minutes 900 is outside the tenant TAP policy (10 to 480"
                " minutes)",
            ]
        )
    )
    assert list(errors) == ["priority", "include_groups", "tap_lifetime"]
    assert errors["include_groups"].startswith("unknown groups")
    assert forms.errors_from_service(ValidationFailed("bad mode", field="mode")) == {
        "mode": "bad mode"
    }


def test_next_priority_leaves_room() -> None:
    assert forms.next_priority([]) == 10
    assert forms.next_priority([10]) == 20
    assert forms.next_priority([5, 17]) == 20


def test_setup_state_round_trips_through_its_fields() -> None:
    state = SetupState.parse(
        {
            "include": ["All Staff", "all staff  ", "Engineering"],
            "exclude": ["Executives"],
            "who_done": ["1"],
            "provider": ["openid4vp"],
            "credential_type": ["urn:eudi:pid:1"],
            "issuer_iss": ["https://pid.example.eu"],
            "issuer_jwks_uri": ["https://pid.example.eu/j"],
            "face": ["off"],
            "how_done": ["1"],
        }
    )
    assert state.include == ("All Staff", "all staff", "Engineering")
    assert state.chosen == {"who", "how"}
    pairs = state.fields(through="review")
    again = SetupState.parse({k: [v for key, v in pairs if key == k] for k, _ in pairs})
    assert again == state
    assert "provider" not in dict(state.fields(through="who"))
    form = state.to_form(priority=30, tap_lifetime=60, tap_one_time=True)
    assert form.mode == "evaluation"
    assert form.face_required is False
    assert form.credential_types == "urn:eudi:pid:1"


def test_setup_steps_and_error_routing() -> None:
    assert [s for _, s, _ in progress("how")] == ["done", "done", "current", "todo"]
    assert [s for _, s, _ in progress("finished")] == ["done"] * 4
    assert step_for({"include_groups": "x", "issuer_iss": "y"}) == "who"
    assert step_for({"issuer_iss": "y", "name": "z"}) == "how"
    assert step_for({"name": "z"}) == "review"
