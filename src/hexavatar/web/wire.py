"""One write per response on the wire: uvicorn's httptools protocol, with the writes made during
one turn of the event loop sent together.

uvicorn writes a response's status line and headers as soon as the app sends them, then the
body: two system calls and two TCP segments for a response that fits in one (a cached avatar
is a few kilobytes). Both writes happen in the same turn of the event loop, so
:class:`CoalescingTransport` keeps what is written during a turn and writes it at the end of
the turn in one call: at once when it reaches ``FLUSH_BYTES``, and before the connection is
closed or handed to another protocol. Nothing is held across turns, so nothing waits for more
data. ``hexavatar serve`` uses :class:`CoalescingHttpToolsProtocol` as uvicorn's HTTP protocol.

Why by hand: uvicorn has no such option, and asyncio's transports write at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["FLUSH_BYTES", "CoalescingHttpToolsProtocol", "CoalescingTransport"]

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


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)
