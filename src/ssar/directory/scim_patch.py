"""SCIM PATCH (RFC 7644 §3.5.2) for Users and Groups, and the mapping of SCIM documents to
directory changes. Pure: routes call these, then one service method applies the result.

A User is patched as a document (small), then replaced through ``update_user``, which audits
only what changed. A Group is never loaded whole: its operations compile to member ids to add
and remove, because groups such as "All Staff" can hold every user.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ssar.directory.filters import (
    ENTERPRISE_USER,
    SSAR_USER,
    Compare,
    Filter,
    Or,
    matches,
    parse_path,
)
from ssar.directory.models import UNSET, EmailAddress, Unset
from ssar.directory.scim_schemas import (
    ScimGroupIn,
    ScimPatchOperation,
    ScimUserIn,
    canonical_keys,
)
from ssar.errors import ValidationFailed


class ScimPatchError(ValidationFailed):
    """A PATCH that cannot be applied; ``scim_type`` is the RFC 7644 §3.12 error keyword."""

    def __init__(self, detail: str, *, scim_type: str) -> None:
        super().__init__(detail, code=scim_type)
        self.scim_type = scim_type


_EXTENSIONS = {ENTERPRISE_USER.lower(): ENTERPRISE_USER, SSAR_USER.lower(): SSAR_USER}
_READ_ONLY = frozenset({"id", "meta", "groups"})
_MULTI = frozenset({"emails"})
_COMPLEX = frozenset({"name"})


def _canonical(name: str) -> str:
    key = canonical_keys({name: None})
    return str(next(iter(key)))


def _op_kind(op: ScimPatchOperation) -> str:
    kind = op.op.strip().lower()
    if kind not in ("add", "replace", "remove"):
        raise ScimPatchError(f"unknown PATCH op {op.op!r}", scim_type="invalidSyntax")
    return kind


# --- users -----------------------------------------------------------------------------------


def apply_user_patch(
    document: dict[str, Any], operations: list[ScimPatchOperation]
) -> dict[str, Any]:
    """Apply PATCH operations to a User document and return the new document."""
    doc = copy.deepcopy(document)
    for op in operations:
        kind = _op_kind(op)
        if op.path is None or not op.path.strip():
            if kind == "remove":
                raise ScimPatchError("remove needs a path", scim_type="noTarget")
            if not isinstance(op.value, dict):
                raise ScimPatchError(
                    "an op without a path needs an object value", scim_type="invalidValue"
                )
            for key, value in op.value.items():
                urn = _EXTENSIONS.get(key.lower())
                if urn is not None and isinstance(value, dict):
                    for sub, sub_value in value.items():
                        _apply_user_path(doc, kind, f"{urn}:{sub}", sub_value)
                else:
                    _apply_user_path(doc, kind, key, value)
        else:
            _apply_user_path(doc, kind, op.path, op.value)
    return doc


def _apply_user_path(doc: dict[str, Any], kind: str, path: str, value: Any) -> None:
    parsed = parse_path(path)
    for lowered, urn in _EXTENSIONS.items():
        if parsed.attr.startswith(lowered + ":"):
            target = doc.setdefault(urn, {})
            sub = _canonical(parsed.attr[len(lowered) + 1 :])
            if kind == "remove":
                target[sub] = None
            else:
                target[sub] = value
            return
        if parsed.attr == lowered:
            if kind == "remove":
                doc[urn] = {k: None for k in doc.get(urn, {})}
            elif isinstance(value, dict):
                doc.setdefault(urn, {}).update(canonical_keys(value))
            else:
                raise ScimPatchError(f"{urn} takes an object", scim_type="invalidValue")
            return
    attr = _canonical(parsed.attr)
    if attr == "schemas":
        return
    if attr in _READ_ONLY:
        raise ScimPatchError(f"{attr} is read-only", scim_type="mutability")
    if parsed.value_filter is not None:
        _apply_filtered(doc, kind, attr, parsed.value_filter, parsed.sub_attr, value)
        return
    if parsed.sub_attr:
        parent = doc.setdefault(attr, {})
        if not isinstance(parent, dict):
            raise ScimPatchError(f"{attr} has no sub-attributes", scim_type="invalidPath")
        parent[_canonical(parsed.sub_attr)] = None if kind == "remove" else value
        return
    if kind == "remove":
        if attr in _MULTI and value:
            drop = {
                str(v.get("value") if isinstance(v, dict) else v).casefold()
                for v in _as_list(value)
            }
            doc[attr] = [
                i for i in doc.get(attr, []) if str(i.get("value", "")).casefold() not in drop
            ]
        else:
            doc[attr] = [] if attr in _MULTI else None
        return
    if attr in _MULTI:
        values = [canonical_keys(v) for v in _as_list(value)]
        if kind == "add":
            present = {str(i.get("value", "")).casefold() for i in doc.get(attr, [])}
            doc[attr] = doc.get(attr, []) + [
                v for v in values if str(v.get("value", "")).casefold() not in present
            ]
        else:
            doc[attr] = values
        return
    if attr in _COMPLEX and isinstance(value, dict):
        current = doc.get(attr) or {}
        doc[attr] = {**current, **canonical_keys(value)}
        return
    doc[attr] = value


def _apply_filtered(
    doc: dict[str, Any], kind: str, attr: str, value_filter: Filter, sub: str | None, value: Any
) -> None:
    if attr not in _MULTI:
        raise ScimPatchError(f"{attr} is not multi-valued", scim_type="invalidPath")
    items: list[dict[str, Any]] = doc.setdefault(attr, [])
    matched = [i for i in items if matches(value_filter, i)]
    if kind == "remove":
        if sub:
            for item in matched:
                item.pop(_canonical(sub), None)
        else:
            doc[attr] = [i for i in items if not any(i is m for m in matched)]
        return
    if not matched:
        # what Entra ID sends for a user without a work address yet:
        # replace emails[type eq "work"].value -> create that address
        if isinstance(value_filter, Compare) and value_filter.op == "eq":
            created = {_canonical(value_filter.attr): value_filter.value}
            items.append(created)
            matched = [created]
        else:
            raise ScimPatchError(f"no {attr} value matches the filter", scim_type="noTarget")
    for item in matched:
        if sub:
            item[_canonical(sub)] = value
        elif isinstance(value, dict):
            item.clear()
            item.update(canonical_keys(value))
        else:
            raise ScimPatchError(f"{attr} values are objects", scim_type="invalidValue")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse_user(document: Any) -> ScimUserIn:
    if not isinstance(document, dict):
        raise ScimPatchError("the body must be a JSON object", scim_type="invalidSyntax")
    doc = canonical_keys(document)
    # several primaries after a PATCH: the one added last wins, as the client meant it
    emails = doc.get("emails")
    if isinstance(emails, list):
        primaries = [i for i, e in enumerate(emails) if isinstance(e, dict) and e.get("primary")]
        for i in primaries[:-1]:
            emails[i] = {**emails[i], "primary": False}
    try:
        return ScimUserIn.model_validate(doc)
    except ValidationError as exc:
        raise ScimPatchError(_first_error(exc), scim_type="invalidValue") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


def user_changes(user: ScimUserIn, *, for_create: bool) -> dict[str, Any]:
    """Map a SCIM User to service keyword arguments. SSAR-extension attributes that are absent
    are left unchanged, so an HR system that does not know them cannot clear ``privileged``."""
    name = user.name
    values: dict[str, Any] = {
        "username": user.userName,
        "given_name": (name.givenName if name else None) or "",
        "family_name": (name.familyName if name else None) or "",
        "display_name": user.displayName or "",
        "emails": [
            EmailAddress(address=e.value, primary=e.primary, kind=(e.type or "work")[:32])
            for e in user.emails
        ],
        "external_id": user.externalId,
        "employee_id": user.enterprise.employeeNumber if user.enterprise else None,
        "enabled": user.active,
    }
    if for_create and not values["display_name"]:
        values["display_name"] = None
    ssar = user.ssar
    if ssar is not None and ssar.privileged is not None:
        values["privileged"] = ssar.privileged
    if ssar is not None and "birthdate" in ssar.model_fields_set:
        values["birthdate"] = ssar.birthdate
    return values


# --- groups ----------------------------------------------------------------------------------


@dataclass
class GroupChanges:
    name: str | Unset = UNSET
    external_id: str | Unset | None = UNSET
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    replace: list[str] | None = None

    def add_members(self, ids: list[str]) -> None:
        if self.replace is not None:
            self.replace.extend(i for i in ids if i not in self.replace)
            return
        self.add.extend(i for i in ids if i not in self.add)
        self.remove = [i for i in self.remove if i not in ids]

    def remove_members(self, ids: list[str]) -> None:
        if self.replace is not None:
            self.replace = [i for i in self.replace if i not in ids]
            return
        self.remove.extend(i for i in ids if i not in self.remove)
        self.add = [i for i in self.add if i not in ids]


def member_ids(value: Any) -> list[str]:
    ids = []
    for item in _as_list(value) if value is not None else []:
        if isinstance(item, dict):
            item = canonical_keys(item).get("value")
        if not isinstance(item, str) or not item:
            raise ScimPatchError('members are given as {"value": "<id>"}', scim_type="invalidValue")
        ids.append(item)
    return ids


def _filter_member_ids(node: Filter) -> list[str]:
    if isinstance(node, Compare) and node.attr == "value" and node.op == "eq":
        return [str(node.value)]
    if isinstance(node, Or):
        return _filter_member_ids(node.left) + _filter_member_ids(node.right)
    raise ScimPatchError('member filters are members[value eq "<id>"]', scim_type="invalidFilter")


def compile_group_patch(operations: list[ScimPatchOperation]) -> GroupChanges:
    changes = GroupChanges()
    for op in operations:
        kind = _op_kind(op)
        if op.path is None or not op.path.strip():
            if kind == "remove" or not isinstance(op.value, dict):
                raise ScimPatchError(
                    "an op without a path needs an object value", scim_type="invalidValue"
                )
            for key, value in op.value.items():
                _apply_group_path(changes, kind, key, value)
        else:
            _apply_group_path(changes, kind, op.path, op.value)
    return changes


def _apply_group_path(changes: GroupChanges, kind: str, path: str, value: Any) -> None:
    parsed = parse_path(path)
    if parsed.attr == "members":
        if parsed.value_filter is not None:
            if kind != "remove" or parsed.sub_attr:
                raise ScimPatchError(
                    "filtered member paths can only be removed", scim_type="invalidPath"
                )
            changes.remove_members(_filter_member_ids(parsed.value_filter))
        elif kind == "add":
            changes.add_members(member_ids(value))
        elif kind == "replace":
            changes.replace = member_ids(value)
            changes.add, changes.remove = [], []
        elif value:
            changes.remove_members(member_ids(value))
        else:
            changes.replace, changes.add, changes.remove = [], [], []
        return
    if parsed.attr == "displayname" and parsed.value_filter is None:
        if kind == "remove" or not isinstance(value, str):
            raise ScimPatchError("displayName is a required string", scim_type="invalidValue")
        changes.name = value
        return
    if parsed.attr == "externalid" and parsed.value_filter is None:
        if kind != "remove" and not isinstance(value, str):
            raise ScimPatchError("externalId is a string", scim_type="invalidValue")
        changes.external_id = None if kind == "remove" else value
        return
    if parsed.attr in ("schemas",):
        return
    if parsed.attr in ("id", "meta"):
        raise ScimPatchError(f"{parsed.attr} is read-only", scim_type="mutability")
    raise ScimPatchError(f"Groups have no attribute {path!r}", scim_type="invalidPath")


def parse_group(document: Any) -> ScimGroupIn:
    if not isinstance(document, dict):
        raise ScimPatchError("the body must be a JSON object", scim_type="invalidSyntax")
    try:
        return ScimGroupIn.model_validate(canonical_keys(document))
    except ValidationError as exc:
        raise ScimPatchError(_first_error(exc), scim_type="invalidValue") from exc
