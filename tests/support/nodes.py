"""A stand-in HTTP node on 127.0.0.1 for tests of nodes that fail: every POST is answered by a
function of the request's path and body (HTTP/1.0: one request per connection)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .services import free_port

Answer = Callable[[str, bytes], tuple[int, bytes]]  # (path, body) → (status, body)


class StubNode:
    """Answers POSTs on ``port`` (a free one by default) with ``answer``; :meth:`stop` closes
    the port and :meth:`start` opens the same one again."""

    def __init__(
        self, answer: Answer, *, content_type: str = "application/json", port: int | None = None
    ) -> None:
        self.answer = answer
        self.content_type = content_type
        self.port = port if port is not None else free_port()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> StubNode:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, data = node.answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", node.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
