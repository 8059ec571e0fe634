"""An RPC URL often carries an API key in its path and a password in its user-info, and every
transport error of requests/web3 quotes that URL (or the node's answer, which may echo it). No
message built from a node failure may: not the exception a chain function raises, nor its
traceback (what a log shows), nor a mint's ``error.message`` (API and CLI), nor a log record.
Each message still says what was asked of the node and how it failed.

Every node is real and on 127.0.0.1: a closed port, a listener answering HTTP 502 or HTML that
echoes the request path (API key included), one that never answers, and a relay to the
session's anvil that fails chosen methods.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner
from web3 import Web3

from hexavatar.app import create_app
from hexavatar.chain.contract import ensure_deployed, install_multicall3
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS
from hexavatar.chain.errors import ChainUnavailable
from hexavatar.chain.minter import CODEC_RAW, Fees, Minter, send_raw, suggest_fees, wait_receipt
from hexavatar.chain.rpc import block_number, chain_id_of, connect
from hexavatar.chain.signer import Signer
from hexavatar.cli import app as cli
from hexavatar.config import Settings, load_settings
from tests.conftest import DevChain
from tests.services.test_nft_avatars_chain_down import Relay
from tests.support.keys import dev_address
from tests.support.nodes import StubNode
from tests.support.services import free_port
from tests.web.conftest import signup
from tests.web.test_nfts import mint, png

PASSWORD, API_KEY = "s3cret", "APIKEY123"
OWNER = dev_address(12)
SIGNER = Signer.from_key(DEV_PRIVATE_KEYS[0])
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # the calls fail before it matters
_HTML = (200, b"<html>upstream busy</html>")


def secret_url(port: int) -> str:
    """An RPC URL as node providers hand them out: a password and an API key in it."""
    return f"http://user:{PASSWORD}@127.0.0.1:{port}/v3/{API_KEY}"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (PASSWORD, API_KEY):
            assert secret not in text, f"{secret!r} leaked: {text[:400]!r}"


def everything_shown(exc: BaseException) -> str:
    """All a caller or a log can show of ``exc``: its text, its repr and its traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


# -- failing nodes -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailingNode:
    url: str
    says: str  # how a message must say the node failed


FAILURES = {
    "closed port": "could not be reached (ConnectionError)",
    "HTTP 502": "answered HTTP 502",
    "HTML echoing the path": "answered something that is not a JSON-RPC result (JSONDecodeError)",
}


def _listener(status: int) -> StubNode:
    """A node answering every request ``status`` with a body that echoes the request's path
    (as proxies' error pages do): the API key is in the transport error twice."""

    def answer(path: str, _body: bytes) -> tuple[int, bytes]:
        return status, f"<html>no upstream for {path}</html>".encode()

    return StubNode(answer, content_type="text/html").start()


@pytest.fixture(params=list(FAILURES))
def node(request: pytest.FixtureRequest) -> Iterator[FailingNode]:
    kind: str = request.param
    if kind == "closed port":
        yield FailingNode(secret_url(free_port()), FAILURES[kind])
        return
    server = _listener(502 if kind == "HTTP 502" else 200)
    try:
        yield FailingNode(secret_url(server.port), FAILURES[kind])
    finally:
        server.stop()


# -- chain functions -----------------------------------------------------------------------


def _without_retries(url: str) -> Web3:
    """web3's retries (~2 s of back-off a call) end in the same error; the connect() and mint
    tests below keep them."""
    w3 = connect(url, timeout=5)
    w3.provider.exception_retry_configuration = None  # type: ignore[attr-defined]
    return w3


def _minter(w3: Web3, *, chain_id: int | None = 31337) -> Minter:
    return Minter(w3, signer=SIGNER, contract=CONTRACT, chain_id=chain_id)


def _raw_tx() -> bytes:
    tx = {"type": 2, "chainId": 31337, "nonce": 0, "to": OWNER, "value": 0, "gas": 21_000,
          "maxFeePerGas": 10**9, "maxPriorityFeePerGas": 1, "data": "0x"}  # fmt: skip
    return SIGNER.sign_transaction(tx).raw


def _mint_tx(w3: Web3, fees: Fees | None) -> object:
    return _minter(w3).build_mint_tx(
        to=OWNER, digest=bytes(32), codec=CODEC_RAW, nonce=0, fees=fees
    )


