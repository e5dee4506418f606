"""Profile resolution on a directory of a few hundred users in groups nested five deep: the
answer equals a plain recomputation from the directory, and on PostgreSQL the statements it
sends (and the sign-in lookups) are answered from indexes."""

from __future__ import annotations

import io
import itertools
import random
from typing import Any

import pytest
from sqlalchemy import event, select, text

from ssar.directory.importer import ImportRow
from ssar.profiles.repository import ProfileRepository
from ssar.registry import Registry
from ssar.signin.common import find_user
from ssar.store.tables import AuthMethodRow, SessionRow, UserRow

LEVELS = (2, 4, 8, 12, 14)  # groups per depth, 40 in all


def build(registry: Registry, *, users: int = 240) -> dict[str, int]:
    rng = random.Random(11)
    depth: dict[str, int] = {}
    rows = ["name,parent"]
    previous: list[str] = []
    for level, size in enumerate(LEVELS, start=1):
        names = [f"G{level}-{i}" for i in range(size)]
        for name in names:
            depth[name] = level
            if not previous:
                rows.append(f"{name},")
                continue
            parents = rng.sample(previous, 2 if rng.random() < 0.2 else 1)
            rows.extend(f"{name},{p}" for p in parents)
        previous = names
    rng.shuffle(rows[1:])
    result = registry.directory.import_groups_csv(io.StringIO("\n".join(rows) + "\n"))
    assert result.rejected == 0
    people = [
        ImportRow(
            line=i + 2,
            username=f"user{i}",
            given_name="Zoé",
            family_name="Müller",
            display_name="Zoé Müller",
            groups=tuple(rng.sample(sorted(depth), rng.randint(1, 3))),
            privileged=i % 37 == 0,
        )
        for i in range(users)
    ]
    assert registry.directory.import_users(people).created == users
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Leaves",
                    "priority": 10,
                    "include_groups": ["G5-0", "G5-1", "G4-3"],
                    "exclude_groups": ["G5-2"],
                    "provider": "reference",
                },
                {
                    "name": "Middle",
                    "priority": 20,
                    "include_groups": ["G3-1", "G3-5"],
                    "exclude_groups": ["G4-0", "G4-7"],
                    "provider": "reference",
                },
                {
                    "name": "All",
                    "priority": 30,
                    "include_groups": ["G1-0", "G1-1"],
                    "exclude_groups": ["G2-3"],
                    "allow_privileged": True,
                    "provider": "reference",
                },
            ]
        },
        actor="test",
    )
    return depth


def expected(registry: Registry, username: str) -> str | None:
    """The profile that applies, recomputed from the directory's own transitive groups."""
    user = registry.directory.get_user(username)
    groups = set(registry.directory.transitive_groups(user.id))
    for profile in registry.profiles.list():
        if groups & {g.name for g in profile.exclude_groups}:
            continue
        if not groups & {g.name for g in profile.include_groups}:
            continue
        if user.privileged and not profile.allow_privileged:
            continue
        return profile.name
    return None


def test_which_matches_a_recomputation_at_every_depth(any_registry: Registry) -> None:
    build(any_registry)
    seen: set[str | None] = set()
    for i in range(0, 240, 3):
        username = f"user{i}"
        decision = any_registry.profiles.which(username)
        name = decision.profile.name if decision.profile is not None else None
        want = expected(any_registry, username)
        if want is not None:  # "applies" means the first profile that passes
            assert name == want, (username, decision.reason)
        else:
            assert name is None, (username, decision.reason)
        seen.add(name)
    assert {"Leaves", "Middle", "All"} <= seen


def test_group_paths_are_shortest_chains(any_registry: Registry) -> None:
    build(any_registry, users=30)
    user = any_registry.directory.get_user("user3")
    with any_registry.database.transaction() as session:
        paths = ProfileRepository(session).group_paths(user.id)
    assert set(paths) == {
        g.id
        for g in any_registry.directory.list_groups(limit=None).groups
        if g.name in any_registry.directory.transitive_groups(user.id)
    }
    for path in paths.values():
        assert path[0] in user.groups
        for child, parent in itertools.pairwise(path):
            assert parent in any_registry.directory.get_group(child, with_members=False).parents


def plans(registry: Registry, calls: list[Any]) -> list[str]:
    """EXPLAIN each SELECT the calls send, with whole-table strategies (sequential scans, and the
    bitmap and hash plans that read a whole index or table) priced out: at these sizes they win
    on cost alone, so the test asks whether an index lookup *serves* each statement. The bench
    (bench/directory.py) shows the plans PostgreSQL picks by itself at a million users."""
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cu: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(registry.database.engine, "before_cursor_execute", record)
    try:
        for call in calls:
            call()
    finally:
        event.remove(registry.database.engine, "before_cursor_execute", record)
    out = []
    with registry.database.engine.connect() as conn:
        for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin"):
            conn.exec_driver_sql(f"SET enable_{setting} = off")
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            out.append("\n".join(r[0] for r in rows))
        conn.rollback()
    return out


def test_plans_use_indexes_on_postgresql(any_registry: Registry) -> None:
    if any_registry.database.dialect != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL")
    build(any_registry, users=60)
    user = any_registry.directory.get_user("user5")
    with any_registry.database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO auth_methods (id, user_id, type, label, created_at, credential_id) "
                "VALUES ('m1', :u, 'passkey', '', now(), '\\x01'), "
                "('m2', :u, 'tap', '', now(), NULL)"
            ),
            {"u": user.id},
        )
        session.execute(
            text(
                "INSERT INTO sessions (id_hash, user_id, method_type, created_at, "
                "authenticated_at, last_seen_at, expires_at) "
                "VALUES ('h1', :u, 'passkey', now(), now(), now(), now())"
            ),
            {"u": user.id},
        )
    db = any_registry.database

    def lookups() -> None:
        with db.transaction() as session:
            find_user(session, "user5")
            session.execute(
                select(AuthMethodRow).where(
                    AuthMethodRow.credential_id == b"\x01", AuthMethodRow.type == "passkey"
                )
            ).all()
            session.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.id_hash == "h1")
            ).all()
            session.execute(
                select(AuthMethodRow)
                .where(AuthMethodRow.user_id == user.id, AuthMethodRow.type == "tap")
                .order_by(AuthMethodRow.created_at.desc())
                .limit(1)
            ).all()

    which_plans = plans(any_registry, [lambda: any_registry.profiles.which("user5")])
    paths_plan = next(p for p in which_plans if "Recursive Union" in p)
    assert "ix_group_members_user_id" in paths_plan
    assert "ix_group_nesting_child_id" in paths_plan, paths_plan
    assert "pk_groups" in paths_plan
    signin_plans = plans(any_registry, [lookups])
    for index, plan in zip(
        (
            "uq_users_username_key",
            "uq_auth_methods_credential_id",
            "pk_sessions",
            "ix_auth_methods_user_type",
        ),
        signin_plans,
        strict=True,
    ):
        assert index in plan, plan
    for plan in which_plans + signin_plans:
        assert "Seq Scan" not in plan, plan
