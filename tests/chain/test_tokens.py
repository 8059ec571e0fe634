"""hexavatar.chain.tokens against real contracts, including hostile ones, on anvil."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json

import pytest
from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.utils import exception_handling

from hexavatar.chain import tokens
from hexavatar.chain.errors import (
    CallOutOfGas,
    InvalidAddress,
    MalformedResponse,
    ResponseTooLarge,
    TokenNotFound,
)
from hexavatar.chain.minter import CODEC_DAG_PB
from hexavatar.chain.signer import Signer

from .helpers import cid_v1_uri, deploy_contract, transact

ERC1155_TEMPLATE = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/{id}.json"


@pytest.fixture
def minted(w3: Web3, nft: Contract, deployer: Signer, alice: Signer) -> Contract:
    transact(w3, deployer, nft, "mint", alice.address, bytes(range(32)), CODEC_DAG_PB)
    return nft


def _hostile(w3: Web3, deployer: Signer, name: str, *args: object) -> Contract:
    contract = deploy_contract(w3, deployer, name, *args)
    transact(w3, deployer, contract, "mint", deployer.address, 1)
    return contract


def test_detect_standard(w3: Web3, nft: Contract, deployer: Signer) -> None:
    erc1155 = deploy_contract(w3, deployer, "TestERC1155", ERC1155_TEMPLATE)
    receiver = deploy_contract(w3, deployer, "AcceptingReceiver")
    assert tokens.detect_standard(w3, nft.address) == "erc721"
    assert tokens.detect_standard(w3, erc1155.address) == "erc1155"
    assert tokens.detect_standard(w3, receiver.address) is None  # no ERC-165
    assert tokens.detect_standard(w3, deployer.address) is None  # an EOA
    assert tokens.detect_standard(w3, tokens.MULTICALL3_ADDRESS) is None


def test_supports_interface(w3: Web3, nft: Contract) -> None:
    assert tokens.supports_interface(w3, nft.address, tokens.INTERFACE_ERC721_METADATA)
    assert not tokens.supports_interface(w3, nft.address, tokens.INTERFACE_ERC1155)
    assert not tokens.supports_interface(w3, nft.address, bytes.fromhex("ffffffff"))


def test_owner_of_and_token_uri(w3: Web3, minted: Contract, alice: Signer) -> None:
    assert tokens.owner_of(w3, minted.address, 1) == alice.address
    assert tokens.token_uri(w3, minted.address, 1) == cid_v1_uri(bytes(range(32)), CODEC_DAG_PB)


def test_reads_pinned_to_a_block(w3: Web3, minted: Contract, alice: Signer, bob: Signer) -> None:
    before = w3.eth.block_number
    transact(w3, alice, minted, "transferFrom", alice.address, bob.address, 1)
    assert tokens.owner_of(w3, minted.address, 1) == bob.address
    assert tokens.owner_of(w3, minted.address, 1, block=before) == alice.address


def test_missing_token(w3: Web3, nft: Contract) -> None:
    with pytest.raises(TokenNotFound, match="ownerOf") as info:
        tokens.owner_of(w3, nft.address, 5)
    assert info.value.code == "token_not_found"
    assert isinstance(info.value, LookupError)
    with pytest.raises(TokenNotFound):
        tokens.token_uri(w3, nft.address, 5)


def test_erc1155_uri_and_balance(w3: Web3, deployer: Signer, alice: Signer) -> None:
    erc1155 = deploy_contract(w3, deployer, "TestERC1155", ERC1155_TEMPLATE)
    transact(w3, deployer, erc1155, "mint", alice.address, 0x2A, 3)
    assert tokens.balance_of(w3, erc1155.address, alice.address, 0x2A) == 3
    assert tokens.balance_of(w3, erc1155.address, deployer.address, 0x2A) == 0
    template = tokens.uri(w3, erc1155.address, 0x2A)
    assert template == ERC1155_TEMPLATE
    assert tokens.expand_erc1155_uri(template, 0x2A).endswith("0" * 62 + "2a.json")


def test_on_chain_data_uri(w3: Web3, deployer: Signer) -> None:
    contract = _hostile(w3, deployer, "OnChainMetadataNFT")
    uri = tokens.token_uri(w3, contract.address, 1)
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    metadata = json.loads(base64.b64decode(uri[len(prefix) :]))
    assert metadata["name"] == "OnChain #1"
    image = metadata["image"]
    assert image.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(image.split(",", 1)[1]).startswith(b"<svg ")


def test_eip1271_wallet(w3: Web3, deployer: Signer, alice: Signer) -> None:
    wallet = deploy_contract(w3, deployer, "TestERC1271Wallet", alice.address)
    digest = hashlib.sha256(b"sign in").digest()
    good = Account.unsafe_sign_hash(digest, alice.unsafe_export_key()).signature
    bad = Account.unsafe_sign_hash(digest, deployer.unsafe_export_key()).signature
    assert wallet.functions.isValidSignature(digest, good).call() == bytes.fromhex("1626ba7e")
    assert wallet.functions.isValidSignature(digest, bad).call() == bytes.fromhex("ffffffff")
    assert wallet.functions.isValidSignature(digest, b"junk").call() == bytes.fromhex("ffffffff")


def test_reverting_token_uri(w3: Web3, deployer: Signer) -> None:
    contract = _hostile(w3, deployer, "RevertingURINFT")
    with pytest.raises(TokenNotFound, match="RevertingURINFT: no uri"):
        tokens.token_uri(w3, contract.address, 1)


def test_garbage_token_uri(w3: Web3, deployer: Signer) -> None:
    contract = _hostile(w3, deployer, "GarbageURINFT")
    with pytest.raises(MalformedResponse, match="ABI string") as info:
        tokens.token_uri(w3, contract.address, 1)
    assert info.value.code == "malformed_response"


def test_huge_token_uri_is_capped(w3: Web3, deployer: Signer) -> None:
    contract = _hostile(w3, deployer, "HugeURINFT")
    # 10 MB does not fit in the default gas cap: the call fails instead of flooding us
    with pytest.raises(CallOutOfGas) as info:
        tokens.token_uri(w3, contract.address, 1)
    assert not isinstance(info.value, TokenNotFound)
    assert info.value.code == "call_out_of_gas"
    transact(w3, deployer, contract, "setSize", 200_000)
    with pytest.raises(ResponseTooLarge, match="at most 100000 bytes"):
        tokens.token_uri(w3, contract.address, 1, max_bytes=100_000)
    assert len(tokens.token_uri(w3, contract.address, 1)) == 200_000


def test_gas_burning_token_uri_is_bounded(w3: Web3, deployer: Signer) -> None:
    contract = _hostile(w3, deployer, "GasBurnerURINFT")
    with pytest.raises(CallOutOfGas):
        tokens.token_uri(w3, contract.address, 1, gas=2_000_000)


def test_ccip_read_is_never_followed(
    w3: Web3,
    deployer: Signer,
    recorder: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our reads never follow OffchainLookup, even with a Web3 set up to follow anything.

    web3 8 has its own filter (no http, no private IPs); it is switched off here so the test
    shows our reads do not depend on it, and a control call shows the URL is reachable.
    """
    url, hits = recorder
    contract = deploy_contract(w3, deployer, "OffchainLookupNFT", url)
    monkeypatch.setattr(exception_handling, "validate_ccip_url_host", lambda url: None)
    monkeypatch.setattr(w3.provider, "global_ccip_read_enabled", True)
    monkeypatch.setattr(w3.provider, "ccip_read_allow_http", True)
    with pytest.raises(TokenNotFound):
        tokens.token_uri(w3, contract.address, 1)
    with pytest.raises(TokenNotFound):
        tokens.owner_of(w3, contract.address, 1)
    assert tokens.batch_owner_of(w3, [(contract.address, 1)]) == [None]
    assert hits == []
    # control: a plain web3 call with CCIP-Read on does fetch the contract's URL
    data = "0xc87b56dd" + "00" * 31 + "01"  # tokenURI(1)
    with contextlib.suppress(Exception):
        w3.eth.call({"to": contract.address, "data": data})
    assert len(hits) == 1


