"""Profile rows inside a caller's unit of work (repositories never commit), and the group
paths that explain why a profile applies to a user."""

from __future__ import annotations

import unicodedata
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, null, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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
from ssar.store.tables import (
    GroupMemberRow,
    GroupNestingRow,
    GroupRow,
    TenantSettingRow,
    UserRow,
    VerificationProfileGroupRow,
    VerificationProfileRow,
)
from ssar.store.types import new_id

# serialises profile writes on PostgreSQL, so two concurrent applies cannot both pass the
# priority check (SQLite already serialises writers)
PROFILES_LOCK = 7284010

GroupPath = tuple[str, ...]  # group names from a group the user is directly in, up to a group

# the tenant setting whose value changes (a fresh random token) in every transaction that changes
# what ``ProfileRepository.profiles`` returns: a profile, its groups, or the name of one of its
# groups. Processes cache built profiles against it (``ProfileService.which``); a token, not a
# timestamp or a counter of rows, so a fixed clock or a delete-then-create cannot fool it.
PROFILES_VERSION_KEY = "profiles_version"


def bump_profiles_version(session: Session, *, at: datetime, actor: str) -> None:
    """Give the profiles a new version token, in the caller's unit of work (one upsert)."""
    values = {
        "key": PROFILES_VERSION_KEY,
        "value": {"token": new_id()},
        "updated_at": at,
        "updated_by": actor,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(TenantSettingRow).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[TenantSettingRow.key],
            set_={
                "value": statement.excluded.value,
                "updated_at": statement.excluded.updated_at,
                "updated_by": statement.excluded.updated_by,
            },
        )
    )


@dataclass(frozen=True)
class Resolution:
    """What ``which`` needs of one user, and the profiles' version token, read together."""

    user_id: str
    enabled: bool
    privileged: bool
    profiles_version: Any
    paths: dict[str, GroupPath]


def profile_key(name: str) -> str:
    """The key profile names are unique by: NFC-normalised, case-folded, spaces collapsed."""
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


class ProfileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text(f"SELECT pg_advisory_xact_lock({PROFILES_LOCK})"))

    def rows(self) -> list[VerificationProfileRow]:
        return list(
            self.session.execute(
                select(VerificationProfileRow).order_by(VerificationProfileRow.priority)
            ).scalars()
        )

    def row_by_name(self, name: str) -> VerificationProfileRow | None:
        return self.session.execute(
            select(VerificationProfileRow).where(
                VerificationProfileRow.name_key == profile_key(name)
            )
        ).scalar_one_or_none()

    def group_ids(self, profile_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(included group ids, excluded group ids) in the profile's order."""
        rows = self.session.execute(
            select(VerificationProfileGroupRow)
            .where(VerificationProfileGroupRow.profile_id == profile_id)
            .order_by(VerificationProfileGroupRow.position)
        ).scalars()
        include: list[str] = []
        exclude: list[str] = []
        for row in rows:
            (include if row.kind == "include" else exclude).append(row.group_id)
        return tuple(include), tuple(exclude)

    def replace_groups(
        self, profile_id: str, *, include: Sequence[str], exclude: Sequence[str]
    ) -> None:
        self.session.execute(
            delete(VerificationProfileGroupRow).where(
                VerificationProfileGroupRow.profile_id == profile_id
            )
        )
        position = 0
        for kind, ids in (("include", include), ("exclude", exclude)):
            for group_id in ids:
                self.session.add(
                    VerificationProfileGroupRow(
                        profile_id=profile_id, group_id=group_id, kind=kind, position=position
                    )
                )
                position += 1

    def profiles(self, rows: Sequence[VerificationProfileRow]) -> list[Profile]:
        """Rows as results, with their groups by current name, in one query for the groups."""
        ids = [r.id for r in rows]
        groups: dict[tuple[str, str], list[GroupRef]] = defaultdict(list)
        if ids:
            for profile_id, kind, group_id, name in self.session.execute(
                select(
                    VerificationProfileGroupRow.profile_id,
                    VerificationProfileGroupRow.kind,
                    GroupRow.id,
                    GroupRow.name,
                )
                .join(GroupRow, GroupRow.id == VerificationProfileGroupRow.group_id)
                .where(VerificationProfileGroupRow.profile_id.in_(ids))
                .order_by(VerificationProfileGroupRow.position)
            ):
                groups[(profile_id, kind)].append(GroupRef(id=group_id, name=name))
        return [
            profile_from_row(
                r,
                include=tuple(groups[(r.id, "include")]),
                exclude=tuple(groups[(r.id, "exclude")]),
            )
            for r in rows
        ]

    def profiles_version(self) -> Any:
        """The profiles' version token (None before the first profile write)."""
        return self.session.execute(
            select(TenantSettingRow.value).where(TenantSettingRow.key == PROFILES_VERSION_KEY)
        ).scalar_one_or_none()

    def group_paths(self, user_id: str) -> dict[str, GroupPath]:
        """For every group the user is in (directly or through nesting), the shortest chain of
        group names that leads there from a group the user is directly in.

        One statement: a recursive CTE walks ``group_nesting`` upwards from the user's direct
        groups (index on ``group_members.user_id``, then on ``group_nesting.child_id`` at each
        level). Its rows are the nesting edges it climbed, (group, the child it was reached
        from; none for a direct group), so no second pass over ``group_nesting`` is needed, and
        each name is one primary-key lookup (a join would make the planner, which expects many
        rows from a recursive CTE, hash the whole ``groups`` table)."""
        tree, name = _ancestors(GroupMemberRow.user_id == user_id)
        rows = self.session.execute(select(tree.c.id, tree.c.via, name))
        return _paths((r[0], r[1], r[2]) for r in rows)

    def resolution(self, key: str) -> Resolution | None:
        """The user with username key ``key`` (None when there is none), their group paths
        (``group_paths``) and the profiles' version token, in one statement: the user row by
        its unique key, the version by primary key, the ancestors CTE seeded from that user."""
        user = (
            select(UserRow.id, UserRow.enabled, UserRow.privileged)
            .where(UserRow.username_key == key)
            .cte("u")
        )
        tree, name = _ancestors(GroupMemberRow.user_id == select(user.c.id).scalar_subquery())
        version = (
            select(TenantSettingRow.value)
            .where(TenantSettingRow.key == PROFILES_VERSION_KEY)
            .scalar_subquery()
        )
        rows = self.session.execute(
            select(
                user.c.id,
                user.c.enabled,
                user.c.privileged,
                version,
                tree.c.id,
                tree.c.via,
                name,
            ).select_from(user.outerjoin(tree, true()))
        ).all()
        if not rows:
            return None
        first = rows[0]
        return Resolution(
            user_id=first[0],
            enabled=bool(first[1]),
            privileged=bool(first[2]),
            profiles_version=first[3],
            paths=_paths((r[4], r[5], r[6]) for r in rows if r[4] is not None),
        )


def _ancestors(seed_where: Any) -> tuple[Any, Any]:
    """The recursive CTE of ``group_paths`` seeded from the memberships ``seed_where`` selects,
    and the scalar subquery that names each of its groups."""
    seed = select(GroupMemberRow.group_id.label("id"), cast(null(), String(36)).label("via")).where(
        seed_where
    )
    tree = seed.cte("ancestors", recursive=True)
    tree = tree.union(
        select(GroupNestingRow.parent_id, GroupNestingRow.child_id).join(
            tree, GroupNestingRow.child_id == tree.c.id
        )
    )
    name = select(GroupRow.name).where(GroupRow.id == tree.c.id).scalar_subquery()
    return tree, name


def _paths(rows: Iterable[tuple[str, str | None, str]]) -> dict[str, GroupPath]:
    """Shortest chains from the ancestors CTE's rows (group, reached from, name)."""
    names: dict[str, str] = {}
    direct: set[str] = set()
    parents: dict[str, set[str]] = defaultdict(set)
    for group_id, via, group_name in rows:
        names[group_id] = group_name
        if via is None:
            direct.add(group_id)
        else:
            parents[via].add(group_id)
    paths: dict[str, GroupPath] = {}
    queue: deque[str] = deque()
    for group_id in sorted(direct, key=lambda g: names[g].casefold()):
        paths[group_id] = (names[group_id],)
        queue.append(group_id)
    while queue:  # breadth first: the shortest chain wins, ties by name
        child = queue.popleft()
        for parent in sorted(parents[child], key=lambda g: names.get(g, "").casefold()):
            if parent not in paths and parent in names:
                paths[parent] = (*paths[child], names[parent])
                queue.append(parent)
    return paths


def profile_from_row(
    row: VerificationProfileRow, *, include: Iterable[GroupRef], exclude: Iterable[GroupRef]
) -> Profile:
    settings: dict[str, Any] = row.settings
    credentials = settings.get("credentials")
    validation = settings["validation"]
    extension = validation.get("extension")
    return Profile(
        id=row.id,
        name=row.name,
        description=row.description,
        mode=row.mode,
        priority=row.priority,
        include_groups=tuple(include),
        exclude_groups=tuple(exclude),
        allow_privileged=row.allow_privileged,
        provider=row.provider,
        credentials=(
            CredentialPolicy(
                types=tuple(credentials["types"]),
                issuers=tuple(
                    TrustedIssuer(
                        iss=i["iss"],
                        jwks=i.get("jwks"),
                        jwks_uri=i.get("jwks_uri"),
                        x5c=tuple(i.get("x5c") or ()),
                    )
                    for i in credentials["issuers"]
                ),
            )
            if credentials
            else None
        ),
        validation=ValidationRules(
            match=validation["match"],
            claims=tuple(ClaimRule(claim=c, attribute=a) for c, a in validation["claims"].items()),
            extension=(
                ExtensionEndpoint(
                    url=extension["url"], timeout_seconds=float(extension["timeout_seconds"])
                )
                if extension
                else None
            ),
        ),
        face_check=FaceCheckPolicy(
            required=bool(settings["face_check"]["required"]),
            threshold=int(settings["face_check"]["threshold"]),
        ),
        tap=TapSettings(
            lifetime_minutes=int(settings["tap"]["lifetime_minutes"]),
            one_time=bool(settings["tap"]["one_time"]),
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
