"""mint ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nonce_counters",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_nonce_counters")),
    )
    op.create_table(
        "mints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("image_content_type", sa.String(length=40), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=True),
        sa.Column("custodial", sa.Boolean(), nullable=False),
        sa.Column("image_cid", sa.String(length=100), nullable=True),
        sa.Column("metadata_cid", sa.String(length=100), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("contract", sa.String(length=42), nullable=True),
        sa.Column("minter", sa.String(length=42), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("transfer_status", sa.String(length=20), nullable=True),
        sa.Column("transfer_to", sa.String(length=42), nullable=True),
        sa.Column("transfer_nonce", sa.BigInteger(), nullable=True),
        sa.Column("transfer_raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("transfer_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mints_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mints")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_mints_user_id")),
    )
    with op.batch_alter_table("mints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mints_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_mints_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mints_user_id"))
        batch_op.drop_index(batch_op.f("ix_mints_status"))

    op.drop_table("mints")
    op.drop_table("nonce_counters")
