"""What the admin center shows of the directory: user search, a user's page, groups.

The directory may hold a million users (issue #8), so nothing here loads them all. A search is
the union of a few *indexed* lookups, each a prefix range on a unique or primary-key index:

* the username (``users.username_key``, NFC and case-folded);
* the family name through the namesake index (``user_name_keys.key``: the relaxed forms of the
  family name, words concatenated, so ``muller`` and ``mueller`` both find ``Müller``); a query
  of several words also reads as "given family" (``ada love`` finds Ada Lovelace);
* an e-mail address, only when the query holds ``@`` (``user_emails`` has no index on the
  address, so this one scans; it is not run for ordinary name searches).

Each branch returns at most ``limit + 1`` users after the cursor in username order, and the merge
keeps the first ``limit + 1``: the pages are exact and keyset-paginated (``cursor`` is the last
username key shown), never ``OFFSET`` into a million rows. Both databases compare the keys by
code point (SQLite's BINARY, PostgreSQL's ``C`` collation), so a prefix is the half-open range
``[prefix, prefix with its last character incremented)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from ssar.config import TapPolicy
from ssar.directory.models import User
from ssar.directory.names import group_key, username_key
from ssar.errors import NotFound
from ssar.profiles.models import ProfileDecision
from ssar.recovery.matching import relaxed_words
from ssar.signin.models import MethodInfo
from ssar.store.db import Database
from ssar.store.tables import (
    AdminRoleRow,
    AuditEventRow,
    AuthMethodRow,
    GroupMemberRow,
    GroupNestingRow,
    GroupRow,
    RecoveryFlowRow,
    SessionRow,
    UserEmailRow,
    UserNameKeyRow,
    UserRow,
    VerificationProfileGroupRow,
    VerificationProfileRow,
)

if TYPE_CHECKING:
    from ssar.registry import Registry

#: the filters of the users list: (value, label)
USER_FILTERS: Final = (
    ("all", "All users"),
    ("enabled", "Enabled"),
    ("disabled", "Disabled"),
    ("admins", "Admins"),
    ("privileged", "Privileged"),
)
MAX_LIMIT: Final = 200
MAX_QUERY_CHARS: Final = 256
#: deeper pages than this are clamped (an OFFSET past SQLite's 64-bit integers is a server error)
MAX_PAGE: Final = 1_000_000
SHOWN_GROUPS: Final = 3


# --- pure helpers -------------------------------------------------------------------------------


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` in code-point
    order (``None`` when there is none, i.e. the prefix ends with U+10FFFF)."""
    if not prefix:
        return None
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    following = last + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates never appear in stored text
        following = 0xE000
    return prefix[:-1] + chr(following)


