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

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestLogMiddleware",
    "configure_logging",
    "current_request_id",
    "redact",
    "route_template",
]

LogFormat = Literal["json", "text"]
REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("hexavatar_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_HANDLER_MARK = "_hexavatar_handler"
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
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "request_id", "color_message",  # uvicorn's ANSI copy of the message
}  # fmt: skip
_QUIET = ("alembic.runtime.plugins",)  # one line per plugin at every start: noise


def current_request_id() -> str | None:
    """The ID of the request being handled in this context, if any."""
    return _request_id.get()


def redact(text: str) -> str:
    """``text`` with credentials masked: URL passwords, bearer tokens, ``key=value`` pairs whose
    key names a secret, PEM private keys."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the ``extra=``
    fields, and the traceback as ``exc`` (all redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return json.dumps(out, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(*, level: str = "info", fmt: LogFormat = "json") -> None:
    """Send every record at ``level`` or above to stderr as ``fmt`` (see the module docstring)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter(_TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


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


class RequestLogMiddleware:
    """Pure ASGI middleware: request ID in, out and in the logs; one access record a request."""

    def __init__(self, app: ASGIApp, *, logger: str = "hexavatar.access") -> None:
        self.app = app
        self.log = logging.getLogger(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        original = dict(scope)
        rid = _incoming_id(scope) or os.urandom(16).hex()
        token = _request_id.set(rid)
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
        _request_id.reset(token)

    def _access(self, scope: Scope, original: Scope, status: int, seconds: float) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        route = route_template(scope, original)
        ms = round(seconds * 1000, 3)
        self.log.info(
            "%s %s %d %.1fms",
            scope["method"],
            route,
            status,
            ms,
            extra={
                "method": scope["method"],
                "route": route,
                "path": scope.get("path", ""),
                "status": status,
                "duration_ms": ms,
            },
        )
