"""Request dependencies: the service container and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
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
    "BearerDep",
    "CurrentUser",
    "Services",
    "SessionCookieDep",
    "auth_token",
    "get_services",
    "optional_user",
    "set_cookie",
]

SESSION_COOKIE = "hexavatar_session"

# How a request is signed in, declared as the OpenAPI document's security schemes: routes that
# depend on these say so in the document (``security``), either scheme is enough. Neither
# refuses a request on its own (``auto_error=False``): the dependencies below decide.
_BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    description="An API token from `POST /api/v1/auth/tokens`: `Authorization: Bearer <token>`.",
    auto_error=False,
)
_SESSION = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="sessionCookie",
    description="The browser session cookie set by `POST /api/v1/auth/signup` and `/login`.",
    auto_error=False,
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
SessionCookieDep = Annotated[str | None, Security(_SESSION)]


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


def optional_user(
    services: Annotated[Services, Depends(get_services)],
    bearer: BearerDep,
    cookie: SessionCookieDep,
) -> User | None:
    """The user of a bearer API token, else of the session cookie, else None."""
    if bearer is not None:
        user = services.accounts.authenticate(bearer.credentials, kind="api")
        if user is None:
            raise Unauthenticated("the bearer token is unknown or expired")
        return user
    return services.accounts.authenticate(cookie, kind="session") if cookie else None


async def auth_token(bearer: BearerDep, cookie: SessionCookieDep) -> str:
    """The credential of this request (bearer token, else session cookie): what a SIWE nonce
    is bound to."""
    token = bearer.credentials if bearer is not None else cookie
    if not token:
        raise Unauthenticated("sign in first (session cookie or bearer token)")
    return token


def _required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthenticated("sign in first (session cookie or bearer token)")
    return user


CurrentUser = Annotated[User, Depends(_required_user)]
