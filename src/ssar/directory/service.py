"""The directory service: users, nested groups and notification addresses.

Every public method is one unit of work (``Database.transaction()``) and writes its audit events
inside it, so a change and its record are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.directory.filters import Filter
from ssar.directory.group_import import (
    GroupImportResult,
    GroupImportRow,
    acyclic_nestings,
    parents_first,
    read_groups_csv,
)
from ssar.directory.importer import ImportRow, read_users_csv
from ssar.directory.models import (
    UNSET,
    AuthMethodSummary,
    EmailAddress,
    Group,
    GroupPage,
    ImportResult,
    ImportRowError,
    Unset,
    User,
    UserPage,
    clean_birthdate,
    clean_emails,
    clean_group_name,
    clean_name,
    clean_optional,
    clean_username,
)
from ssar.directory.names import group_key, username_key
from ssar.directory.namesakes import TooManyNamesakes, search_keys, user_name_keys
from ssar.directory.repository import (
    DirectoryRepository,
    group_filter_clause,
    namesake_candidates,
    user_filter_clause,
)
from ssar.errors import Conflict, NotFound, ValidationFailed
from ssar.recovery.matching import MatchRule, match_names
from ssar.store.db import Database
from ssar.store.tables import (
    GroupMemberRow,
    GroupNestingRow,
    GroupRow,
    UserEmailRow,
    UserNameKeyRow,
    UserRow,
)
from ssar.store.types import new_id

ProgressCallback = Callable[[int, int], None]  # (rows done, rows in total)
MAX_PAGE = 1000
# one advisory lock serialises changes to group nesting on PostgreSQL, so two concurrent
# nestings cannot close a cycle between them (SQLite already serialises writers)
NESTING_LOCK = 7284002


_IMPORT_USER_COLUMNS = (
    "id",
    "username",
    "username_key",
    "given_name",
    "family_name",
    "display_name",
    "employee_id",
    "external_id",
    "birthdate",
    "enabled",
    "privileged",
    "created_at",
    "updated_at",
)
_IMPORT_EMAIL_COLUMNS = ("id", "user_id", "address", "kind", "primary", "notify")


def _copy_rows(
    session: Session, tables: Sequence[tuple[Table, Sequence[str], Sequence[tuple[Any, ...]]]]
) -> None:
    """``COPY ... FROM STDIN`` of each table's rows on the session's own PostgreSQL connection
    (same transaction). A unique violation (a concurrent writer created one of the usernames)
    is raised as SQLAlchemy's ``IntegrityError``, like the INSERT path's, so the caller's retry
    sees both alike."""
    import psycopg
    from psycopg import sql

    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor:
            for table, columns, rows in tables:
                if not rows:
                    continue
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
    except psycopg.IntegrityError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc


def _group_in_profiles_changed(session: Session, group_id: str, *, at: Any, actor: str) -> None:
    """A group was renamed or is being deleted: when a profile names it, give the profiles a new
    version, so every process rebuilds its cached profiles (``ProfileService.which``)."""
    from ssar.profiles.repository import bump_profiles_version
    from ssar.store.tables import VerificationProfileGroupRow

    used = session.execute(
        select(VerificationProfileGroupRow.group_id)
        .where(VerificationProfileGroupRow.group_id == group_id)
        .limit(1)
    ).first()
    if used is not None:
        bump_profiles_version(session, at=at, actor=actor)


def _table(row_class: type[Any]) -> Table:
    return cast(Table, row_class.__table__)


class DirectoryService:
    def __init__(
        self, *, database: Database, clock: Clock, import_batch_size: int | None = None
    ) -> None:
        """``import_batch_size``: users per import transaction (and ``user.imported`` event);
        by default 20,000 on PostgreSQL (``COPY``) and 5,000 elsewhere (batched inserts)."""
        self._db = database
        self._clock = clock
        if import_batch_size is None:
            import_batch_size = 20_000 if database.dialect == "postgresql" else 5000
        self._batch = import_batch_size

    # --- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        *,
        username: str,
        given_name: str,
        family_name: str,
        display_name: str | None = None,
        emails: Sequence[str | EmailAddress] = (),
        employee_id: str | None = None,
        external_id: str | None = None,
        birthdate: str | None = None,
        privileged: bool = False,
        enabled: bool = True,
        groups: Sequence[str] = (),
        create_missing_groups: bool = False,
        actor: str = "system",
    ) -> User:
        """Create a user. Unknown groups raise NotFound unless ``create_missing_groups``."""
        username = clean_username(username)
        given = clean_name(given_name, field_name="given_name")
        family = clean_name(family_name, field_name="family_name")
        display = clean_name(display_name, field_name="display_name", required=False)
        clean_addresses = clean_emails(emails)
        group_names = tuple(dict.fromkeys(clean_group_name(g) for g in groups))
        now = self._clock.now()
        row = UserRow(
            id=new_id(),
            username=username,
            username_key=username_key(username),
            given_name=given,
            family_name=family,
            display_name=display or f"{given} {family}",
            employee_id=clean_optional(employee_id, field_name="employee_id", max_length=128),
            external_id=clean_optional(external_id, field_name="external_id", max_length=256),
            birthdate=clean_birthdate(birthdate),
            enabled=enabled,
            privileged=privileged,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._db.transaction() as session:
                repo = DirectoryRepository(session)
                if repo.user_row_by_key(row.username_key) is not None:
                    raise Conflict(f"a user named {username!r} exists", code="username_taken")
                session.add(row)
                session.flush()
                repo.replace_emails(row.id, clean_addresses)
                repo.replace_name_keys(row.id, family)
                audit = AuditLog(session)
                for name in group_names:
                    group = self._group_for_write(
                        session, name, create=create_missing_groups, actor=actor
                    )
                    session.add(GroupMemberRow(group_id=group.id, user_id=row.id))
                audit.append(
                    "user.created",
                    at=now,
                    actor=actor,
                    user_id=row.id,
                    data={"username": username, "groups": list(group_names)},
                )
                session.flush()
                return repo.users([row])[0]
        except IntegrityError as exc:  # a concurrent writer took the username first
            raise Conflict(f"a user named {username!r} exists", code="username_taken") from exc

    def get_user(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def find_user(self, username: str) -> User | None:
        """The user with this username (any case, any Unicode normal form), or None."""
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            row = repo.user_row_by_key(username_key(username))
            return repo.users([row])[0] if row is not None else None

    def get_user_by_id(self, user_id: str) -> User:
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            row = repo.user_row_by_id(user_id)
            if row is None:
                raise NotFound(f"no user with id {user_id}")
            return repo.users([row])[0]

    def find_namesakes(
        self, *, given: str, family: str, rule: str, limit: int = 50
    ) -> tuple[User, ...]:
        """The users whose names fit a credential's ``given`` and ``family`` names under
        ``rule`` (``exact`` | ``relaxed``), ordered by username, for the namesake guard (R32).

        One lookup of :func:`~ssar.directory.namesakes.search_keys` in the ``user_name_keys``
        index (no scan of ``users``); accounts found through a shared key whose names do not fit
        under ``rule`` are left out (``select_account`` would ignore them), so ``limit`` counts
        only real namesakes, the account the person typed included. When more than ``limit``
        fit, raises :class:`~ssar.directory.namesakes.TooManyNamesakes` instead of returning
        some of them: deciding on part of the namesakes could miss the one that is not told
        apart.
        """
        if limit < 1:
            raise ValidationFailed("limit must be at least 1", field="limit")
        keys = search_keys(given=given, family=family, rule=rule)
        if not keys:
            return ()
        match_rule = cast(MatchRule, rule)
        with self._db.transaction() as session:
            fitting: list[str] = []
            seen: set[str] = set()
            candidates = session.execute(
                namesake_candidates(keys).execution_options(yield_per=1000)
            )
            try:
                for user_id, user_given, user_family in candidates:
                    if user_id in seen:
                        continue
                    seen.add(user_id)
                    fit = match_names(
                        credential_given=given,
                        credential_family=family,
                        user_given=user_given,
                        user_family=user_family,
                        rule=match_rule,
                    )
                    if fit.matched:
                        fitting.append(user_id)
                        if len(fitting) > limit:
                            raise TooManyNamesakes(
                                f"more than {limit} accounts have names that fit the credential's"
                            )
            finally:
                candidates.close()
            if not fitting:
                return ()
            repo = DirectoryRepository(session)
            rows = session.execute(
                select(UserRow).where(UserRow.id.in_(fitting)).order_by(UserRow.username_key)
            ).scalars()
            return tuple(repo.users(list(rows)))

    def list_users(
        self,
        *,
        query: str | None = None,
        group: str | None = None,
        transitive: bool = True,
        filter: Filter | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> UserPage:
        """Users ordered by username. ``query`` matches part of the username, display name or an
        e-mail address; ``group`` keeps members (through nested groups unless not
        ``transitive``); ``filter`` is a parsed SCIM filter. ``limit=None`` returns all."""
        if limit is not None and limit < 0:
            raise ValidationFailed("limit must not be negative", field="limit")
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            where: list[ColumnElement[bool]] = []
            if query:
                pattern = f"%{query.strip().lower()}%"
                where.append(
                    or_(
                        UserRow.username_key.like(pattern),
                        func.lower(UserRow.display_name).like(pattern),
                        UserRow.id.in_(
                            select(UserEmailRow.user_id).where(
                                func.lower(UserEmailRow.address).like(pattern)
                            )
                        ),
                    )
                )
            if group is not None:
                group_row = repo.group_row_by_key(group_key(group))
                if group_row is None:
                    raise NotFound(f"no group named {group!r}")
                where.append(repo.members_of_clause(group_row.id, transitive=transitive))
            if filter is not None:
                where.append(user_filter_clause(filter))
            rows, total = repo.search_users(where=where, limit=limit, offset=max(offset, 0))
            return UserPage(users=tuple(repo.users(rows)), total=total)

    def update_user(
        self,
        user_id: str,
        *,
        actor: str = "system",
        username: str | Unset = UNSET,
        given_name: str | Unset = UNSET,
        family_name: str | Unset = UNSET,
        display_name: str | Unset = UNSET,
        emails: Sequence[str | EmailAddress] | Unset = UNSET,
        employee_id: str | Unset | None = UNSET,
        external_id: str | Unset | None = UNSET,
        birthdate: str | Unset | None = UNSET,
        enabled: bool | Unset = UNSET,
        privileged: bool | Unset = UNSET,
    ) -> User:
        """Change the given attributes; ``None`` clears an optional one. Audits what changed."""
        values: dict[str, Any] = {}
        if not isinstance(username, Unset):
            values["username"] = clean_username(username)
        if not isinstance(given_name, Unset):
            values["given_name"] = clean_name(given_name, field_name="given_name")
        if not isinstance(family_name, Unset):
            values["family_name"] = clean_name(family_name, field_name="family_name")
        if not isinstance(display_name, Unset):
            values["display_name"] = clean_name(
                display_name, field_name="display_name", required=False
            )
        if not isinstance(employee_id, Unset):
            values["employee_id"] = clean_optional(
                employee_id, field_name="employee_id", max_length=128
            )
        if not isinstance(external_id, Unset):
            values["external_id"] = clean_optional(
                external_id, field_name="external_id", max_length=256
            )
        if not isinstance(birthdate, Unset):
            values["birthdate"] = clean_birthdate(birthdate)
        if not isinstance(enabled, Unset):
            values["enabled"] = bool(enabled)
        if not isinstance(privileged, Unset):
            values["privileged"] = bool(privileged)
        new_emails = None if isinstance(emails, Unset) else clean_emails(emails)
        now = self._clock.now()
        try:
            with self._db.transaction() as session:
                repo = DirectoryRepository(session)
                row = repo.user_row_by_id(user_id)
                if row is None:
                    raise NotFound(f"no user with id {user_id}")
                if "display_name" in values and not values["display_name"]:
                    given = values.get("given_name", row.given_name)
                    values["display_name"] = f"{given} {values.get('family_name', row.family_name)}"
                changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
                if "username" in changed:
                    key = username_key(values["username"])
                    other = repo.user_row_by_key(key)
                    if other is not None and other.id != row.id:
                        raise Conflict(
                            f"a user named {values['username']!r} exists", code="username_taken"
                        )
                    row.username_key = key
                for name in changed:
                    setattr(row, name, values[name])
                if "family_name" in changed:
                    repo.replace_name_keys(row.id, values["family_name"])
                if new_emails is not None:
                    current = repo.users([row])[0].emails
                    if sorted(current, key=lambda e: e.address) != sorted(
                        new_emails, key=lambda e: e.address
                    ):
                        repo.replace_emails(row.id, new_emails)
                        changed.append("emails")
                if changed:
                    row.updated_at = now
                    data: dict[str, Any] = {"username": row.username, "changed": changed}
                    if "enabled" in changed:
                        data["enabled"] = row.enabled
                    if "privileged" in changed:
                        data["privileged"] = row.privileged
                    AuditLog(session).append(
                        "user.updated", at=now, actor=actor, user_id=row.id, data=data
                    )
                session.flush()
                return repo.users([row])[0]
        except IntegrityError as exc:
            raise Conflict("that username is taken", code="username_taken") from exc

    def delete_user(self, user_id: str, *, actor: str = "system") -> None:
        with self._db.transaction() as session:
            row = DirectoryRepository(session).user_row_by_id(user_id)
            if row is None:
                raise NotFound(f"no user with id {user_id}")
            username = row.username
            session.delete(row)
            AuditLog(session).append(
                "user.deleted",
                at=self._clock.now(),
                actor=actor,
                user_id=user_id,
                data={"username": username},
            )

    def notification_addresses(self, user_id: str) -> tuple[str, ...]:
        """Where to tell the user about changes to their account (R5, R27)."""
        with self._db.transaction() as session:
            return tuple(
                session.execute(
                    select(UserEmailRow.address)
                    .where(UserEmailRow.user_id == user_id, UserEmailRow.notify.is_(True))
                    .order_by(UserEmailRow.primary.desc(), UserEmailRow.address)
                ).scalars()
            )

    def auth_methods(self, user_id: str) -> tuple[AuthMethodSummary, ...]:
        """The user's sign-in methods that are not revoked (read-only view of sign-in's table)."""
        with self._db.transaction() as session:
            return tuple(DirectoryRepository(session).auth_methods(user_id))

    def transitive_groups(self, user_id: str) -> tuple[str, ...]:
        """Names of every group the user is in, directly or through nested groups."""
        with self._db.transaction() as session:
            return tuple(DirectoryRepository(session).transitive_group_names(user_id))

    def is_member(self, *, username: str, group: str) -> bool:
        """Whether the user is in the group, directly or through nested groups."""
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            user = repo.user_row_by_key(username_key(username))
            group_row = repo.group_row_by_key(group_key(group))
            if user is None or group_row is None:
                return False
            return repo.user_in_group(user_id=user.id, group_id=group_row.id)

    # --- groups --------------------------------------------------------------------------------

    def add_group(
        self,
        name: str,
        *,
        parent: str | None = None,
        external_id: str | None = None,
        members: Sequence[str] = (),
        actor: str = "system",
    ) -> Group:
        """Create a group, optionally nested in ``parent`` and with member ids (users or
        groups, as SCIM sends them)."""
        name = clean_group_name(name)
        external_id = clean_optional(external_id, field_name="external_id", max_length=256)
        try:
            with self._db.transaction() as session:
                repo = DirectoryRepository(session)
                if repo.group_row_by_key(group_key(name)) is not None:
                    raise Conflict(f"a group named {name!r} exists", code="group_exists")
                row = self._create_group(session, name, external_id=external_id, actor=actor)
                if parent is not None:
                    parent_row = repo.group_row_by_key(group_key(parent))
                    if parent_row is None:
                        raise NotFound(f"no group named {parent!r}")
                    self._nest(session, parent_row, row, actor=actor)
                if members:
                    self._change_members(session, row, add=members, remove=(), actor=actor)
                session.flush()
                return repo.group(row, with_members=True)
        except IntegrityError as exc:
            raise Conflict(f"a group named {name!r} exists", code="group_exists") from exc

    def find_group(self, name: str, *, with_members: bool = False) -> Group | None:
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            row = repo.group_row_by_key(group_key(name))
            return repo.group(row, with_members=with_members) if row is not None else None

    def get_group(self, name: str, *, with_members: bool = True) -> Group:
        group = self.find_group(name, with_members=with_members)
        if group is None:
            raise NotFound(f"no group named {name!r}")
        return group

    def get_group_by_id(self, group_id: str, *, with_members: bool = True) -> Group:
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            row = repo.group_row_by_id(group_id)
            if row is None:
                raise NotFound(f"no group with id {group_id}")
            return repo.group(row, with_members=with_members)

    def list_groups(
        self,
        *,
        filter: Filter | None = None,
        limit: int | None = 100,
        offset: int = 0,
        with_members: bool = False,
    ) -> GroupPage:
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            where = [group_filter_clause(filter)] if filter is not None else []
            rows, total = repo.search_groups(where=where, limit=limit, offset=max(offset, 0))
            return GroupPage(
                groups=tuple(repo.group(r, with_members=with_members) for r in rows), total=total
            )

    def update_group(
        self,
        group_id: str,
        *,
        actor: str = "system",
        name: str | Unset = UNSET,
        external_id: str | Unset | None = UNSET,
        add_members: Sequence[str] = (),
        remove_members: Sequence[str] = (),
        replace_members: Sequence[str] | None = None,
    ) -> Group:
        """Rename a group and change its members in one unit of work. Member ids may be user or
        group ids; a group member nests that group (cycles are refused)."""
        new_name = None if isinstance(name, Unset) else clean_group_name(name)
        try:
            with self._db.transaction() as session:
                repo = DirectoryRepository(session)
                row = repo.group_row_by_id(group_id)
                if row is None:
                    raise NotFound(f"no group with id {group_id}")
                changed: list[str] = []
                if new_name is not None and new_name != row.name:
                    other = repo.group_row_by_key(group_key(new_name))
                    if other is not None and other.id != row.id:
                        raise Conflict(f"a group named {new_name!r} exists", code="group_exists")
                    row.name, row.name_key = new_name, group_key(new_name)
                    changed.append("name")
                if not isinstance(external_id, Unset):
                    value = clean_optional(external_id, field_name="external_id", max_length=256)
                    if value != row.external_id:
                        row.external_id = value
                        changed.append("external_id")
                if replace_members is not None:
                    current = repo.group(row, with_members=True).members or ()
                    wanted = set(replace_members)
                    self._change_members(
                        session,
                        row,
                        add=[m for m in replace_members if m not in {c.id for c in current}],
                        remove=[c.id for c in current if c.id not in wanted],
                        actor=actor,
                    )
                self._change_members(
                    session, row, add=add_members, remove=remove_members, actor=actor
                )
                if changed:
                    row.updated_at = self._clock.now()
                    if "name" in changed:  # profiles show their groups by current name
                        _group_in_profiles_changed(session, row.id, at=row.updated_at, actor=actor)
                    AuditLog(session).append(
                        "group.updated",
                        at=row.updated_at,
                        actor=actor,
                        data={"group_id": row.id, "name": row.name, "changed": changed},
                    )
                session.flush()
                return repo.group(row, with_members=True)
        except IntegrityError as exc:
            raise Conflict("that group name is taken", code="group_exists") from exc

    def delete_group(self, group_id: str, *, actor: str = "system") -> None:
        with self._db.transaction() as session:
            row = DirectoryRepository(session).group_row_by_id(group_id)
            if row is None:
                raise NotFound(f"no group with id {group_id}")
            name = row.name
            now = self._clock.now()
            # deleting a group drops it from the profiles that include or exclude it (cascade)
            _group_in_profiles_changed(session, row.id, at=now, actor=actor)
            session.delete(row)
            AuditLog(session).append(
                "group.deleted",
                at=now,
                actor=actor,
                data={"group_id": group_id, "name": name},
            )

    def add_member(self, *, group: str, username: str, actor: str = "system") -> bool:
        """Put a user directly in a group; False when they already were."""
        with self._db.transaction() as session:
            group_row, user_row = self._group_and_user(session, group, username)
            return (
                self._change_members(session, group_row, add=[user_row.id], remove=(), actor=actor)
                > 0
            )

    def remove_member(self, *, group: str, username: str, actor: str = "system") -> bool:
        """Take a user out of a group (direct membership only); False when they were not in it."""
        with self._db.transaction() as session:
            group_row, user_row = self._group_and_user(session, group, username)
            return (
                self._change_members(session, group_row, add=(), remove=[user_row.id], actor=actor)
                > 0
            )

    def nest_group(self, *, parent: str, child: str, actor: str = "system") -> bool:
        """Put group ``child`` inside group ``parent``; refuses a cycle. False when it was."""
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            parent_row = repo.group_row_by_key(group_key(parent))
            child_row = repo.group_row_by_key(group_key(child))
            if parent_row is None or child_row is None:
                raise NotFound(f"no group named {parent if parent_row is None else child!r}")
            return self._nest(session, parent_row, child_row, actor=actor)

    def unnest_group(self, *, parent: str, child: str, actor: str = "system") -> bool:
        with self._db.transaction() as session:
            repo = DirectoryRepository(session)
            parent_row = repo.group_row_by_key(group_key(parent))
            child_row = repo.group_row_by_key(group_key(child))
            if parent_row is None or child_row is None:
                raise NotFound(f"no group named {parent if parent_row is None else child!r}")
            return (
                self._change_members(
                    session, parent_row, add=(), remove=[child_row.id], actor=actor
                )
                > 0
            )

    # --- bulk import ---------------------------------------------------------------------------

    def import_users_csv(
        self,
        source: Path | TextIO,
        *,
        actor: str = "system",
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Import a users CSV file (see ``ssar.directory.importer`` for the columns)."""
        if isinstance(source, Path):
            try:
                with source.open(encoding="utf-8-sig", newline="") as stream:
                    parsed = list(read_users_csv(stream))
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationFailed(f"cannot read {source}: {exc}", field="file") from exc
        else:
            parsed = list(read_users_csv(source))
        rows = [r for r in parsed if isinstance(r, ImportRow)]
        errors = [r for r in parsed if isinstance(r, ImportRowError)]
        return self.import_users(rows, actor=actor, progress=progress, errors=errors)

    def import_users(
        self,
        rows: Iterable[ImportRow],
        *,
        actor: str = "system",
        progress: ProgressCallback | None = None,
        errors: Sequence[ImportRowError] = (),
    ) -> ImportResult:
        """Create users in batches; existing usernames are skipped and counted.

        Missing groups are created first (one ``group.created`` event each). Each batch is one
        transaction with batched inserts and one ``user.imported`` audit event listing the
        usernames it created, so 100,000 rows do not cost 100,000 audit-chain locks. An import
        that stops half-way can simply be run again: what exists is skipped.
        """
        rejected = list(errors)
        unique: list[ImportRow] = []
        first_line: dict[str, int] = {}
        for row in rows:
            key = username_key(row.username)
            if key in first_line:
                rejected.append(
                    ImportRowError(
                        row.line, row.username, f"same username as line {first_line[key]}"
                    )
                )
                continue
            first_line[key] = row.line
            unique.append(row)
        group_ids, groups_created = self._resolve_import_groups(unique, actor=actor)
        created = skipped = 0
        total = len(unique)
        if progress is not None:
            progress(0, total)
        for start in range(0, total, self._batch):
            batch = unique[start : start + self._batch]
            for attempt in (1, 2):
                try:
                    with self._db.transaction() as session:
                        made = self._insert_batch(session, batch, group_ids, actor=actor)
                    break
                except IntegrityError:
                    # a concurrent writer created one of these usernames between our check and
                    # the insert; the retry sees it and skips it
                    if attempt == 2:
                        raise
            created += made
            skipped += len(batch) - made
            if progress is not None:
                progress(min(start + len(batch), total), total)
        rejected.sort(key=lambda e: e.line)
        return ImportResult(
            created=created,
            skipped=skipped,
            groups_created=tuple(groups_created),
            errors=tuple(rejected),
        )

    def _resolve_import_groups(
        self, rows: Sequence[ImportRow], *, actor: str
    ) -> tuple[dict[str, str], list[str]]:
        names: dict[str, str] = {}
        for row in rows:
            for name in row.groups:
                names.setdefault(group_key(name), name)
        if not names:
            return {}, []
        created: list[str] = []
        with self._db.transaction() as session:
            ids: dict[str, str] = {}
            keys = list(names)
            for start in range(0, len(keys), 5000):
                chunk = keys[start : start + 5000]
                for key, group_id in session.execute(
                    select(GroupRow.name_key, GroupRow.id).where(GroupRow.name_key.in_(chunk))
                ):
                    ids[key] = group_id
            for key, name in names.items():
                if key not in ids:
                    ids[key] = self._create_group(session, name, external_id=None, actor=actor).id
                    created.append(name)
        return ids, created

    def _insert_batch(
        self,
        session: Session,
        batch: Sequence[ImportRow],
        group_ids: dict[str, str],
        *,
        actor: str,
    ) -> int:
        """Insert the users of ``batch`` whose usernames do not exist yet, with their addresses,
        memberships and name keys, and one ``user.imported`` event; the number inserted. On
        PostgreSQL the rows go in by ``COPY`` (``_copy_rows``), elsewhere by batched INSERTs."""
        postgresql = session.get_bind().dialect.name == "postgresql"
        if not postgresql:
            # random UUID keys touch index pages all over the file; the default 2 MB page cache
            # would write most of them out and read them back once per batch
            session.execute(text("PRAGMA cache_size=-131072"))
        keys = [username_key(r.username) for r in batch]
        existing = DirectoryRepository(session).existing_username_keys(keys)
        now = self._clock.now()
        users: list[tuple[Any, ...]] = []
        emails: list[tuple[Any, ...]] = []
        members: list[tuple[str, str]] = []
        name_keys: list[tuple[str, str]] = []
        for row, key in zip(batch, keys, strict=True):
            if key in existing:
                continue
            existing.add(key)
            user_id = new_id()
            users.append(
                (
                    user_id,
                    row.username,
                    key,
                    row.given_name,
                    row.family_name,
                    row.display_name,
                    row.employee_id,
                    row.external_id,
                    row.birthdate,
                    row.enabled,
                    row.privileged,
                    now,
                    now,
                )
            )
            emails.extend(
                (new_id(), user_id, e.address, e.kind, e.primary, e.notify) for e in row.emails
            )
            members.extend((group_ids[group_key(g)], user_id) for g in row.groups)
            name_keys.extend((k, user_id) for k in user_name_keys(row.family_name))
        if not users:
            return 0
        tables = (
            (_table(UserRow), _IMPORT_USER_COLUMNS, users),
            (_table(UserEmailRow), _IMPORT_EMAIL_COLUMNS, emails),
            (_table(GroupMemberRow), ("group_id", "user_id"), members),
            (_table(UserNameKeyRow), ("key", "user_id"), name_keys),
        )
        if postgresql:
            _copy_rows(session, tables)
        else:
            for table, columns, rows in tables:
                if rows:
                    session.execute(
                        insert(table), [dict(zip(columns, r, strict=True)) for r in rows]
                    )
        AuditLog(session).append(
            "user.imported",
            at=now,
            actor=actor,
            data={"count": len(users), "usernames": [u[1] for u in users]},
        )
        return len(users)

    def import_groups_csv(
        self,
        source: Path | TextIO,
        *,
        actor: str = "system",
        progress: ProgressCallback | None = None,
    ) -> GroupImportResult:
        """Import a groups CSV file (``name,parent``; see ``ssar.directory.group_import``)."""
        if isinstance(source, Path):
            try:
                with source.open(encoding="utf-8-sig", newline="") as stream:
                    parsed = list(read_groups_csv(stream))
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationFailed(f"cannot read {source}: {exc}", field="file") from exc
        else:
            parsed = list(read_groups_csv(source))
        rows = [r for r in parsed if isinstance(r, GroupImportRow)]
        errors = [r for r in parsed if isinstance(r, ImportRowError)]
        return self.import_groups(rows, actor=actor, progress=progress, errors=errors)

    def import_groups(
        self,
        rows: Sequence[GroupImportRow],
        *,
        actor: str = "system",
        progress: ProgressCallback | None = None,
        errors: Sequence[ImportRowError] = (),
    ) -> GroupImportResult:
        """Create the groups named in ``rows`` (parents first) and nest them; what exists is
        skipped, so running it again is safe.

        Groups are created in batches, each one transaction with one ``group.imported`` event
        listing the names. The nestings are then checked against the stored ones for cycles
        (a row that would close one is refused with its line) and inserted in one transaction
        that holds the nesting lock, in batches with one ``group.nestings_imported`` event each.
        """
        rejected = list(errors)
        names: dict[str, str] = {}
        wanted: dict[tuple[str, str], int] = {}
        for row in rows:
            names.setdefault(group_key(row.name), row.name)
            if row.parent is not None:
                names.setdefault(group_key(row.parent), row.parent)
                wanted.setdefault((group_key(row.parent), group_key(row.name)), row.line)
        with self._db.transaction() as session:
            ids = self._group_ids_by_key(session, list(names))
            stored = self._stored_nestings(session)

        # refuse cycles before creating anything; stored nestings are by id, and a group not
        # created yet stands in as "new:<key>" (an id is a UUID, so the two cannot meet)
        def node(key: str) -> str:
            return ids.get(key) or f"new:{key}"

        checked, refused = acyclic_nestings(
            stored, [(line, node(p), node(c)) for (p, c), line in wanted.items()]
        )
        kept_lines = {line for line, _, _ in checked}
        kept = [(line, p, c) for (p, c), line in wanted.items() if line in kept_lines]
        for line in refused:
            row = next(r for r in rows if r.line == line)
            rejected.append(
                ImportRowError(
                    line, row.name, f"nesting {row.name!r} in {row.parent!r} would make a cycle"
                )
            )
        missing = [k for k in names if k not in ids]
        ordered = parents_first(missing, [(p, c) for _, p, c in kept])
        total = len(ordered) + len(kept)
        done = 0
        if progress is not None:
            progress(0, total)
        created = 0
        for start in range(0, len(ordered), self._batch):
            batch = ordered[start : start + self._batch]
            for attempt in (1, 2):
                try:
                    with self._db.transaction() as session:
                        made = self._insert_group_batch(
                            session, [names[k] for k in batch], ids, actor=actor
                        )
                    break
                except IntegrityError:
                    if attempt == 2:  # a concurrent writer made one of them; retry skips it
                        raise
            created += made
            done += len(batch)
            if progress is not None:
                progress(done, total)
        nested = 0
        with self._db.transaction() as session:
            self._lock_nesting(session)
            stored_now = set(self._stored_nestings(session))
            edges = [(ids[p], ids[c], names[p], names[c]) for _, p, c in kept]
            if stored_now != set(stored):  # someone nested groups meanwhile: check again
                by_id = [(line, ids[p], ids[c]) for line, p, c in kept]
                kept_ids, late = acyclic_nestings(stored_now, by_id)
                keep = {(p, c) for _, p, c in kept_ids}
                edges = [e for e in edges if (e[0], e[1]) in keep]
                rejected.extend(
                    ImportRowError(line, None, "this nesting would make a cycle") for line in late
                )
            new_edges = [e for e in edges if (e[0], e[1]) not in stored_now]
            for start in range(0, len(new_edges), self._batch):
                batch_edges = new_edges[start : start + self._batch]
                session.execute(
                    insert(_table(GroupNestingRow)),
                    [{"parent_id": p, "child_id": c} for p, c, _, _ in batch_edges],
                )
                AuditLog(session).append(
                    "group.nestings_imported",
                    at=self._clock.now(),
                    actor=actor,
                    data={
                        "count": len(batch_edges),
                        "nestings": [[pn, cn] for *_, pn, cn in batch_edges],
                    },
                )
                nested += len(batch_edges)
                if progress is not None:
                    progress(done + nested, total)
        if progress is not None:
            progress(total, total)
        rejected.sort(key=lambda e: e.line)
        return GroupImportResult(
            created=created,
            existing=len(names) - len(missing),
            nested=nested,
            already_nested=len(kept) - nested,
            errors=tuple(rejected),
        )

    def _group_ids_by_key(self, session: Session, keys: Sequence[str]) -> dict[str, str]:
        ids: dict[str, str] = {}
        for start in range(0, len(keys), 5000):
            chunk = keys[start : start + 5000]
            for key, group_id in session.execute(
                select(GroupRow.name_key, GroupRow.id).where(GroupRow.name_key.in_(chunk))
            ):
                ids[key] = group_id
        return ids

    def _stored_nestings(self, session: Session) -> list[tuple[str, str]]:
        return [
            (p, c)
            for p, c in session.execute(select(GroupNestingRow.parent_id, GroupNestingRow.child_id))
        ]

    def _insert_group_batch(
        self, session: Session, batch: Sequence[str], ids: dict[str, str], *, actor: str
    ) -> int:
        """Insert the groups of ``batch`` that do not exist yet; record their ids in ``ids``."""
        found = self._group_ids_by_key(session, [group_key(n) for n in batch])
        ids.update(found)
        now = self._clock.now()
        made: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "name": name,
                "name_key": group_key(name),
                "external_id": None,
                "created_at": now,
                "updated_at": now,
            }
            for name in batch
            if group_key(name) not in found
        ]
        if not made:
            return 0
        session.execute(insert(_table(GroupRow)), made)
        AuditLog(session).append(
            "group.imported",
            at=now,
            actor=actor,
            data={"count": len(made), "names": [g["name"] for g in made]},
        )
        ids.update((g["name_key"], g["id"]) for g in made)
        return len(made)

    # --- helpers inside a unit of work ---------------------------------------------------------

    def _create_group(
        self, session: Session, name: str, *, external_id: str | None, actor: str
    ) -> GroupRow:
        now = self._clock.now()
        row = GroupRow(
            id=new_id(),
            name=name,
            name_key=group_key(name),
            external_id=external_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        AuditLog(session).append(
            "group.created", at=now, actor=actor, data={"group_id": row.id, "name": name}
        )
        return row

    def _group_for_write(
        self, session: Session, name: str, *, create: bool, actor: str
    ) -> GroupRow:
        row = DirectoryRepository(session).group_row_by_key(group_key(name))
        if row is not None:
            return row
        if not create:
            raise NotFound(f"no group named {name!r}")
        return self._create_group(session, name, external_id=None, actor=actor)

    def _group_and_user(
        self, session: Session, group: str, username: str
    ) -> tuple[GroupRow, UserRow]:
        repo = DirectoryRepository(session)
        group_row = repo.group_row_by_key(group_key(group))
        if group_row is None:
            raise NotFound(f"no group named {group!r}")
        user_row = repo.user_row_by_key(username_key(username))
        if user_row is None:
            raise NotFound(f"no user named {username!r}")
        return group_row, user_row

    def _lock_nesting(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": NESTING_LOCK})

    def _nest(self, session: Session, parent: GroupRow, child: GroupRow, *, actor: str) -> bool:
        self._lock_nesting(session)
        repo = DirectoryRepository(session)
        if parent.id == child.id or repo.is_descendant(
            ancestor_id=child.id, candidate_id=parent.id
        ):
            raise Conflict(
                f"nesting {child.name!r} in {parent.name!r} would make a cycle", code="group_cycle"
            )
        if session.get(GroupNestingRow, (parent.id, child.id)) is not None:
            return False
        session.add(GroupNestingRow(parent_id=parent.id, child_id=child.id))
        session.flush()
        AuditLog(session).append(
            "group.nested",
            at=self._clock.now(),
            actor=actor,
            data={
                "parent": parent.name,
                "child": child.name,
                "parent_id": parent.id,
                "child_id": child.id,
            },
        )
        return True

    def _change_members(
        self,
        session: Session,
        group: GroupRow,
        *,
        add: Iterable[str],
        remove: Iterable[str],
        actor: str,
    ) -> int:
        """Add and remove members by id (users or groups). Returns how many edges changed."""
        add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
        if not add and not remove:
            return 0
        repo = DirectoryRepository(session)
        user_ids, group_ids = repo.member_ids_existing(add + remove)
        unknown = [m for m in add if m not in user_ids and m not in group_ids]
        if unknown:
            raise ValidationFailed(f"no user or group with id {unknown[0]}", field="members")
        now = self._clock.now()
        audit = AuditLog(session)
        changes = 0
        for member in remove:
            if member in user_ids:
                result = session.execute(
                    delete(GroupMemberRow).where(
                        GroupMemberRow.group_id == group.id, GroupMemberRow.user_id == member
                    )
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    changes += 1
                    audit.append(
                        "group.member_removed",
                        at=now,
                        actor=actor,
                        user_id=member,
                        data={"group": group.name, "group_id": group.id},
                    )
            elif member in group_ids:
                result = session.execute(
                    delete(GroupNestingRow).where(
                        GroupNestingRow.parent_id == group.id, GroupNestingRow.child_id == member
                    )
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    changes += 1
                    audit.append(
                        "group.unnested",
                        at=now,
                        actor=actor,
                        data={"parent_id": group.id, "child_id": member, "parent": group.name},
                    )
        for member in add:
            if member in user_ids:
                if session.get(GroupMemberRow, (group.id, member)) is None:
                    session.add(GroupMemberRow(group_id=group.id, user_id=member))
                    changes += 1
                    audit.append(
                        "group.member_added",
                        at=now,
                        actor=actor,
                        user_id=member,
                        data={"group": group.name, "group_id": group.id},
                    )
            else:
                child = repo.group_row_by_id(member)
                assert child is not None
                changes += self._nest(session, group, child, actor=actor)
        session.flush()
        return changes
