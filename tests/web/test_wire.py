"""web/wire.py: the writes of one event-loop turn go out as one, nothing is lost on close, and
uvicorn serves through it (keep-alive and ``Connection: close``), and answers made at once by
the app's hook are written as uvicorn writes answers, only for the requests they may answer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from hexavatar.web.wire import (
    FLUSH_BYTES,
    CoalescingHttpToolsProtocol,
    CoalescingTransport,
    answer_hook,
)
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


# -- answers made at once (the app's ``answer_at_once`` hook) ----------------------------------


class HookedApp:
    """An ASGI app with an ``answer_at_once`` hook: ``/fast`` is answered by the hook, every
    other path (and every request the hook is not asked for) by ASGI, which records it."""

    def __init__(self, *, slow_delay: float = 0.0) -> None:
        self.asked: list[tuple[str, str, bytes]] = []
        self.asgi: list[tuple[str, str]] = []
        self.slow_delay = slow_delay

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Any
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        self.asked.append((method, path, query))
        if path == "/boom":
            raise RuntimeError("the hook failed")
        if path != "/fast":
            return None
        body = b"" if method == "HEAD" else b"fast"
        return 200, [(b"content-type", b"text/plain"), (b"content-length", b"4")], body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.asgi.append((scope["method"], scope["path"]))
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/slow":
            await asyncio.sleep(self.slow_delay)
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def hooked() -> Iterator[tuple[int, HookedApp]]:
    app = HookedApp(slow_delay=0.2)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol, log_config=None,
        lifespan="off", timeout_keep_alive=1,
    )  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_port(port)
    yield port, app
    srv.should_exit = True
    thread.join(10)


def _responses(sock: socket.socket, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Read ``count`` responses (each with a content-length) off ``sock``."""
    data, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(out)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines)
        length = int(headers.get(b"content-length", b"0"))
        while len(data) < length:
            data += sock.recv(65536)
        out.append((status, headers, data[:length]))
        data = data[length:]
    return out


def test_the_hooks_answer_is_written_as_uvicorn_writes_one(hooked: tuple[int, HookedApp]) -> None:
    port, app = hooked
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /fast?size=64 HTTP/1.1\r\nHost: x\r\n\r\n")
        ((status, headers, body),) = _responses(sock, 1)
        sock.sendall(b"HEAD /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        (head_status, head_headers, _), (_, _, other) = _responses(sock, 2)
    assert status == head_status == b"HTTP/1.1 200 OK" and body == b"fast"
    assert headers[b"content-type"] == b"text/plain" and b"date" in headers
    assert head_headers[b"content-length"] == b"4"
    assert other == b"/other"
    assert app.asked[:3] == [("GET", "/fast", b"size=64"), ("HEAD", "/fast", b""),
                             ("GET", "/other", b"")]  # fmt: skip
    assert app.asgi == [("GET", "/other")]  # the hook's answers never reached ASGI


def test_requests_the_hook_is_not_asked_for_take_the_asgi_way(
    hooked: tuple[int, HookedApp],
) -> None:
    port, app = hooked
    requests = [
        b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
        b"GET /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        b"GET /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n",  # asked, but the hook raises
        b"GET /fast HTTP/1.0\r\n\r\n",  # no keep-alive
    ]
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for request in requests:  # one at a time: none waits behind another
            sock.sendall(request)
            answers += _responses(sock, 1)
    assert [body for _, _, body in answers] == [b"/fast", b"/fast", b"/fast", b"/boom", b"/fast"]
    assert app.asgi == [("POST", "/fast"), ("GET", "/fast"), ("GET", "/fast"),
                        ("GET", "/boom"), ("GET", "/fast")]  # fmt: skip
    assert app.asked == [("GET", "/boom", b"")]


def test_pipelined_requests_are_answered_in_order(hooked: tuple[int, HookedApp]) -> None:
    """Requests the hook could answer, pipelined behind one in progress, wait their turn: they
    are not answered at once, but queued as uvicorn queues pipelined requests."""
    port, app = hooked
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        bodies = [body for _, _, body in _responses(sock, 4)]
    assert bodies == [b"/slow", b"/fast", b"/fast", b"/after"]  # all in order, through ASGI
    assert app.asked == [("GET", "/slow", b"")]  # the first; the rest waited behind it


def test_keep_alive_timer_runs_after_answers_made_at_once(hooked: tuple[int, HookedApp]) -> None:
    """The connection stays open between answers and closes once idle for timeout_keep_alive
    (1 s here), however many answers came in one read."""
    port, _ = hooked
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        assert len(_responses(sock, 3)) == 3
        time.sleep(0.6)
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")  # 0.6 s idle: still open
        assert _responses(sock, 1)[0][2] == b"fast"
        started = time.monotonic()
        assert sock.recv(10) == b""  # then closed for idling
        assert 0.5 < time.monotonic() - started < 3


def test_the_hook_is_found_behind_uvicorns_own_middleware() -> None:
    app = HookedApp()

    class Wrapper:
        def __init__(self, inner: Any) -> None:
            self.app = inner

    assert answer_hook(Wrapper(Wrapper(app))) == app.answer_at_once
    assert answer_hook(Wrapper(_app)) is None
