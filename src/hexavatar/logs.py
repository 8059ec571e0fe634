"""Structured logging: one JSON object (or one text line) per record, with the request's ID.

- :func:`configure_logging` installs one handler on the root logger (idempotent: calling it
  again replaces that handler, other handlers such as pytest's stay). ``serve`` calls it before
  uvicorn starts and :func:`hexavatar.app.create_app` calls it again, so every worker process of
  ``serve --workers N`` logs the same way. uvicorn's own loggers propagate to it; uvicorn's access
  log is off, :class:`RequestLogMiddleware` writes one record per request instead.
- Request IDs: an incoming ``X-Request-ID`` is kept when it is sane (1–128 characters of
  ``A-Z a-z 0-9 . _ : -``), otherwise a new one is made; it is echoed in the response's
  ``X-Request-ID`` and added to every record logged while the request runs (threads included:
  the ID lives in a context variable, which ``run_in_threadpool`` copies).
- No secrets: the access record names the method, the route template, the path without its
  query string, the status and the duration, never headers or cookies; every message and
  traceback goes through :func:`redact` (URL passwords, bearer tokens, ``password=…``-style
  pairs, PEM private keys), so an exception that quotes a database URL does not leak it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HTTP_METHODS",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestLogMiddleware",
    "bind_request_id",
    "configure_logging",
    "current_request_id",
    "log_access",
    "redact",
    "request_id_for",
    "route_template",
    "unbind_request_id",
]

LogFormat = Literal["json", "text"]
REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("hexavatar_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_HANDLER_MARK = "_hexavatar_handler"
_SCOPE_KEY = "hexavatar.request_id"
# The HTTP methods the service knows (metrics count others as OTHER). An access message of one
# of them is the method, a route template and numbers: nothing to redact.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_SECRET_NAMES = r"password|passwd|secret|token|api[_-]?key|private[_-]?key|cookie|session"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 ***"),
    (
        re.compile(rf"(?i)\b([\w\-]*(?:{_SECRET_NAMES})[\w\-]*[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"),
        r"\1***",
    ),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "***private key***",
    ),
)
# Every pattern above needs one of these words (lower case): a text without any has nothing to
# mask. Keep in step with _SECRET_NAMES and _REDACTIONS (a test checks each against redact()).
_SECRET_WORDS = (
    "://", "bearer", "basic", "private", "password", "passwd", "secret", "token", "key",
    "cookie", "session",
)  # fmt: skip
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "request_id", "color_message",  # uvicorn's ANSI copy of the message
}  # fmt: skip
# Loggers held at INFO (and above) whatever the level: alembic's plugins log a line each at
# every start (noise); web3's providers and urllib3 log every request's URL at DEBUG, and an RPC
# URL carries its API key in the path, which redact() cannot tell from any other path.
_QUIET = {"alembic.runtime.plugins": logging.WARNING, "web3": logging.INFO, "urllib3": logging.INFO}


def current_request_id() -> str | None:
    """The ID of the request being handled in this context, if any."""
    return _request_id.get()


def redact(text: str) -> str:
    """``text`` with credentials masked: URL passwords, bearer tokens, ``key=value`` pairs whose
    key names a secret, PEM private keys."""
    lowered = text.lower()  # most messages (every access line) contain none of the words: done
    if not any(word in lowered for word in _SECRET_WORDS):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


# json.dumps(default=…) would build an encoder for every record
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
_json_str: Callable[[str], str] = json.encoder.encode_basestring  # a JSON string, as _ENCODER


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the ``extra=``
    fields, and the traceback as ``exc`` (all redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or _request_id.get()
        if rid and rid != "-":
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return _ENCODER.encode(out)


_second: tuple[int, str] = (0, "")


def _iso_time(created: float) -> str:
    """``created`` as ISO 8601 UTC with milliseconds (``2026-11-26T08:42:58.338+00:00``); the
    part up to the second is made once a second (this runs for every access record)."""
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}+00:00"


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes lines in batches: records below WARNING wait up to
    ``interval`` seconds (or until ``max_bytes`` are waiting), WARNING and above are written at
    once with whatever waits before them. One write a batch instead of one a record: with an
    access record per request, the writes cost more than the requests (two processes appending
    to one file contend for it). ``close()`` and the logging module's exit hook write what is
    left; a killed process loses at most ``interval`` of records below WARNING."""

    def __init__(self, stream: Any, *, interval: float = 0.2, max_bytes: int = 64 * 1024) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._add(line, record.levelno)

    def add_line(self, line: str) -> None:
        """Write an already formatted INFO line (the access log's direct path)."""
        with self.lock:  # type: ignore[union-attr]
            self._add(line, logging.INFO)

    def _add(self, line: str, level: int) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if level >= logging.WARNING or self._size >= self.max_bytes:
            self.flush()
        elif self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_now_and_then, daemon=True,
                                             name="log-flusher")  # fmt: skip
            self._flusher.start()

    def flush(self) -> None:
        with self.lock, contextlib.suppress(OSError, ValueError):  # type: ignore[union-attr]
            # (a closed or broken stream: records are dropped, the service goes on)
            if self._lines:
                lines, self._lines, self._size = self._lines, [], 0
                self.stream.write("\n".join(lines) + "\n")
            super().flush()

    def _flush_now_and_then(self) -> None:
        while not self._wake.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._wake.set()
        self.flush()
        super().close()


