"""The avatar read path's fast lane: ``GET``/``HEAD /u/{username}/avatar`` answered from the
in-process cache without FastAPI's routing, validation and response objects.

Avatars are read far more than anything else, and an answer needs none of that machinery: this
pure ASGI middleware sits outside the metrics and log middlewares and answers the requests it
fully understands (``size`` and ``shape`` parameters, nothing else) in ``stream`` mode: from the
cache, or on a miss from the batched loader (``web/avatar_loader.py``); it counts and logs its
answers itself, under the route's template, as those middlewares do. Everything else, errors
included (no such user, a bad size, the database down), falls through to the normal route. The
headers are the same as the route's (a test compares them).

A cache hit can be answered sooner still: :meth:`AvatarFastPath.answer_at_once` answers it
synchronously from the request's method, path, query and headers, so that the HTTP protocol of
``hexavatar serve`` (``web/wire.py``) can write the answer before any ASGI scope, task or
message exists. It returns None for anything else (a miss included), and that request then
takes the ASGI way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from ..logs import bind_request_id, log_access, request_id_for, unbind_request_id
from ..services.avatars import Served
from .images import negotiate, not_modified

__all__ = ["Answer", "AvatarFastPath"]

_PATH = re.compile(r"/u/([^/]{1,64})/avatar")
_TEMPLATE = "/u/{username}/avatar"
_MEMO = 4096  # query strings and header lists remembered (bounded: clients choose them)
_Params = tuple[int, str] | None  # (size, shape), or None: the route must answer
_UNSEEN: Any = object()
Headers = Sequence[tuple[bytes, bytes]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


class AvatarFastPath:
    """See the module docstring. ``owner`` is the FastAPI app (its state holds the services
    and the loader); ``app`` is the rest of the stack, for everything this lane leaves."""

    def __init__(self, app: ASGIApp, *, owner: Any) -> None:
        self.app = app
        self.owner = owner
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
                        await self._send(scope, send, served, rid, started)
                        return
                finally:
                    unbind_request_id(token)
        await self.app(scope, receive, send)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Headers
    ) -> Answer | None:
        """The answer to a request whose avatar is cached (counted and logged), else None.
        ``headers`` are the request's, names in lower case."""
        if method not in ("GET", "HEAD"):
            return None
        match = _PATH.fullmatch(path)
        if match is None:
            return None
        started = time.perf_counter()
        key = self._key_of(query, headers)
        if key is None:
            return None
        size, shape, fmt = key
        try:
            served = self.owner.state.services.avatars.cached(
                match.group(1), size=size, fmt=fmt, shape=shape
            )
        except Exception:  # the ASGI way tries again and reports the error as usual
            return None
        if served is None:
            return None
        rid = request_id_for({"headers": headers})
        answer = self._response(method, headers, served, rid)
        token = bind_request_id(rid)
        try:
            self._record(method, path, answer[0], started)
        finally:
            unbind_request_id(token)
        return answer

    async def _send(
        self, scope: Scope, send: Send, served: Served, rid: str, started: float
    ) -> None:
        """Send the answer, counted and logged as the metrics and the request log do others."""
        status = 500
        try:
            status, headers, body = self._response(scope["method"], scope["headers"], served, rid)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self._record(scope["method"], scope["path"], status, started)

    def _record(self, method: str, path: str, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        if self.owner.metrics is not None:
            self.owner.metrics.observe_request(method, _TEMPLATE, status, seconds)
        log_access(method, _TEMPLATE, path, status, seconds)

    async def _answer_of(self, scope: Scope, username: str) -> Served | None:
        """The cached answer, else the loader's; None leaves the request to the route."""
        key = self._key_of(scope.get("query_string", b""), scope["headers"])
        if key is None:
            return None
        size, shape, fmt = key
        try:
            loaded: Served | None = await self.owner.state.avatar_loader.answer(
                username, size=size, fmt=fmt, shape=shape
            )
        except Exception:  # the route tries again and reports the error as usual
            return None
        return loaded  # None (no such user): the route answers 404

    def _key_of(self, query: bytes, headers: Headers) -> tuple[int, str, Any] | None:
        """Size, shape and format of a request this lane answers, else None."""
        services = getattr(self.owner.state, "services", None)
        if services is None or services.settings.avatar_serving != "stream":
            return None
        params = self._parse(query)
        if params is None:
            return None
        return params[0], params[1], negotiate(_header(headers, b"accept"))

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

    def _response(self, method: str, request_headers: Headers, served: Served, rid: str) -> Answer:
        headers = [*self._headers_of(served), (b"x-request-id", rid.encode())]
        inm = _header(request_headers, b"if-none-match")
        ims = _header(request_headers, b"if-modified-since")
        if (inm is not None or ims is not None) and not_modified(
            inm, ims, served.etag, served.last_modified
        ):
            return 304, headers, b""
        headers += [
            (b"content-type", served.content_type.encode()),
            (b"content-length", str(len(served.data)).encode()),
        ]
        return 200, headers, b"" if method == "HEAD" else served.data


def _header(headers: Headers, name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return None