def prefix_clause(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range an index on ``column`` serves."""
    end = prefix_end(prefix)
    clause: ColumnElement[bool] = column >= prefix
    return clause if end is None else (clause & (column < end))


@dataclass(frozen=True)
class NameSearch:
    """A family-name prefix in the namesake index, optionally with a given-name prefix."""

    family_prefix: str
    given_prefix: str | None = None


@dataclass(frozen=True)
class SearchPlan:
    """How a query is looked up (see the module docstring)."""

    username_prefix: str | None
    names: tuple[NameSearch, ...]
    email_prefix: str | None


def plan_search(query: str | None) -> SearchPlan:
    """Split what an admin typed into the indexed lookups that answer it."""
    text = " ".join((query or "").split())[:MAX_QUERY_CHARS]
    if not text:
        return SearchPlan(None, (), None)
    names: list[NameSearch] = []
    email = text.casefold() if "@" in text else None
    if email is None:
        words = relaxed_words(text)
        seen: set[NameSearch] = set()
        for form in words.forms() if words else ():
            candidates = [NameSearch("".join(form))]
            if len(form) > 1:  # "given family…": the first word is the given name
                candidates.append(NameSearch("".join(form[1:]), form[0]))
            for candidate in candidates:
                if candidate.family_prefix and candidate not in seen:
                    seen.add(candidate)
                    names.append(candidate)
    return SearchPlan(username_key(text), tuple(names), email)


def clamp_limit(limit: int | None, default: int = 50) -> int:
    return max(1, min(MAX_LIMIT, default if limit is None else limit))


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserListItem:
    id: str
    username: str
    display_name: str
    email: str | None
    enabled: bool
    privileged: bool
    role: str | None
    groups: tuple[str, ...]  # the first few direct groups, by name
    group_count: int  # direct groups
    active_methods: int
    last_signin_at: datetime | None


@dataclass(frozen=True)
class UserSearchPage:
    users: tuple[UserListItem, ...]
    next_cursor: str | None  # pass back as ``cursor`` for the next page; None on the last


@dataclass(frozen=True)
class CaseItem:
    id: str
    created_at: datetime
    state: str
    reason: str | None
    profile: str | None
    mode: str


@dataclass(frozen=True)
class AuditItem:
    seq: int
    at: datetime
    type: str
    actor: str
    data: dict[str, Any]


@dataclass(frozen=True)
class GroupListItem:
    id: str
    name: str
    direct_members: int
    children: tuple[str, ...]
    parents: tuple[str, ...]


@dataclass(frozen=True)
class GroupListPage:
    groups: tuple[GroupListItem, ...]
    total: int
    page: int
    has_next: bool


@dataclass(frozen=True)
class GroupRef:
    id: str
    name: str


@dataclass(frozen=True)
class ProfileUse:
    profile_id: str
    name: str
    mode: str
    priority: int
    kind: str  # include | exclude


@dataclass(frozen=True)
class MemberItem:
    id: str
    username: str
    display_name: str
    enabled: bool


@dataclass(frozen=True)
class GroupDetail:
    id: str
    name: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    direct_members: int
    members: tuple[MemberItem, ...]
    page: int
    has_next: bool
    children: tuple[GroupRef, ...]
    parents: tuple[GroupRef, ...]
    profiles: tuple[ProfileUse, ...] = field(default=())


# --- the queries --------------------------------------------------------------------------------


class AdminDirectory:
    """Read-only views of users and groups for the admin center (one transaction per call)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def search_users(
        self,
        *,
        query: str | None = None,
        filter: str = "all",
        cursor: str | None = None,
        limit: int | None = 50,
        now: datetime,
    ) -> UserSearchPage:
        size = clamp_limit(limit)
        plan = plan_search(query)
        conditions = _filter_conditions(filter)
        if cursor:
            conditions.append(UserRow.username_key > cursor)
        with self._db.transaction() as session:
            found: dict[str, UserRow] = {}
            for branch in _branches(plan, conditions):
                for row in session.execute(branch.limit(size + 1)).scalars():
                    found[row.id] = row
            rows = sorted(found.values(), key=lambda r: r.username_key)[: size + 1]
            more = len(rows) > size
            rows = rows[:size]
            items = _list_items(session, rows, now=now)
        return UserSearchPage(
            users=tuple(items), next_cursor=rows[-1].username_key if more and rows else None
        )

    def recent_cases(self, user_id: str, *, limit: int = 10) -> list[CaseItem]:
        with self._db.transaction() as session:
            rows = session.execute(
                select(RecoveryFlowRow)
                .where(RecoveryFlowRow.user_id == user_id)
                .order_by(RecoveryFlowRow.created_at.desc())
                .limit(limit)
            ).scalars()
            return [
                CaseItem(
                    id=r.id,
                    created_at=r.created_at,
                    state=r.state,
                    reason=r.reason,
                    profile=r.profile_name,
                    mode=r.mode,
                )
                for r in rows
            ]

    def recent_events(self, user_id: str, *, limit: int = 10) -> list[AuditItem]:
        with self._db.transaction() as session:
            rows = session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.user_id == user_id)
                .order_by(AuditEventRow.seq.desc())
                .limit(limit)
            ).scalars()
            return [
                AuditItem(seq=r.seq, at=r.at, type=r.type, actor=r.actor, data=dict(r.data))
                for r in rows
            ]

    def live_sessions(self, user_id: str, *, now: datetime) -> int:
        with self._db.transaction() as session:
            return int(
                session.execute(
                    select(func.count())
                    .select_from(SessionRow)
                    .where(
                        SessionRow.user_id == user_id,
                        SessionRow.revoked_at.is_(None),
                        SessionRow.expires_at > now,
                    )
                ).scalar_one()
            )

    # --- groups -----------------------------------------------------------------------------

    def list_groups(
        self, *, query: str | None = None, page: int = 1, limit: int | None = 50
    ) -> GroupListPage:
        size = clamp_limit(limit)
        page = min(max(1, page), MAX_PAGE)
        where: list[ColumnElement[bool]] = []
        key = group_key((query or "")[:MAX_QUERY_CHARS])
        if key:
            where.append(prefix_clause(GroupRow.name_key, key))
        with self._db.transaction() as session:
            total = int(
                session.execute(
                    select(func.count()).select_from(GroupRow).where(*where)
                ).scalar_one()
            )
            rows = list(
                session.execute(
                    select(GroupRow)
                    .where(*where)
                    .order_by(GroupRow.name_key)
                    .offset((page - 1) * size)
                    .limit(size + 1)
                ).scalars()
            )
            more = len(rows) > size
            rows = rows[:size]
            ids = [r.id for r in rows]
            counts = _member_counts(session, ids)
            children: dict[str, list[str]] = defaultdict(list)
            parents: dict[str, list[str]] = defaultdict(list)
            if ids:
                for parent_id, name in session.execute(
                    select(GroupNestingRow.parent_id, GroupRow.name)
                    .join(GroupRow, GroupRow.id == GroupNestingRow.child_id)
                    .where(GroupNestingRow.parent_id.in_(ids))
                    .order_by(GroupRow.name_key)
                ):
                    children[parent_id].append(name)
                for child_id, name in session.execute(
                    select(GroupNestingRow.child_id, GroupRow.name)
                    .join(GroupRow, GroupRow.id == GroupNestingRow.parent_id)
                    .where(GroupNestingRow.child_id.in_(ids))
                    .order_by(GroupRow.name_key)
                ):
                    parents[child_id].append(name)
            items = tuple(
                GroupListItem(
                    id=r.id,
                    name=r.name,
                    direct_members=counts.get(r.id, 0),
                    children=tuple(children[r.id]),
                    parents=tuple(parents[r.id]),
                )
                for r in rows
            )
        return GroupListPage(groups=items, total=total, page=page, has_next=more)

    def group_detail(self, group_id: str, *, page: int = 1, limit: int | None = 50) -> GroupDetail:
        size = clamp_limit(limit)
        page = min(max(1, page), MAX_PAGE)
        with self._db.transaction() as session:
            row = session.get(GroupRow, group_id)
            if row is None:
                raise NotFound("no such group")
            members = list(
                session.execute(
                    select(UserRow)
                    .join(GroupMemberRow, GroupMemberRow.user_id == UserRow.id)
                    .where(GroupMemberRow.group_id == row.id)
                    .order_by(UserRow.username_key)
                    .offset((page - 1) * size)
                    .limit(size + 1)
                ).scalars()
            )
            more = len(members) > size
            children = session.execute(
                select(GroupRow.id, GroupRow.name)
                .join(GroupNestingRow, GroupNestingRow.child_id == GroupRow.id)
                .where(GroupNestingRow.parent_id == row.id)
                .order_by(GroupRow.name_key)
            ).all()
            parents = session.execute(
                select(GroupRow.id, GroupRow.name)
                .join(GroupNestingRow, GroupNestingRow.parent_id == GroupRow.id)
                .where(GroupNestingRow.child_id == row.id)
                .order_by(GroupRow.name_key)
            ).all()
            uses = session.execute(
                select(VerificationProfileRow, VerificationProfileGroupRow.kind)
                .join(
                    VerificationProfileGroupRow,
                    VerificationProfileGroupRow.profile_id == VerificationProfileRow.id,
                )
                .where(VerificationProfileGroupRow.group_id == row.id)
                .order_by(VerificationProfileRow.priority)
            ).all()
            return GroupDetail(
                id=row.id,
                name=row.name,
                external_id=row.external_id,
                created_at=row.created_at,
                updated_at=row.updated_at,
                direct_members=_member_counts(session, [row.id]).get(row.id, 0),
                members=tuple(
                    MemberItem(
                        id=u.id, username=u.username, display_name=u.display_name, enabled=u.enabled
                    )
                    for u in members[:size]
                ),
                page=page,
                has_next=more,
                children=tuple(GroupRef(i, n) for i, n in children),
                parents=tuple(GroupRef(i, n) for i, n in parents),
                profiles=tuple(
                    ProfileUse(
                        profile_id=p.id, name=p.name, mode=p.mode, priority=p.priority, kind=kind
                    )
                    for p, kind in uses
                ),
            )


