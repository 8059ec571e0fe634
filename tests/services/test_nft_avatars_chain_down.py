"""A chain whose node is down, too slow or answers garbage: NFT avatar operations answer 503
``chain_unavailable`` naming the chain (never the RPC URL, which here carries a password and
an API key) and change nothing; the ownership watcher skips that chain for the round, goes on
with the others, and does the re-verification it owes once the node is back.

Every node is real and on 127.0.0.1: a closed port, a listener that never answers, or a relay
to the session's anvil that can close its port or answer garbage for chosen methods.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from hexavatar.app import build_services, build_watcher, create_app
from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.errors import ChainUnavailable, TokenNotFound
from hexavatar.chain.rpc import connect
from hexavatar.chain.siwe import build_message
from hexavatar.chain.tokens import owner_of
from hexavatar.config import Settings, load_settings
from hexavatar.services.errors import InvalidInput
from hexavatar.services.nft_avatars import parse_ref
from hexavatar.services.watcher import WatchReport
from hexavatar.web.errors import STATUS_BY_CODE
from tests.conftest import DevChain
from tests.support.chain import transact
from tests.support.keys import dev_address, dev_key
from tests.support.nodes import StubNode
from tests.support.services import free_port
from tests.web.conftest import jpeg_bytes, signup
from tests.web.test_nft_avatars import BUYER, OWNER, OWNER_KEY, link_wallet, mint_to

SECRET = "s3cret-api-key"
OTHER = 5  # the chain ID the failing nodes are configured under
BUYER_KEY = dev_key(8)
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the env


def _rpc_url(port: int) -> str:
    """An RPC URL as providers hand them out: a password and an API key in it."""
    return f"http://rpc-user:{SECRET}@127.0.0.1:{port}/v3/{SECRET}"


class Relay:
    """A JSON-RPC relay on 127.0.0.1 to anvil. ``broken`` maps a method (``"*"``: every method)
    to the raw HTTP status and body answered instead; :meth:`stop` closes the port, and
    :meth:`start` opens the same port again."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.broken: dict[str, tuple[int, bytes]] = {}
        self._node = StubNode(self._answer)
        self.port = self._node.port
        self.url = _rpc_url(self.port)
        self.start, self.stop = self._node.start, self._node.stop

    def _answer(self, _path: str, body: bytes) -> tuple[int, bytes]:
        request_json = json.loads(body)
        broken = self.broken.get(request_json.get("method")) or self.broken.get("*")
        if broken is not None:  # a JSON-RPC answer gets the request's id
            status, data = broken
            return status, data.replace(
                b'"id":0', b'"id":' + json.dumps(request_json["id"]).encode()
            )
        request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with _DIRECT.open(request, timeout=10) as r:
            return r.status, r.read()


@pytest.fixture
def relay(dev_chain: DevChain) -> Iterator[Relay]:
    r = Relay(dev_chain.rpc_url)
    r.start()
    yield r
    r.stop()


def _settings(
    storage_config: dict[str, str], dev_chain: DevChain, rpc_url: str, **more: Any
) -> Settings:
    options = {**storage_config, **dev_chain.settings(), **more}
    return load_settings(**options, public_url="http://testserver", chains={OTHER: rpc_url})


def _is_unavailable(r: httpx.Response, chain_id: int = OTHER) -> None:
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert set(error) == {"code", "message"} and error["code"] == "chain_unavailable"
    assert f"chain {chain_id} is unavailable" in error["message"]
    assert SECRET not in r.text and "rpc-user" not in r.text


def _avatar(client: TestClient) -> Any:
    """Alice's avatar as her profile shows it, less when the watcher last re-verified it."""
    avatar = client.get("/api/v1/users/alice").json()["avatar"]
    for key in ("checked_at", "checked_block"):
        (avatar.get("provenance") or {}).pop(key, None)
    return avatar


def _ref(chain_id: int, minted: dict[str, Any]) -> str:
    return f"eip155:{chain_id}/erc721:{minted['contract']}/{minted['token_id']}"


_HTML = (200, b"<html>upstream busy</html>")
_BROKEN: dict[str, dict[str, tuple[int, bytes]]] = {
    "every answer garbage": {"*": _HTML},
    "no block number": {"eth_blockNumber": (200, b'{"jsonrpc":"2.0","id":0,"result":null}')},
    # The head answers; the node fails later, at the ownership call.
    "eth_call garbage": {"eth_call": _HTML},
    "eth_call HTTP 502": {"eth_call": (502, b"")},
    # The node's own JSON-RPC error (a rate limit): no answer about the token, not a revert.
    "eth_call rate limited": {
        "eth_call": (
            200,
            b'{"jsonrpc":"2.0","id":0,"error":{"code":-32005,"message":"limit exceeded"}}',
        )
    },
}


