"""One write per response on the wire: uvicorn's httptools protocol, with the writes made during
one turn of the event loop sent together.

uvicorn writes a response's status line and headers as soon as the app sends them, then the
body: two system calls and two TCP segments for a response that fits in one (a cached avatar
is a few kilobytes). Both writes happen in the same turn of the event loop, so
:class:`CoalescingTransport` keeps what is written during a turn and writes it at the end of
the turn in one call: at once when it reaches ``FLUSH_BYTES``, and before the connection is
closed or handed to another protocol. Nothing is held across turns, so nothing waits for more
data. ``hexavatar serve`` uses :class:`CoalescingHttpToolsProtocol` as uvicorn's HTTP protocol.

The protocol also answers cached avatars at once. For each request it asks the app's
``answer_at_once(method, path, query, headers)`` hook (``HexavatarApp``, ``web/fastpath.py``)
for an answer made without ASGI; given one, it writes it as uvicorn would (status line, its
``date`` header, the answer's headers and body) and goes on as after any response (keep-alive
timer, the next pipelined request). That skips the request's ASGI scope, task, event and
messages: a third of what a cached avatar costs in the server. Only plain requests are asked
for: GET or HEAD over HTTP/1.1 with keep-alive, no body, no upgrade, no response in progress
or queued before it, the connection not paused for writing. Everything else, and every request
the hook returns None for, takes uvicorn's way.

Why by hand: uvicorn has no such options, and asyncio's transports write at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, cast
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = [
    "FLUSH_BYTES",
    "AnswerAtOnce",
    "CoalescingHttpToolsProtocol",
    "CoalescingTransport",
    "answer_hook",
]

FLUSH_BYTES = 64 * 1024


class CoalescingTransport:
    """A transport that sends what is written in one turn of ``loop`` in one write; every
    other attribute is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()

    def write_now(self, data: bytes) -> None:
        """Write ``data`` at once, after what waits (a whole response made in one piece)."""
        self.flush()
        if not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self._size = 0
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class AnswerAtOnce(Protocol):
    def __call__(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None: ...


def answer_hook(app: Any) -> AnswerAtOnce | None:
    """The ``answer_at_once`` hook of ``app`` or of the app it wraps (uvicorn wraps the app in
    middleware of its own, each holding the next as ``app``), if any."""
    for _ in range(8):
        hook = getattr(app, "answer_at_once", None)
        if callable(hook):
            return cast(AnswerAtOnce, hook)
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport`, answering what the
    app's ``answer_at_once`` hook answers without ASGI (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._wire = CoalescingTransport(transport, self.loop)
        wrapped: Any = self._wire
        super().connection_made(wrapped)
        self._hook = answer_hook(self.app)
        self._answered: bytes | None = None  # the current request's answer, made at once

    def on_headers_complete(self) -> None:
        if self._hook is not None and self._plain_request():
            answer = self._answer_at_once(self._hook)
            if answer is not None:
                self._answered = answer  # written once the request is read to its end
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._answered is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        answer, self._answered = self._answered, None
        if answer is None:
            super().on_message_complete()
            return
        self._wire.write_now(answer)
        self.on_response_complete()  # keep-alive timer, the next pipelined request

    def _plain_request(self) -> bool:
        parser = self.parser
        return (
            parser.get_method() in (b"GET", b"HEAD")
            and parser.get_http_version() == "1.1"
            and parser.should_keep_alive()
            and not parser.should_upgrade()
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.flow.write_paused
            and not self.root_path
            and not any(name in _BODY_HEADERS for name, _ in self.headers)
        )

    def _answer_at_once(self, hook: AnswerAtOnce) -> bytes | None:
        url = httptools.parse_url(self.url)
        path = url.path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        try:
            answer = hook(self.parser.get_method().decode(), path, url.query or b"", self.headers)
        except Exception:  # the ASGI way answers (and reports) it
            self.logger.exception("answer_at_once failed; the request goes the ASGI way")
            return None
        if answer is None:
            return None
        status, headers, body = answer
        lines = [STATUS_LINE[status]]
        for name, value in (*self.server_state.default_headers, *headers):
            lines += (name, b": ", value, b"\r\n")
        lines += (b"\r\n", body)
        return b"".join(lines)


_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
