"""Fixtures for hexavatar.chain tests: one real anvil (DevNode) per session on 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.contract import deploy, install_multicall3
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS, DevNode, find_anvil
from hexavatar.chain.errors import AnvilNotFound
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer


@pytest.fixture(scope="session")
def anvil_bin() -> Path:
    try:
        return find_anvil()
    except AnvilNotFound as exc:  # pragma: no cover - `npm ci` installs it
        if os.environ.get("CI"):
            pytest.fail(f"anvil must be installed in CI (run `npm ci`): {exc}")
        pytest.skip(f"anvil not installed (run `npm ci`): {exc}")


@pytest.fixture(scope="session")
def devnode(tmp_path_factory: pytest.TempPathFactory, anvil_bin: Path) -> Iterator[DevNode]:
    node = DevNode(data_dir=tmp_path_factory.mktemp("anvil"), anvil_bin=anvil_bin)
    with node:
        yield node


@pytest.fixture(scope="session")
def w3(devnode: DevNode) -> Web3:
    web3 = connect(devnode.rpc_url)
    install_multicall3(web3)
    return web3


@pytest.fixture(scope="session")
def deployer() -> Signer:
    return Signer.from_key(DEV_PRIVATE_KEYS[0])


@pytest.fixture(scope="session")
def alice() -> Signer:
    return Signer.from_key(DEV_PRIVATE_KEYS[1])


@pytest.fixture(scope="session")
def bob() -> Signer:
    return Signer.from_key(DEV_PRIVATE_KEYS[2])


@pytest.fixture
def nft(w3: Web3, deployer: Signer) -> Contract:
    """A fresh HexavatarNFT per test; the deployer is admin and minter."""
    address = deploy(w3, account=deployer, name="Hexavatar Test", symbol="HXT")
    return w3.eth.contract(address=address, abi=load_artifact("HexavatarNFT").abi)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs anvil (directly or through ``w3``/``devnode``) as ``chain``."""
    for item in items:
        if "anvil_bin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.chain)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """An HTTP server that records every path asked of it (to prove none was asked)."""

    hits: list[str] = []  # noqa: RUF012 - shared by the handler instances of one test

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data":"0x"}')

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{sender}}/{{data}}", _Recorder.hits
    finally:
        server.shutdown()
        server.server_close()
