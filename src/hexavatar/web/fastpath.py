"""The avatar read path's fast lane: ``GET``/``HEAD /u/{username}/avatar`` answered from the
in-process cache without FastAPI's routing, validation and response objects.

Avatars are read far more than anything else, and a cached answer needs none of that machinery:
this pure ASGI middleware sits inside the metrics and log middlewares (so those requests are
still counted, timed and logged under the route's template) and answers only a cache hit of a
request it fully understands (``size`` and ``shape`` parameters, nothing else); everything else
falls through to the normal route, which also fills the cache. The headers are the same as the
route's (a test compares them).
"""

from __future__ import annotations

import re
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from ..services.avatars import Served
from . import images
from .images import negotiate, not_modified

__all__ = ["AvatarFastPath"]

_PATH = re.compile(r"/u/([^/]{1,64})/avatar")
_TEMPLATE = "/u/{username}/avatar"


class AvatarFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _PATH.fullmatch(scope["path"])
            served = self._hit(scope, match.group(1)) if match else None
            if served is not None:
                scope["route"] = self._template_route(scope)
                await _answer(scope, send, served)
                return
        await self.app(scope, receive, send)

    def _hit(self, scope: Scope, username: str) -> Served | None:
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if services is None or services.settings.avatar_serving != "stream":
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if not set(query) <= {"size", "shape"}:
            return None
        size_text, shape = query.get("size", "128"), query.get("shape", "square")
        if not size_text.isdigit() or not 16 <= int(size_text) <= 512:
            return None  # the route answers with the error
        if shape not in ("square", "hexagon"):
            return None
        accept = _header(scope, b"accept")
        hit: Served | None = services.avatars.cached(
            username, size=int(size_text), fmt=negotiate(accept), shape=shape
        )
        return hit

    def _template_route(self, scope: Scope) -> Any:
        """The route object the framework would have matched (metrics and logs name it)."""
        if self._route is None:
            for route in images.router.routes:
                if getattr(route, "path", None) == _TEMPLATE and "GET" in getattr(
                    route, "methods", ()
                ):
                    self._route = route
                    break
        return self._route


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _answer(scope: Scope, send: Send, served: Served) -> None:
    etag = served.etag
    headers = [
        (b"etag", etag.encode()),
        (b"last-modified", format_datetime(served.last_modified, usegmt=True).encode()),
        (b"cache-control", b"public, max-age=60"),
        (b"x-content-type-options", b"nosniff"),
        (b"vary", b"Accept"),
    ]
    inm, ims = _header(scope, b"if-none-match"), _header(scope, b"if-modified-since")
    if not_modified(inm, ims, etag, served.last_modified):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [
        (b"content-type", served.content_type.encode()),
        (b"content-length", str(len(served.data)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = b"" if scope["method"] == "HEAD" else served.data
    await send({"type": "http.response.body", "body": body})