@pytest.mark.parametrize("failure", ["closed port", *_BROKEN])
def test_setting_an_nft_on_a_failing_node_is_503_and_keeps_the_avatar(
    storage_config: dict[str, str], dev_chain: DevChain, relay: Relay, failure: str
) -> None:
    if failure == "closed port":
        url = _rpc_url(free_port())
    else:
        relay.broken.update(_BROKEN[failure])
        url = relay.url
    settings = _settings(storage_config, dev_chain, url)
    with TestClient(create_app(settings)) as client:
        signup(client)
        minted = mint_to(client, OWNER)
        link_wallet(client)
        assert client.put("/api/v1/me/avatar/nft", json={"ref": _ref(31337, minted)}).is_success
        before = _avatar(client)
        tag = client.get("/u/alice/avatar?size=64").headers["etag"]
        # The same token, read through the failing node configured as chain 5.
        r = client.put("/api/v1/me/avatar/nft", json={"ref": _ref(OTHER, minted)})
        _is_unavailable(r)
        assert _avatar(client) == before and before["provenance"]["ref"] == _ref(31337, minted)
        assert client.get("/u/alice/avatar?size=64").headers["etag"] == tag
        status = client.get("/api/v1/users/alice/avatar/status").json()
        assert status["showing"] == "nft" and status["nft"]["status"] == "active"


def test_a_node_that_never_answers_is_503_after_the_timeout(
    storage_config: dict[str, str], dev_chain: DevChain
) -> None:
    with socket.socket() as silent:  # the kernel accepts the connections; nobody answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = _rpc_url(silent.getsockname()[1])
        settings = _settings(storage_config, dev_chain, url, chain_timeout_seconds=0.3)
        with TestClient(create_app(settings)) as client:
            signup(client)
            upload = client.post(
                "/api/v1/me/avatar", files={"file": ("u.jpg", jpeg_bytes(), "image/jpeg")}
            )
            assert upload.is_success, upload.text
            before = _avatar(client)
            link_wallet(client)
            ref = f"eip155:{OTHER}/erc721:{dev_chain.contract}/1"
            r = client.put("/api/v1/me/avatar/nft", json={"ref": ref})
            _is_unavailable(r)
            assert "did not answer in time" in r.json()["error"]["message"]
            assert _avatar(client) == before and before["kind"] == "upload"


def test_unlinking_a_wallet_while_its_chain_is_down_keeps_the_avatar(
    storage_config: dict[str, str], dev_chain: DevChain, relay: Relay
) -> None:
    with TestClient(create_app(_settings(storage_config, dev_chain, relay.url))) as client:
        signup(client)
        minted = mint_to(client, OWNER)
        link_wallet(client)
        r = client.put("/api/v1/me/avatar/nft", json={"ref": _ref(OTHER, minted)})
        assert r.status_code == 200, r.text
        relay.stop()
        # The unlink is done; ownership cannot be read, so nothing is dropped on a guess (the
        # watcher's full re-verification decides once the node answers).
        assert client.delete(f"/api/v1/me/wallets/{OWNER}").status_code == 204
        assert client.get("/api/v1/me/wallets").json() == []
        assert _avatar(client)["provenance"]["ref"] == _ref(OTHER, minted)


def test_the_picker_and_contract_wallet_links_are_503_when_the_service_chain_is_down(
    storage_config: dict[str, str], dev_chain: DevChain, relay: Relay
) -> None:
    settings = _settings(storage_config, dev_chain, _rpc_url(free_port()), chain_rpc_url=relay.url)
    with TestClient(create_app(settings)) as client:
        signup(client)
        link_wallet(client)
        relay.stop()
        _is_unavailable(client.get("/api/v1/me/nfts"), chain_id=31337)
        info = client.get("/api/v1/auth/siwe/nonce").json()
        text = build_message(
            scheme="http", domain=info["domain"], address=dev_address(3), uri=info["uri"],
            chain_id=31337, nonce=info["nonce"], issued_at=datetime.now(UTC),
        ).to_text()  # fmt: skip
        # Not account 3's own signature: only its chain could say (EIP-1271) that it is valid.
        sig = "0x" + Account.sign_message(encode_defunct(text=text), OWNER_KEY).signature.hex()
        r = client.post("/api/v1/me/wallets", json={"message": text, "signature": sig})
        _is_unavailable(r, chain_id=31337)
        assert [w["address"] for w in client.get("/api/v1/me/wallets").json()] == [OWNER]


