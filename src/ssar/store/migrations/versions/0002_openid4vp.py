"""openid4vp verifier transactions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ssar.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vp_transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("state_enc", sa.LargeBinary(length=256), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=512), nullable=False),
        sa.Column("response_uri", sa.String(length=512), nullable=False),
        sa.Column("response_mode", sa.String(length=32), nullable=False),
        sa.Column("dcql", sa.JSON(), nullable=False),
        sa.Column("trust", sa.JSON(), nullable=False),
        sa.Column("encryption_kid", sa.String(length=64), nullable=True),
        sa.Column("encryption_key_enc", sa.LargeBinary(length=1024), nullable=True),
        sa.Column("return_uri", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("result_enc", sa.LargeBinary(), nullable=True),
        sa.Column("response_code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ssar.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", ssar.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", ssar.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vp_transactions")),
        sa.UniqueConstraint("handle_hash", name=op.f("uq_vp_transactions_handle_hash")),
        sa.UniqueConstraint("request_id", name=op.f("uq_vp_transactions_request_id")),
        sa.UniqueConstraint(
            "response_code_hash", name=op.f("uq_vp_transactions_response_code_hash")
        ),
        sa.UniqueConstraint("state_hash", name=op.f("uq_vp_transactions_state_hash")),
        sa.UniqueConstraint("encryption_kid", name=op.f("uq_vp_transactions_encryption_kid")),
    )
    with op.batch_alter_table("vp_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vp_transactions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vp_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vp_transactions_expires_at"))
    op.drop_table("vp_transactions")
