"""SCIM PATCH semantics on User documents and Group member operations."""

from __future__ import annotations

from typing import Any

import pytest

from ssar.directory.scim_patch import (
    ScimPatchError,
    apply_user_patch,
    compile_group_patch,
    parse_user,
    user_changes,
)
from ssar.directory.scim_schemas import ScimPatchOperation

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _ops(*ops: dict[str, Any]) -> list[ScimPatchOperation]:
    return [ScimPatchOperation.model_validate(op) for op in ops]


def _doc() -> dict[str, Any]:
    return {
        "id": "u1",
        "userName": "ann",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "active": True,
        "emails": [{"value": "ann@x.example", "type": "work", "primary": True}],
    }


def test_attribute_names_and_ops_are_case_insensitive() -> None:
    doc = apply_user_patch(
        _doc(),
        _ops(
            {"op": "Replace", "path": "NAME.GIVENNAME", "value": "Anna"},
            {"op": "REPLACE", "path": "Active", "value": False},
        ),
    )
    assert doc["name"] == {"givenName": "Anna", "familyName": "Lee"}
    assert doc["active"] is False


def test_no_path_value_with_extension_and_full_urn_keys() -> None:
    doc = apply_user_patch(
        _doc(),
        _ops(
            {"op": "add", "value": {ENTERPRISE: {"employeeNumber": "E1"}}},
            {"op": "replace", "value": {f"{ENTERPRISE}:employeeNumber": "E2", "displayName": "A"}},
        ),
    )
    assert doc[ENTERPRISE] == {"employeeNumber": "E2"}
    assert doc["displayName"] == "A"
    assert user_changes(parse_user(doc), for_create=False)["employee_id"] == "E2"


def test_emails_add_replace_remove() -> None:
    added = apply_user_patch(
        _doc(),
        _ops(
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "home@x.example", "type": "home", "primary": True}],
            }
        ),
    )
    assert [e["value"] for e in added["emails"]] == ["ann@x.example", "home@x.example"]
    # the newest primary wins when two say so
    changes = user_changes(parse_user(added), for_create=False)
    assert [(e.address, e.primary) for e in changes["emails"]] == [
        ("ann@x.example", False),
        ("home@x.example", True),
    ]
    removed = apply_user_patch(added, _ops({"op": "remove", "path": 'emails[type eq "home"]'}))
    assert [e["value"] for e in removed["emails"]] == ["ann@x.example"]
    cleared = apply_user_patch(removed, _ops({"op": "remove", "path": "emails"}))
    assert cleared["emails"] == []


def test_filtered_replace_creates_a_missing_work_address() -> None:
    doc = _doc()
    doc["emails"] = []
    patched = apply_user_patch(
        doc,
        _ops({"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@x.example"}),
    )
    assert patched["emails"] == [{"type": "work", "value": "new@x.example"}]


@pytest.mark.parametrize(
    ("op", "scim_type"),
    [
        ({"op": "copy", "path": "active", "value": True}, "invalidSyntax"),
        ({"op": "replace", "path": "meta", "value": {}}, "mutability"),
        ({"op": "remove"}, "noTarget"),
        (
            {
                "op": "replace",
                "path": 'emails[primary eq true and type eq "x"].value',
                "value": "a",
            },
            "noTarget",
        ),
        ({"op": "replace", "path": 'userName[type eq "x"]', "value": "a"}, "invalidPath"),
    ],
)
def test_patch_errors_carry_scim_type(op: dict[str, Any], scim_type: str) -> None:
    with pytest.raises(ScimPatchError) as caught:
        apply_user_patch(_doc(), _ops(op))
    assert caught.value.scim_type == scim_type


def test_absent_ssar_extension_leaves_privileged_alone() -> None:
    assert "privileged" not in user_changes(parse_user(_doc()), for_create=False)
    with_flag = {
        **_doc(),
        "urn:ssar:params:scim:schemas:extension:ssar:2.0:User": {"privileged": True},
    }
    assert user_changes(parse_user(with_flag), for_create=False)["privileged"] is True


def test_group_member_operations_compile_to_add_remove_replace() -> None:
    changes = compile_group_patch(
        _ops(
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": 'members[value eq "b"]'},
            {"op": "remove", "path": "members", "value": [{"value": "c"}]},
            {"op": "replace", "path": "displayName", "value": "New"},
        )
    )
    assert (changes.add, changes.remove, changes.replace, changes.name) == (
        ["a"],
        ["b", "c"],
        None,
        "New",
    )
    replaced = compile_group_patch(
        _ops(
            {"op": "replace", "path": "members", "value": [{"value": "x"}]},
            {"op": "add", "path": "members", "value": [{"value": "y"}]},
        )
    )
    assert replaced.replace == ["x", "y"]
    cleared = compile_group_patch(_ops({"op": "remove", "path": "members"}))
    assert cleared.replace == []
    with pytest.raises(ScimPatchError):
        compile_group_patch(_ops({"op": "remove", "path": 'members[display eq "x"]'}))
    with pytest.raises(ScimPatchError):
        compile_group_patch(_ops({"op": "replace", "path": "owner", "value": "x"}))