def test_the_watcher_skips_a_dead_chain_keeps_its_avatars_and_catches_up(
    storage_config: dict[str, str], dev_chain: DevChain, relay: Relay
) -> None:
    settings = _settings(storage_config, dev_chain, relay.url)
    with TestClient(create_app(settings)) as client:
        signup(client)  # alice: an NFT avatar read through chain 5's node
        kept = mint_to(client, OWNER)
        link_wallet(client)
        assert client.put("/api/v1/me/avatar/nft", json={"ref": _ref(OTHER, kept)}).is_success
        signup(client, "bob")  # bob: one on chain 31337, which he is about to give away
        gone = mint_to(client, BUYER)
        link_wallet(client, BUYER_KEY)
        assert client.put("/api/v1/me/avatar/nft", json={"ref": _ref(31337, gone)}).is_success
    relay.stop()  # chain 5's node is down from here on
    w3 = connect(dev_chain.rpc_url)
    nft = w3.eth.contract(address=gone["contract"], abi=load_artifact("HexavatarNFT").abi)
    call = nft.functions.transferFrom(BUYER, OWNER, gone["token_id"])
    transfer_block = transact(w3, BUYER_KEY, call)["blockNumber"]
    services = build_services(settings, with_chain=True)
    try:
        alice = services.avatars.current("alice")[0].id
        bob = services.avatars.current("bob")[0].id
        reports: list[WatchReport] = []
        watcher = build_watcher(services, on_report=reports.append)
        stop = threading.Event()
        loop = threading.Thread(target=watcher.run_forever, args=(stop,), kwargs={"interval": 0})
        loop.start()
        deadline = time.monotonic() + 20
        while len(reports) < 3:
            assert loop.is_alive(), "the watcher loop died"
            assert time.monotonic() < deadline, "the watcher finished no round"
            time.sleep(0.02)
        stop.set()
        loop.join(timeout=10)
        # Every round skipped chain 5 and went on with 31337: bob's avatar is dropped there.
        assert all(OTHER in r.unavailable and r.leader for r in reports[:3])
        assert f"chain {OTHER} is unavailable" in reports[0].unavailable[OTHER]
        assert 31337 in reports[0].chains and OTHER not in reports[0].chains
        dropped = services.nft_avatars.latest(bob)
        assert dropped is not None and dropped.status == "dropped"
        assert reports[0].dropped == [dropped.id]
        held = services.nft_avatars.active(alice)  # not re-verified while its node is down
        assert held is not None and held.checked_block < transfer_block
        # The node is back: the full re-verification chain 5 missed is done now, although the
        # next full round is minutes away and no transfer touched alice's token.
        relay.start()
        report = watcher.run_once()
        assert report.unavailable == {} and OTHER in report.chains and report.dropped == []
        after = services.nft_avatars.active(alice)
        assert after is not None and after.id == held.id and after.checked_block >= transfer_block
    finally:
        services.close()


def test_a_non_http_rpc_url_is_refused_without_quoting_its_secrets() -> None:
    with pytest.raises(ChainUnavailable) as info:
        connect(f"ws://rpc-user:{SECRET}@127.0.0.1:1/v3/{SECRET}")
    assert SECRET not in str(info.value) and "ws://127.0.0.1:1" in str(info.value)


def test_an_unparsable_reference_is_answered_as_bad_nft_ref() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_ref("eip155:1/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3/1")
    assert info.value.code == "invalid_nft_ref"
    assert STATUS_BY_CODE[info.value.code] == STATUS_BY_CODE["bad_nft_ref"] == 422


def test_a_nodes_own_error_is_unavailability_and_a_revert_is_an_answer(
    dev_chain: DevChain, relay: Relay
) -> None:
    """A JSON-RPC error the node gives for its own trouble (a rate limit) says nothing about the
    token: ChainUnavailable, never TokenNotFound (which takes an avatar down). A revert from the
    contract, through the same relay, is still the answer "no such token"."""
    w3 = connect(relay.url)
    with pytest.raises(TokenNotFound):
        owner_of(w3, dev_chain.contract, 10**9)  # never minted: the contract reverts
    relay.broken.update(_BROKEN["eth_call rate limited"])
    with pytest.raises(ChainUnavailable, match="limit exceeded") as info:
        owner_of(w3, dev_chain.contract, 10**9)
    assert SECRET not in str(info.value)
