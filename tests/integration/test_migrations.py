"""The migrations build exactly the schema the table mappings describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ssar.store.db import Database
from ssar.store.migrate import current_revision, upgrade
from ssar.store.tables import Base


def test_migrations_match_table_mappings(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db.engine)  # idempotent on an already migrated database
        assert current_revision(db.engine) is not None
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"migrations and tables.py differ: {diff}"
    finally:
        db.dispose()
