"""Helpers of the gateway, fetch and CLI tests: a real HTTP server on 127.0.0.1 in a thread,
and a minimal app that mounts the gateway router as the lead's app will."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.errors import IpfsError
from hexavatar.web import gateway
from hexavatar.web.errors import install_error_handlers


def gateway_app(blockstore: Any, *, prefix: str = "") -> FastAPI:
    """A FastAPI app with the gateway router, its errors mapped by web/errors.py (the app's)."""
    app = FastAPI()
    app.state.services = SimpleNamespace(blockstore=blockstore)
    app.include_router(gateway.router, prefix=prefix)
    install_error_handlers(app, coded=(IpfsError,))
    return app


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_helper_server_listens_on_loopback_only() -> None:
    with serve(gateway_app(MemoryBlockstore())) as base:
        assert base.startswith("http://127.0.0.1:")
        response = httpx.get(f"{base}/ipfs/bafkqaaa?format=raw")
        assert response.status_code == 200
        assert response.content == b""
