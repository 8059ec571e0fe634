"""The avatar read path's fast lane: ``GET``/``HEAD /u/{username}/avatar`` answered from the
in-process cache without FastAPI's routing, validation and response objects.

Avatars are read far more than anything else, and an answer needs none of that machinery: this
pure ASGI middleware sits inside the metrics and log middlewares (so those requests are still
counted, timed and logged under the route's template) and answers the requests it fully
understands (``size`` and ``shape`` parameters, nothing else) in ``stream`` mode: from the
cache, or on a miss from the batched loader (``web/avatar_loader.py``). Everything else, errors
included (no such user, a bad size, the database down), falls through to the normal route. The
headers are the same as the route's (a test compares them).
"""

from __future__ import annotations

import re
import time
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from ..logs import bind_request_id, log_access, request_id_for, unbind_request_id
from ..services.avatars import Served
from .images import negotiate, not_modified

__all__ = ["AvatarFastPath"]

_PATH = re.compile(r"/u/([^/]{1,64})/avatar")
_TEMPLATE = "/u/{username}/avatar"
_MEMO = 4096  # query strings and header lists remembered (bounded: clients choose them)
_Params = tuple[int, str] | None  # (size, shape), or None: the route must answer
_UNSEEN: Any = object()


class AvatarFastPath:
    """See the module docstring. ``owner`` is the FastAPI app (its state holds the services
    and the loader); ``app`` is the rest of the stack, for everything this lane leaves."""

    def __init__(self, app: ASGIApp, *, owner: Any) -> None:
        self.app = app
        self.owner = owner
        self._route: Any = None
        self._params: dict[bytes, _Params] = {}
        self._headers: dict[int, tuple[Served, list[tuple[bytes, bytes]]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                started = time.perf_counter()
                rid = request_id_for(scope)  # kept in the scope for the request log
                token = bind_request_id(rid)
                try:
                    served = await self._answer_of(scope, match.group(1))
                    if served is not None:
                        await self._answer_logged(scope, send, served, rid, started)
                        return
                finally:
                    unbind_request_id(token)
        await self.app(scope, receive, send)

    async def _answer_logged(
        self, scope: Scope, send: Send, served: Served, rid: str, started: float
    ) -> None:
        """Answer, counted and logged as the metrics and the request log do other requests."""
        status = 500
        try:
            status = await self._answer(scope, send, served, rid)
        finally:
            seconds = time.perf_counter() - started
            if self.owner.metrics is not None:
                self.owner.metrics.observe_request(scope["method"], _TEMPLATE, status, seconds)
            log_access(scope["method"], _TEMPLATE, scope["path"], status, seconds)

    async def _answer_of(self, scope: Scope, username: str) -> Served | None:
        """The cached answer, else the loader's; None leaves the request to the route."""
        state = self.owner.state
        services = getattr(state, "services", None)
        if services is None or services.settings.avatar_serving != "stream":
            return None
        params = self._parse(scope.get("query_string", b""))
        if params is None:
            return None
        size, shape = params
        fmt = negotiate(_header(scope, b"accept"))
        try:
            loaded: Served | None = await state.avatar_loader.answer(
                username, size=size, fmt=fmt, shape=shape
            )
        except Exception:  # the route tries again and reports the error as usual
            return None
        return loaded  # None (no such user): the route answers 404

    def _parse(self, query: bytes) -> _Params:
        """``size`` and ``shape`` of a query string this lane fully understands, else None."""
        known = self._params.get(query, _UNSEEN)
        if known is not _UNSEEN:
            return known  # type: ignore[no-any-return]
        params = dict(parse_qsl(query.decode("latin-1")))
        size_text, shape = params.get("size", "128"), params.get("shape", "square")
        parsed: _Params = None
        if (
            set(params) <= {"size", "shape"}
            and size_text.isdigit()
            and 16 <= int(size_text) <= 512  # else the route answers with the error
            and shape in ("square", "hexagon")
        ):
            parsed = (int(size_text), shape)
        if len(self._params) < _MEMO:
            self._params[query] = parsed
        return parsed

    def _headers_of(self, served: Served) -> list[tuple[bytes, bytes]]:
        """The response headers of ``served`` (made once per cached answer)."""
        memo = self._headers.get(id(served))
        if memo is not None and memo[0] is served:
            return memo[1]
        headers = [
            (b"etag", served.etag.encode()),
            (b"last-modified", format_datetime(served.last_modified, usegmt=True).encode()),
            (b"cache-control", b"public, max-age=60"),
            (b"x-content-type-options", b"nosniff"),
            (b"vary", b"Accept"),
        ]
        if len(self._headers) >= _MEMO:
            self._headers.clear()
        self._headers[id(served)] = (served, headers)  # holds ``served``: its id stays unique
        return headers

    async def _answer(self, scope: Scope, send: Send, served: Served, rid: str) -> int:
        headers = [*self._headers_of(served), (b"x-request-id", rid.encode())]
        inm, ims = _header(scope, b"if-none-match"), _header(scope, b"if-modified-since")
        if (inm is not None or ims is not None) and not_modified(
            inm, ims, served.etag, served.last_modified
        ):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304
        headers += [
            (b"content-type", served.content_type.encode()),
            (b"content-length", str(len(served.data)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else served.data
        await send({"type": "http.response.body", "body": body})
        return 200


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
