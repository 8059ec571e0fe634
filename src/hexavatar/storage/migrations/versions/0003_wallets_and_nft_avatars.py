"""wallets and nft avatars

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "siwe_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_siwe_nonces_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_siwe_nonces")),
    )
    with op.batch_alter_table("siwe_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_siwe_nonces_user_id"), ["user_id"], unique=False)

    op.create_table(
        "wallets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("signer_kind", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wallets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("address", name=op.f("uq_wallets_address")),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallets_user_id"), ["user_id"], unique=False)

    op.create_table(
        "nft_avatars",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("token_id", sa.String(length=78), nullable=False),
        sa.Column("standard", sa.String(length=8), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("token_uri", sa.Text(), nullable=False),
        sa.Column("metadata_uri", sa.Text(), nullable=False),
        sa.Column("metadata_cid", sa.String(length=120), nullable=True),
        sa.Column("metadata_verified", sa.Boolean(), nullable=False),
        sa.Column("image_uri", sa.Text(), nullable=False),
        sa.Column("image_cid", sa.String(length=120), nullable=True),
        sa.Column("image_verified", sa.Boolean(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("avatar_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_block", sa.BigInteger(), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["avatar_id"],
            ["avatars.id"],
            name=op.f("fk_nft_avatars_avatar_id_avatars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_nft_avatars_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nft_avatars")),
    )
    with op.batch_alter_table("nft_avatars", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nft_avatars_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_nft_avatars_token", ["chain_id", "contract", "token_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_nft_avatars_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("nft_avatars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nft_avatars_user_id"))
        batch_op.drop_index("ix_nft_avatars_token")
        batch_op.drop_index(batch_op.f("ix_nft_avatars_status"))

    op.drop_table("nft_avatars")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallets_user_id"))

    op.drop_table("wallets")
    with op.batch_alter_table("siwe_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_siwe_nonces_user_id"))

    op.drop_table("siwe_nonces")
