"""SQLAlchemy 2 models: users, auth tokens, login failures, avatars and their renditions.

Schema changes go through Alembic (storage/migrations); the models and the migrations must agree
(a test compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApiToken",
    "Avatar",
    "AvatarChange",
    "Base",
    "LoginFailure",
    "Mint",
    "NftAvatar",
    "NonceCounter",
    "Rendition",
    "SiweNonce",
    "User",
    "Wallet",
    "WatchCursor",
    "WorkerLease",
]

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(30), unique=True)  # stored lowercase
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    avatar_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("avatars.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    avatar_version: Mapped[int] = mapped_column(Integer, default=0)

    avatar: Mapped[Avatar | None] = relationship(foreign_keys=[avatar_id], lazy="joined")


class ApiToken(Base):
    """A session cookie (kind ``session``) or a bearer API token (kind ``api``), stored hashed."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailure(Base):
    """One failed login, counted per username and per client address in a sliding window."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Avatar(Base):
    """One picture a user set, with its renditions. Rows are kept when replaced (history)."""

    __tablename__ = "avatars"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="upload")
    sha256: Mapped[str] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    renditions: Mapped[list[Rendition]] = relationship(
        back_populates="avatar",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(Rendition.size, Rendition.format)",
    )


class Rendition(Base):
    """One stored image of an avatar: a size and a format, under a content-hash key."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("avatar_id", "size", "format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    avatar_id: Mapped[str] = mapped_column(ForeignKey("avatars.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    byte_size: Mapped[int] = mapped_column(BigInteger)

    avatar: Mapped[Avatar] = relationship(back_populates="renditions")


class Mint(Base):
    """One mint request in the durable ledger. ``status`` moves through received →
    content_imported → signed → sent → confirmed, or to failed; the signed transaction is saved
    before it is sent and only those bytes are ever re-sent. A custodial mint (no ``to``) is
    held by the minter until the user asks for a transfer (``transfer_*`` columns)."""

    __tablename__ = "mints"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )  # None: minted from the command line
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    attributes: Mapped[list[dict[str, object]] | None] = mapped_column(JSON, nullable=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_content_type: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str | None] = mapped_column(String(42), nullable=True)
    custodial: Mapped[bool] = mapped_column(Boolean, default=False)
    image_cid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    metadata_cid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    chain_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contract: Mapped[str | None] = mapped_column(String(42), nullable=True)
    minter: Mapped[str | None] = mapped_column(String(42), nullable=True)
    nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    token_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    transfer_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    transfer_to: Mapped[str | None] = mapped_column(String(42), nullable=True)
    transfer_nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    transfer_raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    transfer_tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NonceCounter(Base):
    """The next nonce of a signing account on a chain, handed out under a row lock."""

    __tablename__ = "nonce_counters"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)


class SiweNonce(Base):
    """A Sign-In with Ethereum nonce: issued to one session, single use, valid 10 minutes."""

    __tablename__ = "siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Wallet(Base):
    """An address a user proved, read-only, with a signed SIWE message. One user per address."""

    __tablename__ = "wallets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    signer_kind: Mapped[str] = mapped_column(String(16))  # eoa | eip1271
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NftAvatar(Base):
    """An NFT set as a user's avatar, with its provenance. At most one per user is ``active``;
    when ownership no longer holds it becomes ``dropped`` with the reason and block."""

    __tablename__ = "nft_avatars"
    __table_args__ = (Index("ix_nft_avatars_token", "chain_id", "contract", "token_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | dropped | replaced
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    token_id: Mapped[str] = mapped_column(String(78))  # uint256 in decimal
    standard: Mapped[str] = mapped_column(String(8))
    owner: Mapped[str] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger)
    token_uri: Mapped[str] = mapped_column(Text)
    metadata_uri: Mapped[str] = mapped_column(Text)
    metadata_cid: Mapped[str | None] = mapped_column(String(120), nullable=True)
    metadata_verified: Mapped[bool] = mapped_column(Boolean)
    image_uri: Mapped[str] = mapped_column(Text)
    image_cid: Mapped[str | None] = mapped_column(String(120), nullable=True)
    image_verified: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    steps: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    avatar_id: Mapped[str] = mapped_column(ForeignKey("avatars.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_block: Mapped[int] = mapped_column(BigInteger)
    dropped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dropped_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    avatar: Mapped[Avatar] = relationship(lazy="joined")


class AvatarChange(Base):
    """A change of the avatar a user's profile shows (upload, removal, NFT avatar set or
    dropped), written in the change's own transaction: every web process reads them to drop
    its cached answers for that user (services/avatar_changes.py)."""

    __tablename__ = "avatar_changes"
    # never reuse an ID (SQLite reuses the highest after a delete): a feed past it would miss it
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkerLease(Base):
    """Which worker process holds a job (e.g. the ownership watcher) until when."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WatchCursor(Base):
    """The last block whose Transfer logs the ownership watcher has processed, per chain."""

    __tablename__ = "watch_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block: Mapped[int] = mapped_column(BigInteger)
