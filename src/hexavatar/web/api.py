"""The JSON API under /api/v1: accounts, the signed-in user's avatar, public profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from ..services.errors import Unauthenticated
from ..storage.db import as_utc
from .deps import (
    SESSION_COOKIE,
    CurrentUser,
    Services,
    SessionCookieDep,
    get_services,
    optional_user,
    set_cookie,
)
from .errors import ApiError
from .multipart import read_request_form
from .openapi import IMAGE_UPLOAD_ERRORS, UPLOAD_TYPES, error_responses
from .schemas import AvatarOut, Credentials, ProfileOut, TokenIn, TokenOut, UserOut

__all__ = ["router"]

ServicesDep = Annotated[Services, Depends(get_services)]
router = APIRouter(prefix="/api/v1")

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                },
                "encoding": {"file": {"contentType": UPLOAD_TYPES}},
            }
        },
    }
}
# Signed in or not: the document's security requirement lists "no credentials" too.
_AUTH_OPTIONAL: dict[str, Any] = {"security": [{}]}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _set_session(response: Response, services: Services, token: str) -> None:
    set_cookie(
        response, services, SESSION_COOKIE, token, max_age=services.settings.session_ttl_seconds
    )


@router.post(
    "/auth/signup",
    status_code=201,
    response_model=UserOut,
    tags=["auth"],
    responses=error_responses(
        "validation_error", "invalid_username", "invalid_password", "username_taken"
    ),
)
def signup(body: Credentials, response: Response, services: ServicesDep) -> UserOut:
    """Create an account and sign it in (session cookie)."""
    user = services.accounts.signup(body.username, body.password)
    _set_session(response, services, services.accounts.issue_token(user.id, kind="session"))
    return UserOut(username=user.username, created_at=as_utc(user.created_at))


@router.post(
    "/auth/login",
    response_model=UserOut,
    tags=["auth"],
    responses=error_responses("validation_error", "invalid_credentials", "rate_limited"),
)
def login(
    body: Credentials, request: Request, response: Response, services: ServicesDep
) -> UserOut:
    """Check username and password (rate-limited) and set the session cookie."""
    user, token = services.accounts.login(body.username, body.password, client=_client(request))
    _set_session(response, services, token)
    return UserOut(username=user.username, created_at=as_utc(user.created_at))


@router.post("/auth/logout", status_code=204, tags=["auth"], openapi_extra=_AUTH_OPTIONAL)
def logout(cookie: SessionCookieDep, services: ServicesDep) -> Response:
    """End the browser session (the cookie's token is revoked)."""
    if cookie:
        services.accounts.revoke(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post(
    "/auth/tokens",
    status_code=201,
    response_model=TokenOut,
    tags=["auth"],
    openapi_extra=_AUTH_OPTIONAL,
    responses=error_responses(
        "validation_error", "unauthenticated", "invalid_credentials", "rate_limited"
    ),
)
def create_token(
    body: TokenIn,
    request: Request,
    services: ServicesDep,
    user: Annotated[Any, Depends(optional_user)],
) -> TokenOut:
    """A bearer API token for apps: signed in, or with username and password in the body."""
    if user is None:
        if body.username is None or body.password is None:
            raise Unauthenticated("sign in, or give username and password")
        user, session = services.accounts.login(
            body.username, body.password, client=_client(request)
        )
        services.accounts.revoke(session)
    return TokenOut(token=services.accounts.issue_token(user.id, kind="api", name=body.name))


@router.post(
    "/me/avatar",
    status_code=201,
    response_model=AvatarOut,
    openapi_extra=_UPLOAD_BODY,
    tags=["avatars"],
    responses=error_responses("unauthenticated", *IMAGE_UPLOAD_ERRORS, "object_store_error"),
)
async def upload_avatar(request: Request, user: CurrentUser, services: ServicesDep) -> AvatarOut:
    """Upload a picture (multipart field ``file``): JPEG, PNG, WebP or GIF, up to 10 MiB."""
    form = await read_request_form(request, max_file_bytes=services.settings.max_upload_bytes)
    part = form.file("file")
    if part is None:
        raise ApiError("missing_field", "multipart field 'file' with a file is required")
    view = await run_in_threadpool(services.avatars.set_upload, user.id, bytes(part.data))
    return AvatarOut.of(view)


@router.delete(
    "/me/avatar",
    status_code=204,
    tags=["avatars"],
    responses=error_responses("unauthenticated", "no_avatar"),
)
def delete_avatar(user: CurrentUser, services: ServicesDep) -> Response:
    """Remove the current picture; the profile falls back to the generated default."""
    services.avatars.delete(user.id)
    return Response(status_code=204)


@router.get(
    "/users/{username}",
    response_model=ProfileOut,
    tags=["users"],
    responses=error_responses("validation_error", "user_not_found"),
)
def get_profile(username: str, services: ServicesDep) -> ProfileOut:
    """A user's public profile with the current avatar."""
    user, view = services.avatars.shown(username)
    nft = services.nft_avatars.active(user.id)
    base = services.settings.effective_public_url
    return ProfileOut(
        username=user.username,
        created_at=as_utc(user.created_at),
        avatar_url=f"{base}/u/{user.username}/avatar",
        avatar=AvatarOut.of(view, nft if nft and nft.avatar_id == view.id else None)
        if view
        else None,
    )