# operation → (what its message must name, the call)
OPERATIONS: dict[str, tuple[str, Callable[[Web3, Path], object]]] = {
    "chain_id_of": ("eth_chainId", lambda w3, _: chain_id_of(w3)),
    "block_number": ("eth_blockNumber", lambda w3, _: block_number(w3)),
    "suggest_fees": ("fees", lambda w3, _: suggest_fees(w3)),
    "send_raw": ("eth_sendRawTransaction", lambda w3, _: send_raw(w3, _raw_tx())),
    "wait_receipt": (
        "eth_getTransactionReceipt",
        lambda w3, _: wait_receipt(w3, "0x" + "ab" * 32, timeout=5),
    ),
    "Minter.chain_id": ("eth_chainId", lambda w3, _: _minter(w3, chain_id=None).chain_id),
    "Minter.next_nonce": ("eth_getTransactionCount", lambda w3, _: _minter(w3).next_nonce()),
    "Minter.build_mint_tx, fees": ("fees", lambda w3, _: _mint_tx(w3, None)),
    "Minter.build_mint_tx, gas": ("eth_estimateGas", lambda w3, _: _mint_tx(w3, Fees(2, 1))),
    "ensure_deployed": (
        "eth_chainId",
        lambda w3, tmp: ensure_deployed(w3, account=SIGNER, data_dir=tmp),
    ),
    "install_multicall3": ("eth_getCode", lambda w3, _: install_multicall3(w3)),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failing_node_is_described_never_quoted(
    node: FailingNode, operation: str, tmp_path: Path
) -> None:
    what, call = OPERATIONS[operation]
    with pytest.raises(ChainUnavailable) as info:
        call(_without_retries(node.url), tmp_path)
    message = str(info.value)
    assert what in message and node.says in message, message
    assert_no_secret(everything_shown(info.value))
    # The transport's own error does quote the URL: it stays reachable for debugging, but no
    # message, repr or traceback shows it.
    assert API_KEY in str(info.value.__context__)


def test_connect_with_web3_retries_names_how_the_node_failed(node: FailingNode) -> None:
    with pytest.raises(ChainUnavailable) as info:
        chain_id_of(connect(node.url, timeout=5))
    assert str(info.value) == f"expected the node to answer eth_chainId, it {node.says}"
    assert_no_secret(everything_shown(info.value))


def test_a_node_that_never_answers_is_a_timeout_without_its_url() -> None:
    with socket.socket() as silent:  # the kernel accepts the connections; nobody answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        w3 = connect(secret_url(silent.getsockname()[1]), timeout=0.2)
        with pytest.raises(ChainUnavailable) as info:
            _minter(w3).next_nonce()
    assert "eth_getTransactionCount" in str(info.value)
    assert "did not answer in time" in str(info.value)
    assert_no_secret(everything_shown(info.value))


# -- the minting service, over HTTP and from the CLI ---------------------------------------


@pytest.fixture
def relay(dev_chain: DevChain) -> Iterator[Relay]:
    r = Relay(dev_chain.rpc_url)
    r.url = secret_url(r.port)
    r.start()
    yield r
    r.stop()


def _settings(tmp_path: Path, dev_chain: DevChain, rpc_url: str) -> Settings:
    chain = {**dev_chain.settings(), "chain_rpc_url": rpc_url}
    return load_settings(data_dir=str(tmp_path / "data"), public_url="http://testserver", **chain)


# break → (the relay's broken answers, or None: its port closed; what the message names; how)
BREAKS: dict[str, tuple[dict[str, tuple[int, bytes]] | None, str, str]] = {
    "node down": (None, "eth_getTransactionCount", "could not be reached"),
    "every answer HTTP 502": ({"*": (502, b"")}, "eth_getTransactionCount", "answered HTTP 502"),
    "every answer HTML": ({"*": _HTML}, "eth_getTransactionCount", "not a JSON-RPC result"),
    "fees HTML": ({"eth_maxPriorityFeePerGas": _HTML}, "fees", "not a JSON-RPC result"),
    "gas estimate HTTP 502": ({"eth_estimateGas": (502, b"")}, "eth_estimateGas", "HTTP 502"),
    "receipt HTTP 502": (
        {"eth_getTransactionReceipt": (502, b"")},
        "eth_getTransactionReceipt",
        "answered HTTP 502",
    ),
    "send HTTP 502": (
        {"eth_sendRawTransaction": (502, b"")},
        "eth_sendRawTransaction",
        "answered HTTP 502",
    ),
}


def _break(relay: Relay, broken: dict[str, tuple[int, bytes]] | None) -> None:
    if broken is None:
        relay.stop()
    else:
        relay.broken.update(broken)


def _heal(relay: Relay, broken: dict[str, tuple[int, bytes]] | None) -> None:
    if broken is None:
        relay.start()
    else:
        relay.broken.clear()


@pytest.mark.parametrize("where", list(BREAKS))
def test_a_mint_on_a_failing_node_says_what_failed_and_keeps_the_url_secret(
    tmp_path: Path,
    dev_chain: DevChain,
    relay: Relay,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    broken, what, how = BREAKS[where]
    with TestClient(create_app(_settings(tmp_path, dev_chain, relay.url))) as client:
        caplog.set_level(logging.INFO)
        signup(client)
        _break(relay, broken)
        r = mint(client, image=png("teal"), to=OWNER, key=where)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "chain_unavailable"
        assert what in r.json()["error"]["message"] and how in r.json()["error"]["message"]
        (saved,) = client.get("/api/v1/me/mints").json()
        got = client.get(f"/api/v1/nfts/{saved['id']}")  # a signed mint is retried here
        error = got.json()["error"]
        assert error["code"] == "chain_unavailable"
        assert what in error["message"] and how in error["message"], error
        logged = [rec.getMessage() for rec in caplog.records if saved["id"] in rec.getMessage()]
        assert logged and what in logged[0]  # the operator's log says it too
        assert_no_secret(r.text, json.dumps(saved), got.text, caplog.text)
        # The node is back: the same request finishes the saved mint.
        _heal(relay, broken)
        again = mint(client, image=png("teal"), to=OWNER, key=where)
        assert again.status_code in (200, 201), again.text
        assert again.json()["id"] == saved["id"] and again.json()["status"] == "confirmed"
        assert again.json()["error"] is None


def test_a_service_that_cannot_reach_its_node_fails_to_start_without_the_url(
    tmp_path: Path, dev_chain: DevChain
) -> None:
    settings = _settings(tmp_path, dev_chain, secret_url(free_port()))
    with pytest.raises(ChainUnavailable) as info, TestClient(create_app(settings)):
        pass
    assert "eth_chainId" in str(info.value) and "could not be reached" in str(info.value)
    assert_no_secret(everything_shown(info.value))  # the start-up failure's logged traceback


def _cli_env(tmp_path: Path, dev_chain: DevChain, rpc_url: str) -> dict[str, str]:
    env = {"HEXAVATAR_DATA_DIR": str(tmp_path / "data")}
    for key, value in {**dev_chain.settings(), "chain_rpc_url": rpc_url}.items():
        env[f"HEXAVATAR_{key.upper()}"] = str(value)
    return env


def _cli_mint(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    image = tmp_path / "i.png"
    Image.new("RGB", (64, 64), "navy").save(image)
    args = ["mint", str(image), "--name", "Navy", "--to", OWNER, "--json"]
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1]), result.output


def test_cli_mint_with_a_node_down_names_the_failure_not_the_url(
    tmp_path: Path, dev_chain: DevChain
) -> None:
    code, out, output = _cli_mint(tmp_path, _cli_env(tmp_path, dev_chain, secret_url(free_port())))
    assert code == 1 and out["error"]["code"] == "chain_unavailable"
    assert out["error"]["message"] == (
        "expected the node to answer eth_chainId, it could not be reached (ConnectionError)"
    )
    assert_no_secret(output)


def test_cli_mint_with_a_failing_gas_estimate_names_the_failure_not_the_url(
    tmp_path: Path, dev_chain: DevChain, relay: Relay
) -> None:
    relay.broken["eth_estimateGas"] = (502, b"")
    code, out, output = _cli_mint(tmp_path, _cli_env(tmp_path, dev_chain, relay.url))
    assert code == 1 and out["error"]["code"] == "chain_unavailable"
    assert "eth_estimateGas" in out["error"]["message"]
    assert "answered HTTP 502" in out["error"]["message"]
    assert "is saved and will be retried" in out["error"]["message"]
    assert_no_secret(output)
