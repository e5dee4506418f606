"""Fixtures every test layer shares.

Each test gets its own database: a copy of a migrated SQLite template file, or on PostgreSQL
(``SSAR_TEST_DATABASE_URL``) a fresh database cloned from a migrated template database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ssar.clock import FixedClock
from ssar.config import Settings
from ssar.registry import Registry
from ssar.store.db import Database, normalise_url
from ssar.store.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PG_ENV = "SSAR_TEST_DATABASE_URL"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared test data lives beside the project in ../shared")
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file we copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


class PostgresDatabases:
    """Creates throw-away databases from one migrated template."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalise_url(url))
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.template = f"ssar_tpl_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        db = Database(self.url.set(database=self.template).render_as_string(hide_password=False))
        upgrade(db.engine)
        db.dispose()
        self.created: list[str] = []

    def create(self) -> str:
        name = f"ssar_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    pg = PostgresDatabases(url)
    yield pg
    pg.close()


def _sqlite_copy(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "ssar.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> Iterator[str]:
    """A fresh, migrated database: each test using it runs once on SQLite and once on
    PostgreSQL (skipped when SSAR_TEST_DATABASE_URL is not set)."""
    if request.param == "sqlite":
        yield _sqlite_copy(sqlite_template, tmp_path)
        return
    if postgres is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    url = postgres.create()
    yield url
    postgres.drop(url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "var_dir": tmp_path / "var",
        "base_url": "http://localhost:8000",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def registry(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Registry]:
    """A registry on SQLite with a fixed clock (unit and service tests)."""
    reg = Registry(make_settings(sqlite_url, tmp_path), clock=clock)
    yield reg
    reg.close()


@pytest.fixture
def any_registry(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Registry]:
    """A registry on each database in turn (integration tests)."""
    reg = Registry(make_settings(db_url, tmp_path), clock=clock)
    yield reg
    reg.close()
