"""The pure parts of the admin users area: prefix ranges, search plans, reasons, who may act."""

from __future__ import annotations

import pytest

from ssar.admin.directory import NameSearch, plan_search, prefix_end
from ssar.admin.helpdesk import Target, clean_reason, may_issue_tap, may_revoke
from ssar.admin.roles import AdminPrincipal
from ssar.errors import ValidationFailed


@pytest.mark.parametrize(
    ("prefix", "end"),
    [("ada", "adb"), ("a", "b"), ("z", "{"), ("mü", "mý"), ("\ud7ff", "\ue000"), ("", None)],
)
def test_prefix_end_bounds_every_string_with_the_prefix(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end
    if end is not None:
        for longer in (prefix, prefix + "a", prefix + "\U0010ffff" * 3):
            assert prefix <= longer < end


def test_prefix_end_of_the_last_code_point_is_open() -> None:
    assert prefix_end("a\U0010ffff") is None


def test_plan_search_reads_usernames_family_names_given_family_and_emails() -> None:
    plan = plan_search("  Ada   LOVE ")
    assert plan.username_prefix == "ada love"
    assert plan.email_prefix is None
    assert NameSearch("adalove") in plan.names
    assert NameSearch("love", "ada") in plan.names
    umlaut = plan_search("Mül")
    assert {n.family_prefix for n in umlaut.names} == {"mul", "muel"}
    email = plan_search("Ada@Example")
    assert email.email_prefix == "ada@example"
    assert email.names == ()
    empty = plan_search("   ")
    assert (empty.username_prefix, empty.names, empty.email_prefix) == (None, (), None)


def test_clean_reason() -> None:
    assert clean_reason("  Ticket   4711:\nphone lost ") == "Ticket 4711: phone lost"
    with pytest.raises(ValidationFailed, match="at least 10"):
        clean_reason("too short")
    with pytest.raises(ValidationFailed, match="at most 500"):
        clean_reason("x" * 501)
    assert clean_reason("", required=False) is None
    with pytest.raises(ValidationFailed):
        clean_reason("short", required=False)


@pytest.mark.parametrize(
    ("role", "target", "tap", "revoke"),
    [
        ("global_admin", Target("1", "boss", privileged=True, role="global_admin"), True, True),
        ("helpdesk", Target("1", "ada", privileged=False, role=None), True, True),
        ("helpdesk", Target("1", "cfo", privileged=True, role=None), False, True),
        ("helpdesk", Target("1", "boss", privileged=True, role="reader"), False, False),
        ("reader", Target("1", "ada", privileged=False, role=None), False, False),
    ],
)
def test_who_may_act_on_whom(role: str, target: Target, tap: bool, revoke: bool) -> None:
    principal = AdminPrincipal(actor="user:x", role=role, display_name="X")
    assert may_issue_tap(principal, target) is tap
    assert may_revoke(principal, target) is revoke
