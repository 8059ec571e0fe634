"""Browser tests: Debian's Chromium driven by Playwright (no browser download), headless,
against the service served by uvicorn on 127.0.0.1 with the session's anvil.

The wallet is a test double of an EIP-1193 provider injected into every page: it answers
``eth_requestAccounts``, ``eth_accounts``, ``personal_sign`` and ``eth_chainId`` by forwarding
them to anvil's JSON-RPC (anvil signs for its unlocked dev accounts), exposes one account, and
refuses every other method, so a page that asked for a transaction would fail. The calls go
through a Playwright binding to this process, so the page's Content-Security-Policy applies
unchanged. Screenshots land in ``artifacts/e2e/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hexavatar.app import create_app
from hexavatar.config import load_settings
from tests.conftest import DevChain

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
WALLET_METHODS = frozenset({"eth_requestAccounts", "eth_accounts", "personal_sign", "eth_chainId"})

_PROVIDER = """
(() => {
  const allowed = %s;
  const request = async ({ method, params }) => {
    if (!allowed.includes(method)) {
      await window.__testWallet(method, params || []);  // recorded, then refused
      throw Object.assign(new Error("method not supported: " + method), { code: 4200 });
    }
    const reply = await window.__testWallet(method, params || []);
    if (reply.error) {
      throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    }
    return reply.result;
  };
  window.ethereum = { isTestWallet: true, request, on() {}, removeListener() {} };
})();
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium; missing Chromium fails the run in CI and skips elsewhere.
    Module-scoped: Playwright's event loop is gone before other tests run."""
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (Debian package chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def serve(make_app: Callable[[str], Any]) -> Iterator[str]:
    """Serve ``make_app(base_url)`` with uvicorn on a socket bound first, so the app knows its
    own public URL (the SIWE domain, the page origin) before it starts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(make_app(base), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def base_url(tmp_path: Path, dev_chain: DevChain) -> Iterator[str]:
    """The service on 127.0.0.1 (SQLite, local objects) minting on the session's anvil."""

    def make(base: str) -> Any:
        settings = load_settings(
            data_dir=str(tmp_path / "data"), public_url=base, **dev_chain.settings()
        )
        return create_app(settings)

    with serve(make) as base:
        yield base


@dataclass
class AnvilWallet:
    """An EIP-1193 wallet backed by anvil: one account, read-only methods only."""

    rpc_url: str
    address: str
    calls: list[str] = field(default_factory=list)

    def handle(self, _source: Any, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method not in WALLET_METHODS:
            return {"error": {"code": 4200, "message": f"unsupported: {method}"}}
        if method in ("eth_requestAccounts", "eth_accounts"):
            accounts = self._rpc("eth_accounts", [])["result"]
            assert self.address.lower() in [a.lower() for a in accounts]
            return {"result": [self.address.lower()]}  # as browser wallets give it
        return self._rpc(method, params)

    def _rpc(self, method: str, params: list[Any]) -> dict[str, Any]:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        req = urllib.request.Request(
            self.rpc_url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            reply: dict[str, Any] = json.loads(resp.read())
        return reply


def install_wallet(context: Any, wallet: AnvilWallet) -> None:
    context.expose_binding("__testWallet", wallet.handle)
    context.add_init_script(_PROVIDER % json.dumps(sorted(WALLET_METHODS)))


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