# --- internals ----------------------------------------------------------------------------------


def _filter_conditions(name: str) -> list[ColumnElement[bool]]:
    if name == "enabled":
        return [UserRow.enabled.is_(True)]
    if name == "disabled":
        return [UserRow.enabled.is_(False)]
    if name == "admins":
        return [UserRow.id.in_(select(AdminRoleRow.user_id))]
    if name == "privileged":
        return [UserRow.privileged.is_(True)]
    return []


def _branches(plan: SearchPlan, conditions: Sequence[ColumnElement[bool]]) -> list[Select[Any]]:
    """One ordered query per indexed lookup (each is limited by the caller)."""
    base = select(UserRow).where(*conditions).order_by(UserRow.username_key)
    if plan.username_prefix is None:
        return [base]
    branches = [base.where(prefix_clause(UserRow.username_key, plan.username_prefix))]
    for name in plan.names:
        ids = select(UserNameKeyRow.user_id).where(
            prefix_clause(UserNameKeyRow.key, name.family_prefix)
        )
        branch = base.where(UserRow.id.in_(ids))
        if name.given_prefix:
            branch = branch.where(
                func.lower(UserRow.given_name).like(_like_prefix(name.given_prefix), escape="\\")
            )
        branches.append(branch)
    if plan.email_prefix:
        ids = select(UserEmailRow.user_id).where(
            func.lower(UserEmailRow.address).like(_like_prefix(plan.email_prefix), escape="\\")
        )
        branches.append(base.where(UserRow.id.in_(ids)))
    return branches


