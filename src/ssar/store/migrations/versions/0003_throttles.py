"""throttles: failure counters shared by every process

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ssar.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", ssar.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttles")),
    )
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_throttles_last_failure_at"), ["last_failure_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttles_last_failure_at"))
    op.drop_table("throttles")
