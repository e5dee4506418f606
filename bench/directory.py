"""A large directory on PostgreSQL: import, profile resolution and the sign-in lookups.

    .venv/bin/python bench/directory.py --users 1000000 --groups 10000 \
        --database-url postgresql://postgres@127.0.0.1:5432/ssar_bench [--json]

Drops and creates the bench database itself (its name must start with ``ssar_bench``; no other
database is touched), generates a users CSV and a nested groups CSV, imports both through the
real CLI (``ssar groups import``, ``ssar users import``, timed as subprocesses), then measures in
this process ``registry.profiles.which(username)`` for random users and the sign-in lookups, and
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every query they send (captured from SQLAlchemy).

Every figure has its anchor measured in the same run, beside it:
* the import: a bare ``COPY`` of the same users CSV into an unindexed table (the floor for
  moving those bytes into this server);
* each latency: a ``SELECT 1`` round trip in its own transaction, interleaved sample by sample
  with the measured call, so that load from elsewhere hits both alike.
"""

# a bench script: its subprocesses, SQL and temp dir are its own, its randomness is data
# ruff: noqa: S108, S311, S603, S608

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from ssar.config import Settings
from ssar.registry import Registry
from ssar.signin.common import find_user
from ssar.store.tables import AuthMethodRow, SessionRow, UserRow

REPO = Path(__file__).resolve().parent.parent
SSAR = REPO / ".venv" / "bin" / "ssar"

GIVEN = [
    "Ada",
    "Adèle",
    "Agnès",
    "Aino",
    "Alba",
    "Alejandro",
    "Aleksander",
    "Amélie",
    "André",
    "Ángel",
    "Anja",
    "Annika",
    "Antoine",
    "Arne",
    "Åsa",
    "Aurélien",
    "Beatriz",
    "Benoît",
    "Birgit",
    "Björn",
    "Bogdan",
    "Brigitte",
    "Bruno",
    "Camille",
    "Carmen",
    "Cédric",
    "Céline",
    "Chloé",
    "Clémence",
    "Conceição",
    "Dagmar",
    "Dávid",
    "Dmitri",
    "Dóra",
    "Édith",
    "Eero",
    "Elżbieta",
    "Émile",
    "Emilia",
    "Eneko",
    "Erik",
    "Estíbaliz",
    "Eugénie",
    "Fabrício",
    "Fátima",
    "Felix",
    "François",
    "Frédéric",
    "Gaëlle",
    "Gérard",
    "Grace",
    "Grégoire",
    "Gunnar",
    "Hélène",
    "Henrik",
    "Héctor",
    "Iñaki",
    "Inès",
    "Ingrid",
    "Irène",
    "Íñigo",
    "Ivan",
    "Jérôme",
    "Joana",
    "João",
    "Jörg",
    "José",
    "Józef",
    "Jürgen",
    "Katarzyna",
    "Kristóf",
    "Łukasz",
    "Laëtitia",
    "Lars",
    "László",
    "Léa",
    "Léon",
    "Linnéa",
    "Lúcia",
    "Luís",
    "Maëlle",
    "Magnús",
    "Małgorzata",
    "Marie",
    "Mário",
    "Matthäus",
    "Mélanie",
    "Michał",
    "Miklós",
    "Mónica",
    "Nathalie",
    "Nicolás",
    "Niklas",
    "Noémie",
    "Océane",
    "Ólafur",
    "Oscar",
    "Paweł",
    "Pénélope",
    "Pål",
    "Raphaël",
    "Raúl",
    "René",
    "Rúben",
    "Sebastián",
    "Séverine",
    "Sigríður",
    "Simón",
    "Sören",
    "Stéphane",
    "Søren",
    "Tomáš",
    "Théo",
    "Þórunn",
    "Ulrich",
    "Valérie",
    "Vêronica",
    "Victor",
    "Wojciech",
    "Yannick",
    "Zoé",
    "Zsófia",
    "Žaneta",
]
FAMILY = [
    "Abrahamsson",
    "Álvarez",
    "André",
    "Bäcker",
    "Bérubé",
    "Błaszczyk",
    "Bønsdorff",
    "Brontë",
    "Castaño",
    "Čapek",
    "Chávez",
    "Coelho",
    "Côté",
    "Dąbrowski",
    "Dvořák",
    "Eßer",
    "Fernández",
    "Ferreira",
    "Gárdonyi",
    "García",
    "Gómez",
    "Grønbech",
    "Guðmundsson",
    "Günther",
    "Hämäläinen",
    "Hernández",
    "Höglund",
    "Ibáñez",
    "Jäger",
    "Jiménez",
    "Jovanović",
    "Kovačević",
    "König",
    "Kowalczyk",
    "Lefèvre",
    "Løvland",
    "Lindström",
    "López",
    "Lovelace",
    "Martín",
    "Martínez",
    "Mäkinen",
    "Müller",
    "Muñoz",
    "Nagy",
    "Nováková",
    "Núñez",
    "Ó",
    "Briain",
    "Olábarri",
    "Ørsted",
    "Pérez",
    "Plečnik",
    "Popescu",
    "Príncipe",
    "Ramírez",
    "Rodríguez",
    "Röntgen",
    "Rousseau",
    "Sánchez",
    "Schäfer",
    "Schröder",
    "Şahin",
    "Simões",
    "Söderberg",
    "Stępień",
    "Suárez",
    "Szabó",
    "Sørensen",
    "Thérien",
    "Tóth",
    "Vázquez",
    "Veličković",
    "Wałęsa",
    "Weiß",
    "Wójcik",
    "Yıldız",
    "Zapatero",
    "Zieliński",
    "Żuławski",
    "Ōkubo",
    "Aðalsteinsson",
    "Brandão",
    "Cárdenas",
    "Dupré",
    "Échevarría",
    "Fağlı",
    "Gonçalves",
    "Hébert",
    "Jähnke",
    "Kärkkäinen",
    "Labbé",
    "Mañas",
    "Nørgaard",
    "Öberg",
    "Périgord",
    "Quiñones",
    "Rønning",
    "Sépulveda",
    "Tremblay",
    "Urquídez",
    "Valdés",
    "Wąsowski",
    "Ximénez",
    "Ybáñez",
    "Zúñiga",
    "Åkesson",
    "Ekström",
    "Fröhlich",
    "Gößmann",
    "Hällström",
    "Iglesias",
    "Jönsson",
    "Kühn",
    "Lévesque",
    "Méndez",
    "Nuñes",
    "Østergaard",
    "Pietilä",
    "Rämö",
    "Sjöström",
    "Tørresen",
]