def _like_prefix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _member_counts(session: Session, group_ids: Sequence[str]) -> dict[str, int]:
    if not group_ids:
        return {}
    return {
        gid: int(n)
        for gid, n in session.execute(
            select(GroupMemberRow.group_id, func.count())
            .where(GroupMemberRow.group_id.in_(group_ids))
            .group_by(GroupMemberRow.group_id)
        )
    }


def _list_items(session: Session, rows: Sequence[UserRow], *, now: datetime) -> list[UserListItem]:
    """The table's columns for one page of users, a handful of queries keyed by the page's ids."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    roles = dict(
        session.execute(
            select(AdminRoleRow.user_id, AdminRoleRow.role).where(AdminRoleRow.user_id.in_(ids))
        ).all()
    )
    emails: dict[str, str] = {}
    for user_id, address in session.execute(
        select(UserEmailRow.user_id, UserEmailRow.address)
        .where(UserEmailRow.user_id.in_(ids))
        .order_by(UserEmailRow.user_id, UserEmailRow.primary.desc(), UserEmailRow.address)
    ):
        emails.setdefault(user_id, address)
    groups: dict[str, list[str]] = defaultdict(list)
    for user_id, name in session.execute(
        select(GroupMemberRow.user_id, GroupRow.name)
        .join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
        .where(GroupMemberRow.user_id.in_(ids))
        .order_by(GroupRow.name_key)
    ):
        groups[user_id].append(name)
    methods: dict[str, int] = defaultdict(int)
    for m in session.execute(
        select(AuthMethodRow.user_id, AuthMethodRow.type, AuthMethodRow.expires_at)
        .add_columns(AuthMethodRow.one_time, AuthMethodRow.used_at)
        .where(AuthMethodRow.user_id.in_(ids), AuthMethodRow.revoked_at.is_(None))
    ):
        user_id, kind, expires_at, one_time, used_at = m
        if kind == "tap" and (
            expires_at is None or expires_at <= now or (one_time and used_at is not None)
        ):
            continue
        methods[user_id] += 1
    last_signin = dict(
        session.execute(
            select(SessionRow.user_id, func.max(SessionRow.authenticated_at))
            .where(SessionRow.user_id.in_(ids))
            .group_by(SessionRow.user_id)
        ).all()
    )
    return [
        UserListItem(
            id=r.id,
            username=r.username,
            display_name=r.display_name,
            email=emails.get(r.id),
            enabled=r.enabled,
            privileged=r.privileged,
            role=roles.get(r.id),
            groups=tuple(groups[r.id][:SHOWN_GROUPS]),
            group_count=len(groups[r.id]),
            active_methods=methods[r.id],
            last_signin_at=last_signin.get(r.id),
        )
        for r in rows
    ]


# --- a user's page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserView:
    """Everything the user page shows (and the API's user document)."""

    user: User
    role: str | None
    transitive_groups: tuple[str, ...]
    decision: ProfileDecision
    methods: tuple[MethodInfo, ...]
    live_sessions: int
    cases: tuple[CaseItem, ...]
    events: tuple[AuditItem, ...]
    tap_policy: TapPolicy


def user_view(registry: Registry, user_id: str) -> UserView:
    """A user's details, groups, profile decision, methods, recent cases and audit events."""
    user = registry.directory.get_user_by_id(user_id)
    now = registry.clock.now()
    directory = AdminDirectory(registry.database)
    return UserView(
        user=user,
        role=registry.admin_roles.role_of(user.id),
        transitive_groups=registry.directory.transitive_groups(user.id),
        decision=registry.profiles.which(user.username),
        methods=tuple(registry.signin.methods_of(user.id)),
        live_sessions=directory.live_sessions(user.id, now=now),
        cases=tuple(directory.recent_cases(user.id)),
        events=tuple(directory.recent_events(user.id)),
        tap_policy=registry.signin.taps.policy,
    )
