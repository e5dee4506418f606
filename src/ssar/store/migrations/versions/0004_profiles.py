"""verification_profiles: identity verification profiles and the groups they name

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ssar.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_key", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("allow_privileged", sa.Boolean(), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_profiles")),
        sa.UniqueConstraint("name_key", name=op.f("uq_verification_profiles_name_key")),
        sa.UniqueConstraint("priority", name=op.f("uq_verification_profiles_priority")),
    )
    op.create_table(
        "verification_profile_groups",
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_verification_profile_groups_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["verification_profiles.id"],
            name=op.f("fk_verification_profile_groups_profile_id_verification_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "profile_id", "group_id", name=op.f("pk_verification_profile_groups")
        ),
    )
    with op.batch_alter_table("verification_profile_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_profile_groups_group_id"), ["group_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_profile_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_profile_groups_group_id"))
    op.drop_table("verification_profile_groups")
    op.drop_table("verification_profiles")
