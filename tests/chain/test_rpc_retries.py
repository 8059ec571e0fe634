"""chain/rpc.py's retries: a read that timed out is not retried (a silent node costs one
timeout, not five), a node answering HTTP errors is asked three times in all."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from hexavatar.chain.errors import ChainUnavailable
from hexavatar.chain.rpc import chain_id_of, connect
from tests.support.nodes import StubNode


@pytest.fixture
def silent() -> Iterator[tuple[str, list[socket.socket]]]:
    """A node that accepts connections (each one recorded) and never answers."""
    accepted: list[socket.socket] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def test_a_timed_out_read_is_not_retried(silent: tuple[str, list[socket.socket]]) -> None:
    url, accepted = silent
    with pytest.raises(ChainUnavailable, match="did not answer in time"):
        chain_id_of(connect(url, timeout=0.3))
    assert len(accepted) == 1


def test_http_errors_are_tried_three_times() -> None:
    asked: list[str] = []

    def answer(path: str, _body: bytes) -> tuple[int, bytes]:
        asked.append(path)
        return 502, b""

    node = StubNode(answer).start()
    try:
        with pytest.raises(ChainUnavailable, match="502"):
            chain_id_of(connect(f"http://127.0.0.1:{node.port}", timeout=2))
    finally:
        node.stop()
    assert len(asked) == 3
