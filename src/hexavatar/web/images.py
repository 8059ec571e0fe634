"""Serving images: ``/u/{username}/avatar`` (mutable, short cache) and ``/a/{name}``
(content-addressed, immutable). Both answer HEAD, ETag/If-None-Match, Last-Modified/
If-Modified-Since, and negotiate WebP or PNG from ``Accept``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..services.avatars import CONTENT_TYPES, ImageFormat
from ..services.errors import NotFound
from .deps import Services, get_services
from .errors import ApiError
from .openapi import AVATAR_RESPONSES, OBJECT_RESPONSES

__all__ = ["router"]

ServicesDep = Annotated[Services, Depends(get_services)]
router = APIRouter(tags=["images"])
_OBJECT_NAME = re.compile(r"([0-9a-f]{64})\.(webp|png)")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
IMMUTABLE = "public, max-age=31536000, immutable"


def negotiate(accept: str | None) -> ImageFormat:
    """WebP when ``Accept`` names ``image/webp`` with a quality above 0 and at least PNG's,
    else PNG (every client shows a PNG: wildcards such as ``*/*`` and ``image/*`` get it).

    Qualities as RFC 9110 (12.5.1) reads them: each type's is that of the most specific range
    that matches it (``image/png`` over ``image/*`` over ``*/*``); with no ``Accept``, 1 for all.
    Clients send a few ``Accept`` strings over and over: the answers are remembered."""
    known = _NEGOTIATED.get(accept)
    if known is not None:
        return known
    q = _qualities(accept or "*/*")
    webp = q.get("image/webp")
    png = q.get("image/png", q.get("image/*", q.get("*/*", 0.0)))
    fmt: ImageFormat = "webp" if webp is not None and webp > 0 and webp >= png else "png"
    if len(_NEGOTIATED) < 1024:
        _NEGOTIATED[accept] = fmt
    return fmt


_NEGOTIATED: dict[str | None, ImageFormat] = {}


def _qualities(accept: str) -> dict[str, float]:
    """Media range (lower case, parameters dropped) → its quality (a bad ``q`` counts as 1)."""
    out: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 1.0
        media = media.lower()
        out[media] = max(q, out.get(media, 0.0))
    return out


def not_modified(inm: str | None, ims: str | None, etag: str, modified: datetime) -> bool:
    """Whether If-None-Match (first) or If-Modified-Since says the client's copy is current."""
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    if ims:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def image_response(
    request: Request,
    *,
    data: bytes,
    content_type: str,
    etag: str,
    modified: datetime,
    cache_control: str,
    vary: bool,
) -> Response:
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if vary:
        headers["Vary"] = "Accept"
    if not_modified(
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        etag,
        modified,
    ):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return Response(status_code=200, headers=headers, media_type=content_type)
    return Response(content=data, headers=headers, media_type=content_type)


@router.get("/u/{username}/avatar", response_class=Response, responses=AVATAR_RESPONSES)
async def user_avatar(
    username: str,
    request: Request,
    services: ServicesDep,
    size: Annotated[
        int,
        # the bounds documented, checked by the service (400 invalid_size, not a 422)
        Query(description="16 ≤ size ≤ 512", json_schema_extra={"minimum": 16, "maximum": 512}),
    ] = 128,
    shape: Annotated[
        Literal["square", "hexagon"], Query(description="hexagon: a PNG masked to a hexagon")
    ] = "square",
) -> Response:
    """The user's current picture (the smallest rendition ≥ size), or a generated default."""
    fmt = negotiate(request.headers.get("accept"))
    # a miss is batched with the others of the moment, off the event loop
    served = await request.app.state.avatar_loader.answer(username, size=size, fmt=fmt, shape=shape)
    if served is None:
        raise NotFound(f"no user named {username[:40]!r}", code="user_not_found")
    if services.settings.avatar_serving == "redirect" and served.url is not None:
        return RedirectResponse(
            served.url,
            status_code=302,
            headers={"Cache-Control": "public, max-age=60", "Vary": "Accept"},
        )
    return image_response(
        request,
        data=served.data,
        content_type=served.content_type,
        etag=served.etag,
        modified=served.last_modified,
        cache_control="public, max-age=60",
        vary=True,
    )


@router.get("/a/{name}", response_class=Response, responses=OBJECT_RESPONSES)
async def stored_object(name: str, request: Request, services: ServicesDep) -> Response:
    """A rendition by its content hash: never changes, cached for a year."""
    match = _OBJECT_NAME.fullmatch(name)
    if match is None:
        raise ApiError("not_found", f"expected <sha256>.webp or <sha256>.png, found {name[:80]!r}")
    digest, ext = match.groups()
    data = await run_in_threadpool(services.avatars.read_object, f"a/{digest[:2]}/{name}")
    return image_response(
        request,
        data=data,
        content_type=CONTENT_TYPES[ext],
        etag=f'"{digest}"',
        modified=_EPOCH,
        cache_control=IMMUTABLE,
        vary=False,
    )


# HEAD answers like GET without a body; one operation each in the OpenAPI document.
router.add_api_route("/u/{username}/avatar", user_avatar, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/a/{name}", stored_object, methods=["HEAD"], include_in_schema=False)
