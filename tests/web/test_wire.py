"""web/wire.py: the writes of one event-loop turn go out as one, nothing is lost on close, and
uvicorn serves through it (keep-alive and ``Connection: close``)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from hexavatar.web.wire import FLUSH_BYTES, CoalescingHttpToolsProtocol, CoalescingTransport
from tests.support.services import free_port, wait_port


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def write_eof(self) -> None:
        self.eof = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def _run(test: Any) -> None:
    asyncio.run(test())


def test_writes_of_one_turn_go_out_together() -> None:
    async def test() -> None:
        fake = FakeTransport()
        t = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
        t.write(b"body")
        assert fake.writes == [] and t.get_write_buffer_size() == 42
        await asyncio.sleep(0)  # the end of the turn
        assert fake.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"]
        t.write(b"next")
        await asyncio.sleep(0)
        assert fake.writes[1:] == [b"next"]  # nothing held across turns

    _run(test)


def test_close_and_eof_send_what_waits_first_abort_drops_it() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        fake = FakeTransport()
        t = CoalescingTransport(fake, loop)  # type: ignore[arg-type]
        t.writelines([b"a", b"b"])
        t.close()
        assert fake.writes == [b"ab"] and fake.closed
        other = FakeTransport()
        t2 = CoalescingTransport(other, loop)  # type: ignore[arg-type]
        t2.write(b"x")
        t2.write_eof()
        assert other.writes == [b"x"] and other.eof
        third = FakeTransport()
        t3 = CoalescingTransport(third, loop)  # type: ignore[arg-type]
        t3.write(b"never")
        t3.abort()
        await asyncio.sleep(0)
        assert third.writes == [] and third.aborted
        assert t3.get_extra_info("sockname") == ("127.0.0.1", 8000)  # the rest: delegated

    _run(test)


def test_a_large_write_goes_out_at_once() -> None:
    async def test() -> None:
        fake = FakeTransport()
        t = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"h" * 100)
        t.write(b"b" * FLUSH_BYTES)
        assert [len(w) for w in fake.writes] == [100 + FLUSH_BYTES]
        await asyncio.sleep(0)
        assert len(fake.writes) == 1

    _run(test)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b"x" * 5000
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol, log_config=None,
        lifespan="off",
    )  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_port(port)
    yield port
    srv.should_exit = True
    thread.join(10)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 5000:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_uvicorn_serves_through_it(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        for _ in range(2):  # keep-alive: two responses on one connection
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response = _read_response(sock)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n")
            assert response.endswith(b"x" * 5000) and len(response.split(b"\r\n\r\n")[1]) == 5000
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = _read_response(sock)
        assert response.endswith(b"x" * 5000)  # all of it, then the close
        assert sock.recv(10) == b""