def configure_logging(*, level: str = "info", fmt: LogFormat = "json") -> None:
    """Send every record at ``level`` or above to stderr as ``fmt`` (see the module docstring)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = BatchingStreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter(_TEXT_FORMAT))
    root.addHandler(handler)
    global _direct
    _direct = handler if fmt == "json" else None
    root.setLevel(level.upper())
    # What no record of ours shows, not gathered for each record (the logging HOWTO's
    # "Optimization" table): caller frames, thread and process names. An access record a
    # request costs ~half as much so.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level.upper())))


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def route_template(scope: Scope, original: Scope) -> str:
    """The path template of the route that handled ``scope`` (``/u/{username}/avatar``), or
    ``unmatched``: never the raw path. FastAPI's routes name themselves in ``scope["route"]``;
    plain Starlette routes and mounts (``/openapi.json``, ``/static``) are looked up with
    ``original``, a copy of the scope taken before the app ran (a mount rewrites the scope)."""
    route = scope.get("route") or _lookup_route(original)
    return str(getattr(route, "path", "")) or "unmatched"


def _lookup_route(scope: Scope) -> BaseRoute | None:
    for route in getattr(scope.get("app"), "routes", ()):
        if isinstance(route, Route | Mount) and route.matches(scope)[0] is Match.FULL:
            return route
    return None


def request_id_for(scope: Scope) -> str:
    """The request's ID: its sane ``X-Request-ID`` header, else a new random one (made once
    a request: kept in the scope for the layers after the first that asks)."""
    rid: str | None = scope.get(_SCOPE_KEY)
    if rid is None:
        # 128 random bits from the process's PRNG (seeded from the OS): an ID must be unique,
        # not unguessable, and a system call a request for it costs more than the rest
        rid = scope[_SCOPE_KEY] = _incoming_id(scope) or f"{random.getrandbits(128):032x}"
    return rid


def bind_request_id(request_id: str) -> Token[str | None]:
    """Make ``request_id`` the ID of records logged in this context from now on."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


ACCESS = logging.getLogger("hexavatar.access")


def log_access(method: str, route: str, path: str, status: int, seconds: float) -> None:
    """The one access record of a request (route: the template, path: without the query)."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    ms = round(seconds * 1000, 3)
    message = f"{method} {route} {status} {ms:.1f}ms"
    sink = _direct_sink()
    if sink is None:
        fields = {"method": method, "route": route, "path": path, "status": status,
                  "duration_ms": ms}  # fmt: skip
        ACCESS.info("%s", message, extra=fields)
        return
    # The line JsonFormatter makes of that record (a test compares them), without the record
    # and without a dict to encode: a third of the cost
    rid = _request_id.get()
    sink.add_line(
        f'{{"time": "{_iso_time(time.time())}", "level": "info", "logger": "hexavatar.access",'
        f' "message": {_json_str(message if method in HTTP_METHODS else redact(message))}, '
        + (f'"request_id": {_json_str(rid)}, ' if rid else "")
        + f'"method": {_json_str(method)}, "route": {_json_str(route)},'
        f' "path": {_json_str(path)}, "status": {status}, "duration_ms": {ms!r}}}'
    )


_direct: BatchingStreamHandler | None = None  # our JSON handler, set by configure_logging


def _direct_sink() -> BatchingStreamHandler | None:
    """Our JSON handler when it is the only place an access record would go (no other
    handler or filter on the way, as in production; tests capturing logs add one): the
    record can then be written without the logging machinery, a third of its cost."""
    handler = _direct
    if handler is None or handler.level > logging.INFO or len(handler.filters) != 1:
        return None
    logger: logging.Logger | None = ACCESS
    while logger is not None and logger is not logging.root:
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        logger = logger.parent
    root = logging.root
    if len(root.handlers) != 1 or root.handlers[0] is not handler or root.filters:
        return None
    return handler


class RequestLogMiddleware:
    """Pure ASGI middleware: request ID in, out and in the logs; one access record a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        original = dict(scope)
        rid = request_id_for(scope)
        token = bind_request_id(rid)
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The server's error handler, outside this middleware, logs the traceback next: the
            # ID stays set for it (each request runs in a task of its own, with its own context).
            self._access(scope, original, 500, time.perf_counter() - started)
            raise
        self._access(scope, original, status, time.perf_counter() - started)
        unbind_request_id(token)

    def _access(self, scope: Scope, original: Scope, status: int, seconds: float) -> None:
        route = route_template(scope, original)
        log_access(scope["method"], route, scope.get("path", ""), status, seconds)
