"""Scripted HTTP servers on 127.0.0.1 for the fetcher tests (threads, raw sockets).

Each server runs a ``script(server, request, conn)`` per connection: ``request`` is the raw request
head, ``conn`` the socket to answer on. ``Listener`` is a bare listening socket that never
accepts, so a test can prove no TCP connection reached it (the kernel would queue one).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Script = Callable[["Server", bytes, socket.socket], None]


@dataclass
class Server:
    port: int
    requests: list[bytes] = field(default_factory=list)
    sent: list[int] = field(default_factory=lambda: [0])
    stop: threading.Event = field(default_factory=threading.Event)
    sni: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _serve_one(server: Server, conn: socket.socket, script: Script) -> None:
    with contextlib.suppress(OSError), conn:
        head = _read_head(conn)
        if head:
            server.requests.append(head)
            script(server, head, conn)


@contextlib.contextmanager
def serve(script: Script, *, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """Run ``script`` for every connection to a fresh 127.0.0.1 port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    server = Server(port=sock.getsockname()[1])
    if tls is not None:
        tls.sni_callback = lambda ssl_sock, name, ctx: server.sni.append(name)

    def loop() -> None:
        while not server.stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.settimeout(30)
            if tls is not None:
                try:
                    conn = tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    continue
            threading.Thread(target=_serve_one, args=(server, conn, script), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        thread.join(5)
        sock.close()


@contextlib.contextmanager
def listener() -> Iterator[tuple[int, Callable[[], int]]]:
    """A port that listens but never accepts, and a function counting queued connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)

    def pending() -> int:
        count = 0
        while True:
            try:
                conn, _ = sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    try:
        yield sock.getsockname()[1], pending
    finally:
        sock.close()


def respond(status: str, headers: dict[str, str], body: bytes = b"") -> Script:
    def script(server: Server, request: bytes, conn: socket.socket) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
        if "Content-Length" not in headers:
            lines.append(f"Content-Length: {len(body)}")
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return script


def redirect(location: str, status: str = "302 Found") -> Script:
    return respond(status, {"Location": location})


def endless(*, declared: int | None = None) -> Script:
    """Send 64 KiB chunks (up to 1 GiB) until the client hangs up; count bytes sent."""

    def script(server: Server, request: bytes, conn: socket.socket) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        head += f"Content-Length: {declared}\r\n" if declared else "Connection: close\r\n"
        conn.sendall((head + "\r\n").encode())
        chunk = b"\0" * 65536
        for _ in range(2**30 // len(chunk)):
            conn.sendall(chunk)
            server.sent[0] += len(chunk)

    return script


def stall() -> Script:
    """Send the headers and a few bytes, then say nothing until the test ends."""

    def script(server: Server, request: bytes, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        server.stop.wait(30)

    return script
