"""Request dependencies: the service container and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..ipfs.blockstore import Blockstore
from ..services.accounts import Accounts
from ..services.avatars import Avatars
from ..services.chainlink import ChainLink
from ..services.errors import Unauthenticated
from ..services.minting import Minting
from ..services.nft_avatars import NftAvatars
from ..services.wallets import Wallets
from ..storage.models import User
from ..storage.objects import ObjectStore

__all__ = [
    "SESSION_COOKIE",
    "CurrentUser",
    "Services",
    "auth_token",
    "get_services",
    "optional_user",
    "set_cookie",
]

SESSION_COOKIE = "hexavatar_session"


@dataclass(slots=True)
class Services:
    """Everything a request may use, built once in the app's lifespan."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    store: ObjectStore
    accounts: Accounts
    avatars: Avatars
    blockstore: Blockstore
    minting: Minting
    wallets: Wallets
    nft_avatars: NftAvatars
    chain: ChainLink | None = None

    def close(self) -> None:
        self.avatars.close()
        if self.chain is not None:
            self.chain.close()
        self.engine.dispose()


def set_cookie(
    response: Response, services: Services, name: str, value: str, *, max_age: int
) -> None:
    """Set one of our cookies: HttpOnly, SameSite=Lax, Secure when configured, whole site."""
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax",
        secure=services.settings.cookie_secure, path="/",
    )  # fmt: skip


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request.
    services: Services = request.app.state.services
    return services


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def optional_user(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> User | None:
    """The user of a bearer API token, else of the session cookie, else None."""
    token = _bearer(request)
    if token is not None:
        user = services.accounts.authenticate(token, kind="api")
        if user is None:
            raise Unauthenticated("the bearer token is unknown or expired")
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    return services.accounts.authenticate(cookie, kind="session") if cookie else None


def auth_token(request: Request) -> str:
    """The credential of this request (bearer token, else session cookie): what a SIWE nonce
    is bound to."""
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("sign in first (session cookie or bearer token)")
    return token


def _required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthenticated("sign in first (session cookie or bearer token)")
    return user


CurrentUser = Annotated[User, Depends(_required_user)]
