"""JSON shapes of the API (they make the OpenAPI document at /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ..services.avatars import AvatarView
from ..services.nft_avatars import NftAvatarView

__all__ = [
    "AvatarOut",
    "Credentials",
    "ErrorBody",
    "ErrorOut",
    "ProfileOut",
    "ProvenanceOut",
    "RequestBody",
    "TokenIn",
    "TokenOut",
    "UserOut",
]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class RequestBody(BaseModel):
    """A JSON request body: no text in it may hold a NUL character (no legitimate value has one,
    and PostgreSQL cannot store one: refused here with a 422, not a 500 later)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class Credentials(RequestBody):
    username: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=1024)


class TokenIn(RequestBody):
    name: str = Field(default="", max_length=100)
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=1024)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"


class UserOut(BaseModel):
    username: str
    created_at: datetime


class ProvenanceOut(BaseModel):
    """Where an NFT avatar comes from and what was verified."""

    ref: str = Field(description="CAIP-22/29 reference, eip155:<chain>/<standard>:<contract>/<id>")
    chain_id: int
    contract: str
    token_id: str
    standard: str
    owner: str
    block_number: int = Field(description="block at which ownership was checked when set")
    checked_block: int = Field(description="block at which ownership was last verified")
    checked_at: datetime
    token_uri: str
    metadata_uri: str
    metadata_cid: str | None
    metadata_verified: bool
    image_uri: str
    image_cid: str | None
    image_verified: bool
    name: str | None

    @classmethod
    def of(cls, v: NftAvatarView) -> ProvenanceOut:
        return cls(
            ref=v.caip, chain_id=v.chain_id, contract=v.contract, token_id=v.token_id,
            standard=v.standard, owner=v.owner, block_number=v.block_number,
            checked_block=v.checked_block, checked_at=v.checked_at, token_uri=v.token_uri,
            metadata_uri=v.metadata_uri, metadata_cid=v.metadata_cid,
            metadata_verified=v.metadata_verified, image_uri=v.image_uri, image_cid=v.image_cid,
            image_verified=v.image_verified, name=v.name,
        )  # fmt: skip


class AvatarOut(BaseModel):
    id: str
    kind: str
    shape: str
    sha256: str
    source_format: str
    width: int
    height: int
    created_at: datetime
    renditions: dict[str, str] = Field(description="size → WebP URL")
    renditions_png: dict[str, str] = Field(description="size → PNG URL")
    provenance: ProvenanceOut | None = Field(default=None, description="for kind nft")

    @classmethod
    def of(cls, view: AvatarView, nft: NftAvatarView | None = None) -> AvatarOut:
        return cls(
            provenance=ProvenanceOut.of(nft) if nft else None,
            id=view.id,
            kind="nft" if nft else view.kind,
            shape="hexagon" if nft else "circle",
            sha256=view.sha256,
            source_format=view.source_format,
            width=view.width,
            height=view.height,
            created_at=view.created_at,
            renditions={str(k): v for k, v in sorted(view.renditions.items())},
            renditions_png={str(k): v for k, v in sorted(view.renditions_png.items())},
        )


class ProfileOut(BaseModel):
    username: str
    created_at: datetime
    avatar_url: str = Field(description="/u/{username}/avatar: the current picture or a default")
    avatar: AvatarOut | None
