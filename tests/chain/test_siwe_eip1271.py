"""SIWE with EIP-1271 contract wallets, on the session's anvil (127.0.0.1)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3
from web3.utils import exception_handling

from hexavatar.chain.devnode import DevNode
from hexavatar.chain.errors import SiweError
from hexavatar.chain.minter import wait_receipt
from hexavatar.chain.signer import Signer
from hexavatar.chain.siwe import build_message, eip191_hash, verify_message, verify_message_async

from .helpers import deploy_contract

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
OPTIONS: dict[str, Any] = {
    "domain": "avatars.example.org",
    "uri_origin": "https://avatars.example.org",
    "chain_ids": {31337},
    "now": NOW,
}


def _text(address: str) -> str:
    return build_message(
        scheme="https",
        domain="avatars.example.org",
        address=address,
        statement="Link this wallet.",
        uri="https://avatars.example.org/wallet",
        chain_id=31337,
        nonce="Wq3nE8vT2kLp9sXa1",
        issued_at=NOW - timedelta(seconds=5),
    ).to_text()


def _sign(signer: Signer, text: str) -> bytes:
    account = Account.from_key(signer.unsafe_export_key())
    return bytes(account.sign_message(encode_defunct(text=text)).signature)


@pytest.fixture(scope="module")
def wallet(w3: Web3, deployer: Signer, alice: Signer) -> str:
    """A TestERC1271Wallet owned by alice: valid signatures are alice's."""
    return str(deploy_contract(w3, deployer, "TestERC1271Wallet", alice.address).address)


def test_contract_wallet_signature_is_accepted_with_w3(
    w3: Web3, wallet: str, alice: Signer
) -> None:
    text = _text(wallet)
    message = verify_message(text, _sign(alice, text), w3=w3, **OPTIONS)
    assert message.address == wallet


def test_contract_wallet_needs_w3(wallet: str, alice: Signer) -> None:
    text = _text(wallet)
    with pytest.raises(SiweError) as info:
        verify_message(text, _sign(alice, text), **OPTIONS)
    assert info.value.code == "siwe_wrong_signer"


def test_contract_wallet_refuses_another_signer(w3: Web3, wallet: str, bob: Signer) -> None:
    text = _text(wallet)
    with pytest.raises(SiweError) as info:
        verify_message(text, _sign(bob, text), w3=w3, **OPTIONS)
    assert info.value.code == "siwe_wrong_signer"


def test_address_without_code_is_refused(w3: Web3, alice: Signer) -> None:
    empty = Web3.to_checksum_address(keccak(b"nobody")[:20])
    text = _text(empty)
    with pytest.raises(SiweError) as info:
        verify_message(text, _sign(alice, text), w3=w3, **OPTIONS)
    assert info.value.code == "siwe_wrong_signer"


def test_contract_wallet_with_async_web3(devnode: DevNode, wallet: str, alice: Signer) -> None:
    import asyncio

    async def run() -> str:
        aw3 = AsyncWeb3(AsyncHTTPProvider(devnode.rpc_url))
        text = _text(wallet)
        ok = await verify_message_async(text, _sign(alice, text), w3=aw3, **OPTIONS)
        with pytest.raises(SiweError):
            await verify_message_async(text, b"\x01" * 65, w3=aw3, **OPTIONS)
        return ok.address

    assert asyncio.run(run()) == wallet


def test_wallet_sees_the_eip191_hash(w3: Web3, wallet: str, alice: Signer) -> None:
    text = _text(wallet)
    data = bytes.fromhex("1626ba7e") + encode(
        ["bytes32", "bytes"], [eip191_hash(text), _sign(alice, text)]
    )
    result = w3.eth.call({"to": Web3.to_checksum_address(wallet), "data": data})
    assert bytes(result)[:4] == bytes.fromhex("1626ba7e")


# --- CCIP-Read stays off for the EIP-1271 call ---------------------------------------------


def _offchain_lookup_contract(w3: Web3, deployer: Signer, url: str) -> str:
    """Raw bytecode: every call reverts with OffchainLookup(address(this), [url], ...)."""
    selector = keccak(b"OffchainLookup(address,string[],bytes,bytes4,bytes)")[:4]
    payload = selector + encode(
        ["address", "string[]", "bytes", "bytes4", "bytes"],
        ["0x" + "00" * 20, [url], b"\x01", b"\x12\x34\x56\x78", b""],
    )
    n = len(payload).to_bytes(2)
    # CODECOPY(0, 19, n); MSTORE(4, ADDRESS); REVERT(0, n) -- payload follows at offset 19
    runtime = (
        b"\x61"
        + n
        + b"\x61\x00\x13\x60\x00\x39"
        + b"\x30\x60\x04\x52"
        + b"\x61"
        + n
        + b"\x60\x00\xfd"
        + payload
    )
    r = len(runtime).to_bytes(2)
    init = b"\x61" + r + b"\x61\x00\x0f\x60\x00\x39" + b"\x61" + r + b"\x60\x00\xf3"
    tx_hash = w3.eth.send_transaction({"from": deployer.address, "data": init + runtime})
    receipt = wait_receipt(w3, "0x" + bytes(tx_hash).hex())
    address = receipt["contractAddress"]
    assert address is not None and w3.eth.get_code(address)
    return str(address)


def test_ccip_read_is_not_followed(
    w3: Web3,
    deployer: Signer,
    alice: Signer,
    recorder: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, hits = recorder
    lookup = _offchain_lookup_contract(w3, deployer, url)
    monkeypatch.setattr(exception_handling, "validate_ccip_url_host", lambda url: None)
    monkeypatch.setattr(w3.provider, "global_ccip_read_enabled", True)
    monkeypatch.setattr(w3.provider, "ccip_read_allow_http", True)
    text = _text(lookup)
    with pytest.raises(SiweError) as info:
        verify_message(text, _sign(alice, text), w3=w3, **OPTIONS)
    assert info.value.code == "siwe_wrong_signer"
    assert hits == []
    # control: the same call with CCIP-Read on does fetch the contract's URL
    with contextlib.suppress(Exception):
        w3.eth.call({"to": Web3.to_checksum_address(lookup), "data": bytes.fromhex("1626ba7e")})
    assert len(hits) >= 1
