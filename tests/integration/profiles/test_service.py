"""ProfileService on SQLite and PostgreSQL: apply (idempotent, validated against the directory
and the TAP policy), precedence and the explanations of ``which``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ssar.errors import NotFound, ValidationFailed
from ssar.profiles.schema import ProfileValidationFailed
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, VerificationProfileGroupRow
from tests.integration.profiles.conftest import profile


def audit_events(
    registry: Registry, prefix: str = "profile."
) -> list[tuple[str, str, dict[str, Any]]]:
    with registry.database.transaction() as session:
        rows = session.execute(
            select(AuditEventRow)
            .where(AuditEventRow.type.like(f"{prefix}%"))
            .order_by(AuditEventRow.seq)
        ).scalars()
        return [(r.type, r.actor, r.data) for r in rows]


def test_apply_creates_with_defaults_and_is_idempotent(org: Registry) -> None:
    document = {
        "profiles": [
            profile(),
            profile(
                name="Contractors", priority=20, include_groups=["Contractors"], exclude_groups=[]
            ),
        ]
    }
    first = org.profiles.apply(document, actor="alice")
    assert first.created == ("Employees", "Contractors")
    assert first.updated == first.unchanged == ()
    again = org.profiles.apply(document, actor="alice")
    assert again.unchanged == ("Employees", "Contractors")
    assert again.created == again.updated == ()
    employees = org.profiles.get("employees")  # names are case-insensitive keys
    assert employees.mode == "evaluation"  # created without a mode
    assert [g.name for g in employees.include_groups] == ["All Staff"]
    assert [g.name for g in employees.exclude_groups] == ["Executives"]
    assert employees.face_check.threshold == 70
    assert employees.face_check.required
    assert employees.tap.lifetime_minutes == org.settings.tap.lifetime_minutes
    assert employees.tap.one_time is True
    assert employees.allow_privileged is False
    assert [p.name for p in org.profiles.list()] == ["Employees", "Contractors"]
    events = audit_events(org)
    assert [(t, a) for t, a, _ in events] == [
        ("profile.created", "alice"),
        ("profile.created", "alice"),
    ]
    assert events[0][2]["name"] == "Employees"


def test_apply_updates_and_records_what_changed(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="alice")
    report = org.profiles.apply(
        {"profiles": [profile(face_check={"threshold": 80}, mode="production")]}, actor="bob"
    )
    assert report.updated == ("Employees",)
    assert org.profiles.get("Employees").face_check.threshold == 80
    events = audit_events(org)
    assert [(t, a) for t, a, _ in events][1:] == [
        ("profile.updated", "bob"),
        ("profile.mode_changed", "bob"),
    ]
    assert events[1][2]["changed"] == ["mode", "settings"]
    assert events[2][2] == {"name": "Employees", "from": "evaluation", "to": "production"}


def test_apply_without_mode_keeps_the_mode_set_since(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="alice")
    org.profiles.set_mode("Employees", "production", actor="alice")
    report = org.profiles.apply({"profiles": [profile()]}, actor="alice")
    assert report.unchanged == ("Employees",)
    assert org.profiles.get("Employees").mode == "production"


def test_unknown_groups_are_refused_with_their_names(org: Registry) -> None:
    document = {
        "profiles": [
            profile(include_groups=["All Staff", "Interns"], exclude_groups=["Executives", "Temps"])
        ]
    }
    with pytest.raises(ProfileValidationFailed) as caught:
        org.profiles.apply(document, actor="alice")
    assert caught.value.code == "unknown_group"
    assert caught.value.problems == (
        "profile 'Employees': unknown groups (create them first): 'Interns', 'Temps'",
    )
    assert org.profiles.list() == ()


def test_tap_lifetime_outside_the_tenant_policy_is_refused(org: Registry) -> None:
    policy = org.settings.tap
    for lifetime in (policy.min_lifetime_minutes - 1, policy.max_lifetime_minutes + 1):
        with pytest.raises(ProfileValidationFailed) as caught:
            org.profiles.apply(
                {"profiles": [profile(tap={"lifetime_minutes": lifetime})]}, actor="a"
            )
        assert caught.value.code == "tap_policy"
        assert (
            f"tap.lifetime_minutes {lifetime} is outside the tenant TAP policy"
            in caught.value.detail
        )
    org.profiles.apply(
        {
            "profiles": [
                profile(tap={"lifetime_minutes": policy.max_lifetime_minutes, "one_time": False})
            ]
        },
        actor="a",
    )
    tap = org.profiles.get("Employees").tap
    assert (tap.lifetime_minutes, tap.one_time) == (policy.max_lifetime_minutes, False)


def test_duplicate_priority_with_a_stored_profile_is_refused(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    with pytest.raises(ProfileValidationFailed) as caught:
        org.profiles.apply(
            {
                "profiles": [
                    profile(name="Contractors", include_groups=["Contractors"], exclude_groups=[])
                ]
            },
            actor="a",
        )
    assert caught.value.code == "duplicate_priority"
    assert "priority 10 is already used by profile 'Employees'" in caught.value.detail
    assert [p.name for p in org.profiles.list()] == ["Employees"]


def test_priorities_can_be_swapped_in_one_apply(org: Registry) -> None:
    a = profile()
    b = profile(name="Contractors", priority=20, include_groups=["Contractors"], exclude_groups=[])
    org.profiles.apply({"profiles": [a, b]}, actor="a")
    report = org.profiles.apply(
        {"profiles": [dict(a, priority=20), dict(b, priority=10)]}, actor="a"
    )
    assert report.updated == ("Employees", "Contractors")
    assert [(p.name, p.priority) for p in org.profiles.list()] == [
        ("Contractors", 10),
        ("Employees", 20),
    ]


def test_invalid_document_changes_nothing(org: Registry) -> None:
    good = profile()
    bad = profile(name="Broken", priority=20, include_groups=["Nobody"])
    with pytest.raises(ProfileValidationFailed):
        org.profiles.apply({"profiles": [good, bad]}, actor="a")
    assert org.profiles.list() == ()
    assert audit_events(org) == []


def test_groups_are_stored_by_id_so_renames_keep_working(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    staff = org.directory.get_group("All Staff")
    org.directory.update_group(staff.id, name="Everyone")
    employees = org.profiles.get("Employees")
    assert [g.name for g in employees.include_groups] == ["Everyone"]
    assert org.profiles.which("ada").profile == employees
    # the YAML with the new name is the same profile: unchanged
    assert org.profiles.apply(
        {"profiles": [profile(include_groups=["Everyone"])]}, actor="a"
    ).unchanged == ("Employees",)


def test_delete_and_set_mode(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    assert org.profiles.set_mode("Employees", "production", actor="ops").mode == "production"
    org.profiles.set_mode("Employees", "production", actor="ops")  # no change, no event
    with pytest.raises(ValidationFailed):
        org.profiles.set_mode("Employees", "live", actor="ops")
    org.profiles.delete("Employees", actor="ops")
    with pytest.raises(NotFound):
        org.profiles.get("Employees")
    with pytest.raises(NotFound):
        org.profiles.delete("Employees", actor="ops")
    with pytest.raises(NotFound):
        org.profiles.set_mode("Employees", "evaluation", actor="ops")
    assert [(t, a) for t, a, _ in audit_events(org)] == [
        ("profile.created", "a"),
        ("profile.mode_changed", "ops"),
        ("profile.deleted", "ops"),
    ]
    with org.database.transaction() as session:  # the group links went with it
        assert session.execute(select(VerificationProfileGroupRow)).first() is None


# --- which: precedence and explanations ----------------------------------------------------


def test_which_explains_inclusion_through_three_levels(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    decision = org.profiles.which("ada")
    assert decision.profile is not None
    assert decision.profile.name == "Employees"
    assert decision.code == "applies"
    assert decision.reason == (
        "included by group \"All Staff\" via Platform ⊂ Engineering ⊂ All Staff in profile 'Employees'"
    )
    assert [(s.profile, s.outcome) for s in decision.trace] == [("Employees", "applies")]


def test_which_direct_member(org: Registry) -> None:
    org.profiles.apply(
        {"profiles": [profile(include_groups=["Engineering"], exclude_groups=[])]}, actor="a"
    )
    assert 'group "Engineering" (direct member)' in org.profiles.which("GRACE").reason


def test_exclusion_wins_over_inclusion_through_nesting(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    decision = org.profiles.which("kate")  # Board ⊂ Executives ⊂ All Staff
    assert decision.profile is None
    assert decision.code == "excluded"
    assert (
        decision.reason
        == "excluded by group \"Executives\" via Board ⊂ Executives from profile 'Employees'"
    )


def test_exclusion_wins_even_when_the_included_group_is_nearer(org: Registry) -> None:
    org.profiles.apply(
        {"profiles": [profile(include_groups=["Platform"], exclude_groups=["All Staff"])]},
        actor="a",
    )
    decision = org.profiles.which("ada")
    assert decision.profile is None
    assert 'excluded by group "All Staff" via Platform ⊂ Engineering ⊂ All Staff' in decision.reason


def test_first_profile_by_priority_wins(org: Registry) -> None:
    engineers = profile(
        name="Engineers", priority=5, include_groups=["Engineering"], exclude_groups=[]
    )
    org.profiles.apply({"profiles": [profile(), engineers]}, actor="a")
    decision = org.profiles.which("ada")
    assert decision.profile is not None
    assert decision.profile.name == "Engineers"
    assert [s.profile for s in decision.trace] == ["Engineers"]
    org.profiles.apply({"profiles": [dict(engineers, priority=50)]}, actor="a")
    decision = org.profiles.which("ada")
    assert decision.profile is not None
    assert decision.profile.name == "Employees"


def test_an_excluded_user_falls_through_to_a_later_profile(org: Registry) -> None:
    executives = profile(
        name="Executives",
        priority=20,
        include_groups=["Executives"],
        exclude_groups=[],
        face_check={"threshold": 90},
    )
    org.profiles.apply({"profiles": [profile(), executives]}, actor="a")
    decision = org.profiles.which("kate")
    assert decision.profile is not None
    assert decision.profile.name == "Executives"
    assert [(s.profile, s.outcome) for s in decision.trace] == [
        ("Employees", "excluded"),
        ("Executives", "applies"),
    ]


def test_R9_privileged_account_excluded_unless_profile_opts_in(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    decision = org.profiles.which("root")  # privileged, in Platform ⊂ Engineering ⊂ All Staff
    assert decision.profile is None
    assert decision.code == "privileged"
    assert "privileged account" in decision.reason
    assert "R9" in decision.reason
    admins = profile(
        name="Admins",
        priority=30,
        include_groups=["Administrators", "Engineering"],
        exclude_groups=[],
        allow_privileged=True,
    )
    org.profiles.apply({"profiles": [admins]}, actor="a")
    decision = org.profiles.which("root")
    assert decision.profile is not None
    assert decision.profile.name == "Admins"
    assert [(s.profile, s.outcome) for s in decision.trace] == [
        ("Employees", "privileged"),
        ("Admins", "applies"),
    ]
    margaret = org.profiles.which("margaret")
    assert margaret.profile is not None
    assert margaret.profile.name == "Admins"
    # ordinary users in the opt-in profile still match it
    assert org.profiles.which("grace").profile.name == "Employees"  # type: ignore[union-attr]


def test_R9_privileged_user_not_included_anywhere(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    decision = org.profiles.which("margaret")
    assert decision.profile is None
    assert decision.code == "not_included"
    assert decision.reason == "no profile includes the user"


def test_disabled_and_unknown_users_get_no_profile(org: Registry) -> None:
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    disabled = org.profiles.which("dora")
    assert (disabled.profile, disabled.code, disabled.reason) == (
        None,
        "disabled",
        "the user is disabled",
    )
    unknown = org.profiles.which("nobody")
    assert (unknown.profile, unknown.code, unknown.reason) == (None, "unknown_user", "unknown user")


def test_user_in_no_group_and_no_profiles(org: Registry) -> None:
    assert org.profiles.which("ada").reason == "no profiles exist"
    org.profiles.apply({"profiles": [profile()]}, actor="a")
    decision = org.profiles.which("sam")
    assert decision.profile is None
    assert decision.reason == "no profile includes the user"
    assert decision.trace[0].outcome == "not_included"


def test_profile_trust_config_from_stored_issuers(org: Registry) -> None:
    from tests.unit.profiles.test_schema import public_jwk

    jwk = public_jwk()
    org.profiles.apply(
        {
            "profiles": [
                profile(
                    provider="openid4vp",
                    credentials={
                        "types": ["urn:ssar:identity:1"],
                        "issuers": [{"iss": "https://idv.example.org", "jwks": {"keys": [jwk]}}],
                    },
                )
            ]
        },
        actor="a",
    )
    stored = org.profiles.get("Employees")
    assert stored.credentials is not None
    trust = stored.credentials.trust()
    issuer = trust.issuer("https://idv.example.org")
    assert issuer is not None
    assert issuer.jwks == {"keys": [jwk]}
    assert stored.to_document()["credentials"]["types"] == ["urn:ssar:identity:1"]


def test_concurrent_applies_cannot_share_a_priority(org: Registry) -> None:
    import threading

    from ssar.errors import SsarError

    results: list[object] = []
    barrier = threading.Barrier(2)

    def apply(name: str, group: str) -> None:
        document = {"profiles": [profile(name=name, include_groups=[group], exclude_groups=[])]}
        barrier.wait()
        try:
            results.append(org.profiles.apply(document, actor=name))
        except SsarError as exc:
            results.append(exc)

    threads = [
        threading.Thread(target=apply, args=("A", "Engineering")),
        threading.Thread(target=apply, args=("B", "Contractors")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    errors = [r for r in results if isinstance(r, SsarError)]
    assert len(results) == 2
    assert len(errors) == 1
    assert errors[0].code in ("duplicate_priority", "profile_conflict")
    assert len(org.profiles.list()) == 1