def test_batch_owner_of(
    w3: Web3, nft: Contract, deployer: Signer, alice: Signer, bob: Signer
) -> None:
    for to in (alice, bob, alice):
        transact(w3, deployer, nft, "mint", to.address, hashlib.sha256(b"x").digest(), 0x55)
    other = deploy_contract(w3, deployer, "TestERC1155", ERC1155_TEMPLATE)
    items = [
        (nft.address, 1),
        (nft.address, 2),
        (nft.address, 99),  # missing
        (other.address, 1),  # not an ERC-721
        (deployer.address, 1),  # not a contract
        (nft.address, 3),
    ]
    expected = [alice.address, bob.address, None, None, None, alice.address]
    assert tokens.batch_owner_of(w3, items) == expected
    assert tokens.batch_owner_of(w3, items, batch_size=4) == expected
    assert tokens.batch_owner_of(w3, []) == []


def test_batch_owner_of_survives_a_gas_burner(w3: Web3, nft: Contract, deployer: Signer) -> None:
    transact(w3, deployer, nft, "mint", deployer.address, bytes(32), 0x55)
    burner = _hostile(w3, deployer, "GasBurnerURINFT")
    # ownerOf(666) burns all the gas it is given, which starves the rest of its aggregate3
    # batch: the reader falls back to one call per item for that batch.
    items = [(nft.address, 1), (burner.address, 666), (burner.address, 1), (burner.address, 2)]
    expected = [deployer.address, None, deployer.address, None]
    assert tokens.batch_owner_of(w3, items, batch_size=3) == expected


def test_batch_size_must_be_positive(w3: Web3) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        tokens.batch_owner_of(w3, [], batch_size=0)


@pytest.mark.parametrize(
    "bad",
    [
        "0x123",
        "not an address",
        "0x" + "g" * 40,
        "0x5FbDB2315678afecb367f032d93F642f64180Aa3",  # bad EIP-55 case
    ],
)
def test_invalid_contract_address(w3: Web3, bad: str) -> None:
    with pytest.raises(InvalidAddress, match="20-byte hex address") as info:
        tokens.owner_of(w3, bad, 1)
    assert isinstance(info.value, ValueError)
    assert info.value.code == "invalid_address"
    with pytest.raises(InvalidAddress):
        tokens.batch_owner_of(w3, [(bad, 1)])


def test_lower_case_address_is_accepted(w3: Web3, minted: Contract, alice: Signer) -> None:
    assert tokens.owner_of(w3, minted.address.lower(), 1) == alice.address
