"""JSON shapes of the API (they make the OpenAPI document at /openapi.json)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ..services.avatars import AvatarView

__all__ = [
    "AvatarOut",
    "Credentials",
    "ErrorBody",
    "ErrorOut",
    "ProfileOut",
    "TokenIn",
    "TokenOut",
    "UserOut",
]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class Credentials(BaseModel):
    username: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=1024)


class TokenIn(BaseModel):
    name: str = Field(default="", max_length=100)
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=1024)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"


class UserOut(BaseModel):
    username: str
    created_at: datetime


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

    @classmethod
    def of(cls, view: AvatarView) -> AvatarOut:
        return cls(
            id=view.id,
            kind=view.kind,
            shape="circle",
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