def ascii_fold(value: str) -> str:
    special = {"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "ð": "d", "þ": "th"}
    value = "".join(special.get(ch, ch) for ch in value)
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


# --- the data ----------------------------------------------------------------------------------


def make_groups(count: int, rng: random.Random) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """(name, parent) rows of a hierarchy up to 6 deep, about 8 % of groups in two parents,
    shuffled so that children often come before their parents; and each group's depth."""
    shares = (0.002, 0.02, 0.08, 0.18, 0.28, 0.438)  # depth 1 (top) .. 6 (leaves)
    sizes = [max(1, int(count * s)) for s in shares]
    sizes[-1] = count - sum(sizes[:-1])
    levels: list[list[str]] = []
    depth: dict[str, int] = {}
    rows: list[tuple[str, str]] = []
    n = 0
    for level, size in enumerate(sizes, start=1):
        names = []
        for _ in range(size):
            n += 1
            name = f"Group {n:05d} L{level}"
            names.append(name)
            depth[name] = level
            if level == 1:
                rows.append((name, ""))
                continue
            parents = levels[-1]
            first = rng.choice(parents)
            rows.append((name, first))
            if rng.random() < 0.08 and len(parents) > 1:
                second = rng.choice(parents)
                if second != first:
                    rows.append((name, second))
        levels.append(names)
    rng.shuffle(rows)
    return rows, depth


def write_groups_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(("name", "parent"))
        writer.writerows(rows)


def write_users_csv(path: Path, users: int, depth: dict[str, int], rng: random.Random) -> list[str]:
    """Users with accented names, one or two addresses, in 1–3 groups (mostly deep ones)."""
    deep = [g for g, d in depth.items() if d >= 4]
    shallow = [g for g, d in depth.items() if d < 4]
    usernames: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(("username", "given_name", "family_name", "email", "groups"))
        for i in range(users):
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            if rng.random() < 0.1:  # double-barrelled family names, as people have them
                family = f"{family}-{rng.choice(FAMILY)}"
            local = f"{ascii_fold(given)}.{ascii_fold(family)}.{i}"
            username = f"{local}@corp.example"
            emails = [username]
            if rng.random() < 0.2:
                emails.append(f"{ascii_fold(given)}{i}@home.example")
            groups = {rng.choice(deep if rng.random() < 0.85 else shallow)}
            for _ in range(rng.choice((0, 0, 1, 2))):
                groups.add(rng.choice(deep))
            writer.writerow((username, given, family, ";".join(emails), ";".join(sorted(groups))))
            usernames.append(username)
    return usernames


# --- database set-up ---------------------------------------------------------------------------


def conninfo(url: str, *, database: str | None = None) -> str:
    parsed = make_url(url.replace("postgresql+psycopg://", "postgresql://"))
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    name = make_url(url).database or ""
    if not name.startswith("ssar_bench"):
        sys.exit(f"refusing to drop {name!r}: the bench database's name starts with ssar_bench")
    with psycopg.connect(conninfo(url, database="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def copy_anchor(url: str, users_csv: Path) -> dict[str, float]:
    """COPY the users CSV as it is into an unindexed table: the floor for loading those bytes."""
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute(
            "CREATE TABLE bench_raw_users (username text, given_name text, family_name text, "
            "email text, groups text)"
        )
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY bench_raw_users FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            users_csv.open("rb") as stream,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM bench_raw_users").fetchone()
        conn.execute("DROP TABLE bench_raw_users")
        conn.commit()
    count = rows[0] if rows else 0
    return {"seconds": seconds, "rows": count, "rows_per_second": count / seconds}


def run_cli(url: str, *args: str) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "SSAR_DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [str(SSAR), *args, "--json"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"ssar {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, json.loads(done.stdout) if done.stdout.strip() else {}


TABLES = (
    "users",
    "user_emails",
    "group_members",
    "groups",
    "group_nesting",
    "user_name_keys",
    "auth_methods",
    "sessions",
)


def seed_signin(url: str) -> dict[str, int]:
    """A passkey for every user, a TAP for one in ten, a session for one in five (set-up data,
    written in SQL: the import is what is measured, not this)."""
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute(
            "INSERT INTO auth_methods (id, user_id, type, label, created_at, credential_id, "
            "public_key, sign_count, transports, backed_up) "
            "SELECT gen_random_uuid()::text, id, 'passkey', 'bench', now(), "
            "sha256(convert_to(id, 'UTF8')), '\\x00'::bytea, 0, '[\"internal\"]', true FROM users"
        )
        conn.execute(
            "INSERT INTO auth_methods (id, user_id, type, label, created_at, secret_hash, "
            "expires_at, one_time) "
            "SELECT gen_random_uuid()::text, id, 'tap', 'Temporary Access Pass', now(), "
            "md5(id) || md5(id), now() + interval '1 hour', true FROM users "
            "WHERE abs(hashtext(id)) % 10 = 0"
        )
        conn.execute(
            "INSERT INTO sessions (id_hash, user_id, method_type, created_at, authenticated_at, "
            "last_seen_at, expires_at) "
            "SELECT encode(sha256(convert_to('s' || id, 'UTF8')), 'hex'), id, 'passkey', now(), "
            "now(), now(), now() + interval '8 hours' FROM users WHERE abs(hashtext(id)) % 5 = 0"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return table_rows(url)


def build(
    url: str,
    result: dict[str, Any],
    *,
    groups_csv: Path,
    group_rows: int,
    users_csv: Path,
    log: Callable[[str], None],
) -> None:
    """Recreate the database, import both CSVs through the CLI (timed) and seed sign-in data."""
    users = result["users"]
    log(f"recreating {make_url(url).database}")
    recreate_database(url)
    seconds, _ = run_cli(url, "db", "upgrade")
    result["migrate_seconds"] = seconds

    log("anchor: bare COPY of the users CSV")
    result["copy_anchor"] = copy_anchor(url, users_csv)

    log("ssar groups import")
    seconds, outcome = run_cli(url, "groups", "import", str(groups_csv))
    result["groups_import"] = {
        "seconds": seconds,
        "rows": group_rows,
        "rows_per_second": group_rows / seconds,
        "outcome": outcome,
    }
    log("ssar users import")
    seconds, outcome = run_cli(url, "users", "import", str(users_csv))
    outcome.pop("errors", None)
    result["users_import"] = {
        "seconds": seconds,
        "rows": users,
        "rows_per_second": users / seconds,
        "outcome": outcome,
    }

    log("seeding sign-in methods and sessions")
    result["table_rows"] = seed_signin(url)


def table_rows(url: str) -> dict[str, int]:
    with psycopg.connect(conninfo(url)) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in TABLES
        }


# --- measuring ---------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1000

    return {
        "p50_ms": rank(0.50),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": ordered[-1] * 1000,
        "n": len(ordered),
    }


class Capture:
    """Records the statements SQLAlchemy sends while ``on`` (for EXPLAIN)."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False


def explain(registry: Registry, statement: str, parameters: Any) -> list[str]:
    with registry.database.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        plan = [r[0] for r in rows]
        conn.rollback()
    return plan


def timed_pairs(
    registry: Registry, calls: list[Callable[[], object]], *, warmup: int = 50
) -> tuple[dict[str, float], dict[str, float]]:
    """Time each call and, right before it, a SELECT 1 round trip in its own transaction."""
    db = registry.database

    def anchor() -> None:
        with db.transaction() as session:
            session.execute(text("SELECT 1"))

    for call in calls[:warmup]:
        anchor()
        call()
    measured: list[float] = []
    anchors: list[float] = []
    for call in calls:
        started = time.perf_counter()
        anchor()
        middle = time.perf_counter()
        call()
        ended = time.perf_counter()
        anchors.append(middle - started)
        measured.append(ended - middle)
    return percentiles(measured), percentiles(anchors)


def apply_profiles(
    registry: Registry, depth: dict[str, int], rng: random.Random
) -> list[dict[str, Any]]:
    """Four profiles that include and exclude groups at different depths."""
    at = {d: sorted(g for g, dd in depth.items() if dd == d) for d in range(1, 7)}
    profiles = [
        {
            "name": "Deep teams",
            "priority": 10,
            "include_groups": rng.sample(at[5], 40),
            "exclude_groups": rng.sample(at[6], 60),
            "provider": "reference",
        },
        {
            "name": "Divisions",
            "priority": 20,
            "include_groups": rng.sample(at[2], 6),
            "exclude_groups": rng.sample(at[4], 30),
            "provider": "reference",
        },
        {
            "name": "Departments",
            "priority": 30,
            "include_groups": rng.sample(at[3], 50),
            "exclude_groups": rng.sample(at[5], 20),
            "provider": "reference",
        },
        {
            "name": "Everyone",
            "priority": 40,
            "include_groups": at[1],
            "exclude_groups": rng.sample(at[3], 5),
            "provider": "reference",
        },
    ]
    registry.profiles.apply({"profiles": profiles}, actor="bench")
    return [
        {
            "name": p["name"],
            "include": len(p["include_groups"]),
            "exclude": len(p["exclude_groups"]),
        }
        for p in profiles
    ]


def sample_keys(registry: Registry, samples: int) -> dict[str, list[Any]]:
    with registry.database.engine.connect() as conn:

        def pick(sql: str) -> list[Any]:
            return [r[0] for r in conn.execute(text(sql + f" ORDER BY random() LIMIT {samples}"))]

        return {
            "usernames": pick("SELECT username FROM users"),
            "credential_ids": pick("SELECT credential_id FROM auth_methods WHERE type = 'passkey'"),
            "id_hashes": pick("SELECT id_hash FROM sessions"),
            "tap_users": pick("SELECT user_id FROM auth_methods WHERE type = 'tap'"),
        }


def signin_lookups(
    registry: Registry, keys: dict[str, list[Any]]
) -> dict[str, Callable[[Any], object]]:
    """The sign-in lookups, each the statement its module sends (same ``where`` clauses)."""
    db = registry.database

    def user_by_username(username: str) -> object:
        with db.transaction() as session:
            return find_user(session, username)

    def passkey_by_credential_id(credential_id: bytes) -> object:  # signin/passkeys.py
        with db.transaction() as session:
            return session.execute(
                select(AuthMethodRow).where(
                    AuthMethodRow.credential_id == credential_id,
                    AuthMethodRow.type == "passkey",
                    AuthMethodRow.revoked_at.is_(None),
                )
            ).scalar_one_or_none()

    def session_by_id_hash(id_hash: str) -> object:  # signin/sessions.py
        with db.transaction() as session:
            return session.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.id_hash == id_hash)
            ).one_or_none()

    def tap_by_user(user_id: str) -> object:  # signin/tap.py (redeem)
        with db.transaction() as session:
            return session.execute(
                select(AuthMethodRow)
                .where(
                    AuthMethodRow.user_id == user_id,
                    AuthMethodRow.type == "tap",
                    AuthMethodRow.revoked_at.is_(None),
                )
                .order_by(AuthMethodRow.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    return {
        "user by username key": user_by_username,
        "passkey by credential id": passkey_by_credential_id,
        "session by id hash": session_by_id_hash,
        "TAP by user": tap_by_user,
    }


def uses_index(plan: list[str]) -> bool:
    return not any("Seq Scan" in line for line in plan)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/ssar_bench")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ssar-bench-directory"))
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the database a previous run with the same sizes and seed built "
        "(no drop, import or seeding)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    url: str = args.database_url
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    result: dict[str, Any] = {
        "users": args.users,
        "groups": args.groups,
        "loadavg_before": loadavg(),
    }

    log(f"generating {args.groups} groups and {args.users} users in {workdir}")
    group_rows, depth = make_groups(args.groups, rng)
    groups_csv, users_csv = workdir / "groups.csv", workdir / "users.csv"
    write_groups_csv(groups_csv, group_rows)
    write_users_csv(users_csv, args.users, depth, rng)
    result["files"] = {
        "groups_csv_rows": len(group_rows),
        "users_csv_bytes": users_csv.stat().st_size,
    }

    if args.measure_only:
        result["table_rows"] = table_rows(url)
    else:
        build(
            url,
            result,
            groups_csv=groups_csv,
            group_rows=len(group_rows),
            users_csv=users_csv,
            log=log,
        )

    registry = Registry(
        Settings(database_url=url, var_dir=workdir / "var", base_url="http://localhost:8000")
    )
    capture = Capture()
    event.listen(registry.database.engine, "before_cursor_execute", capture)
    result["profiles"] = apply_profiles(registry, depth, rng)
    keys = sample_keys(registry, args.samples)

    log(f"profile resolution for {len(keys['usernames'])} users")
    outcomes: dict[str, int] = {}

    def which(username: str) -> Callable[[], object]:
        def call() -> object:
            decision = registry.profiles.which(username)
            outcomes[decision.code] = outcomes.get(decision.code, 0) + 1
            return decision

        return call

    measured, anchor = timed_pairs(registry, [which(u) for u in keys["usernames"]])
    result["which"] = {"latency": measured, "anchor_select_1": anchor, "outcomes": outcomes}
    plans: dict[str, list[dict[str, Any]]] = {}
    with capture.recording() as statements:
        registry.profiles.which(keys["usernames"][0])
    plans["which"] = [{"sql": s, "plan": explain(registry, s, p)} for s, p in statements]

    log("sign-in lookups")
    result["signin"] = {}
    lookups = signin_lookups(registry, keys)
    inputs = {
        "user by username key": keys["usernames"],
        "passkey by credential id": keys["credential_ids"],
        "session by id hash": keys["id_hashes"],
        "TAP by user": keys["tap_users"],
    }
    for name, lookup in lookups.items():
        values = inputs[name]
        measured, anchor = timed_pairs(
            registry,
            [(lambda v=v, f=lookup: f(v)) for v in values],  # type: ignore[misc]
        )
        with capture.recording() as statements:
            lookup(values[0])
        plans[name] = [
            {"sql": s, "plan": explain(registry, s, p)}
            for s, p in statements
            if s.lstrip().upper().startswith("SELECT") and "SELECT 1" not in s
        ]
        result["signin"][name] = {
            "latency": measured,
            "anchor_select_1": anchor,
            "indexed": all(uses_index(q["plan"]) for q in plans[name]),
        }
    result["plans"] = plans
    result["loadavg_after"] = loadavg()
    registry.close()
    (workdir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return
    print_table(result)


def print_table(result: dict[str, Any]) -> None:
    print(f"\nLarge directory: {result['users']:,} users, {result['groups']:,} groups")
    print(f"load before: {result['loadavg_before']}   after: {result['loadavg_after']}\n")
    print(f"{'figure':34} {'value':>28}   anchor")
    for key, label in (
        ("groups_import", "ssar groups import"),
        ("users_import", "ssar users import"),
    ):
        if key not in result:  # --measure-only
            continue
        r, a = result[key], result["copy_anchor"]
        print(
            f"{label:34} {r['seconds']:9.1f} s {r['rows_per_second']:12,.0f} rows/s"
            f"   bare COPY {a['rows_per_second']:,.0f} rows/s ({a['seconds']:.1f} s)"
        )
    rows = [("which(username)", result["which"]), *list(result["signin"].items())]
    for label, r in rows:
        m, s = r["latency"], r["anchor_select_1"]
        print(
            f"{label:34} p50 {m['p50_ms']:5.2f} p95 {m['p95_ms']:5.2f} p99 {m['p99_ms']:5.2f} ms"
            f"   SELECT 1 p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms"
            + (f"   indexed: {r['indexed']}" if "indexed" in r else "")
        )
    print(f"\nwhich() outcomes: {result['which']['outcomes']}")
    for name, queries in result["plans"].items():
        print(f"\n--- {name}")
        for q in queries:
            print(" ".join(q["sql"].split())[:300])
            for line in q["plan"]:
                print("   " + line)


if __name__ == "__main__":
    main()
