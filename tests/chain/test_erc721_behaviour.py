"""ERC-721 behaviour of HexavatarNFT, after OpenZeppelin's own ERC721 test suite."""

from __future__ import annotations

import hashlib

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from hexavatar.chain.minter import CODEC_RAW
from hexavatar.chain.signer import Signer

from .helpers import deploy_contract, revert_of, transact

ZERO = "0x" + "00" * 20


@pytest.fixture
def owned(w3: Web3, nft: Contract, deployer: Signer, alice: Signer) -> Contract:
    """``nft`` with tokens 1 and 2 owned by alice."""
    for n in (1, 2):
        digest = hashlib.sha256(bytes([n])).digest()
        transact(w3, deployer, nft, "mint", alice.address, digest, CODEC_RAW)
    return nft


def test_balance_of(owned: Contract, alice: Signer, bob: Signer, deployer: Signer) -> None:
    assert owned.functions.balanceOf(alice.address).call() == 2
    assert owned.functions.balanceOf(bob.address).call() == 0
    assert revert_of(owned, deployer, "balanceOf", ZERO) == f"ERC721InvalidOwner('{ZERO}')"


def test_approve_and_get_approved(w3: Web3, owned: Contract, alice: Signer, bob: Signer) -> None:
    assert owned.functions.getApproved(1).call() == ZERO
    receipt = transact(w3, alice, owned, "approve", bob.address, 1)
    (event,) = owned.events.Approval().process_receipt(receipt)
    assert event["args"]["owner"] == alice.address
    assert event["args"]["approved"] == bob.address
    assert owned.functions.getApproved(1).call() == bob.address
    assert owned.functions.getApproved(2).call() == ZERO


def test_approve_by_stranger_reverts(owned: Contract, bob: Signer) -> None:
    assert revert_of(owned, bob, "approve", bob.address, 1).startswith("ERC721InvalidApprover(")


def test_get_approved_of_missing_token_reverts(owned: Contract, bob: Signer) -> None:
    assert revert_of(owned, bob, "getApproved", 99) == "ERC721NonexistentToken(99)"


def test_set_approval_for_all(w3: Web3, owned: Contract, alice: Signer, bob: Signer) -> None:
    assert not owned.functions.isApprovedForAll(alice.address, bob.address).call()
    receipt = transact(w3, alice, owned, "setApprovalForAll", bob.address, True)
    (event,) = owned.events.ApprovalForAll().process_receipt(receipt)
    assert event["args"]["approved"] is True
    assert owned.functions.isApprovedForAll(alice.address, bob.address).call()
    transact(w3, alice, owned, "setApprovalForAll", bob.address, False)
    assert not owned.functions.isApprovedForAll(alice.address, bob.address).call()
    assert revert_of(owned, alice, "setApprovalForAll", ZERO, True).startswith(
        "ERC721InvalidOperator("
    )


def _assert_moved(nft: Contract, token: int, old: str, new: str, before_old: int) -> None:
    assert nft.functions.ownerOf(token).call() == new
    assert nft.functions.balanceOf(old).call() == before_old - 1
    assert nft.functions.getApproved(token).call() == ZERO  # approval cleared


def test_transfer_from_by_owner(
    w3: Web3, owned: Contract, alice: Signer, bob: Signer, deployer: Signer
) -> None:
    transact(w3, alice, owned, "approve", deployer.address, 1)
    receipt = transact(w3, alice, owned, "transferFrom", alice.address, bob.address, 1)
    (event,) = owned.events.Transfer().process_receipt(receipt)
    assert (event["args"]["from"], event["args"]["to"]) == (alice.address, bob.address)
    _assert_moved(owned, 1, alice.address, bob.address, 2)
    assert owned.functions.balanceOf(bob.address).call() == 1


def test_transfer_from_by_approved(
    w3: Web3, owned: Contract, alice: Signer, bob: Signer, deployer: Signer
) -> None:
    transact(w3, alice, owned, "approve", deployer.address, 1)
    transact(w3, deployer, owned, "transferFrom", alice.address, bob.address, 1)
    _assert_moved(owned, 1, alice.address, bob.address, 2)


def test_transfer_from_by_operator(
    w3: Web3, owned: Contract, alice: Signer, bob: Signer, deployer: Signer
) -> None:
    transact(w3, alice, owned, "setApprovalForAll", deployer.address, True)
    transact(w3, deployer, owned, "transferFrom", alice.address, bob.address, 2)
    _assert_moved(owned, 2, alice.address, bob.address, 2)


def test_unauthorized_transfer_reverts(owned: Contract, alice: Signer, bob: Signer) -> None:
    reason = revert_of(owned, bob, "transferFrom", alice.address, bob.address, 1)
    assert reason.startswith("ERC721InsufficientApproval(")


def test_transfer_with_wrong_from_reverts(owned: Contract, alice: Signer, bob: Signer) -> None:
    reason = revert_of(owned, alice, "transferFrom", bob.address, alice.address, 1)
    assert reason.startswith("ERC721IncorrectOwner(")


def test_transfer_to_zero_address_reverts(owned: Contract, alice: Signer) -> None:
    expected = f"ERC721InvalidReceiver('{ZERO}')"
    assert revert_of(owned, alice, "transferFrom", alice.address, ZERO, 1) == expected
    assert revert_of(owned, alice, "safeTransferFrom", alice.address, ZERO, 1) == expected


def test_mint_to_zero_address_reverts(nft: Contract, deployer: Signer) -> None:
    reason = revert_of(nft, deployer, "mint", ZERO, bytes(32), CODEC_RAW)
    assert reason == f"ERC721InvalidReceiver('{ZERO}')"


def test_transfer_of_missing_token_reverts(owned: Contract, alice: Signer, bob: Signer) -> None:
    reason = revert_of(owned, alice, "transferFrom", alice.address, bob.address, 99)
    assert reason == "ERC721NonexistentToken(99)"


def test_safe_transfer_to_eoa(w3: Web3, owned: Contract, alice: Signer, bob: Signer) -> None:
    transact(w3, alice, owned, "safeTransferFrom", alice.address, bob.address, 1)
    assert owned.functions.ownerOf(1).call() == bob.address


def test_safe_transfer_to_accepting_receiver(
    w3: Web3, owned: Contract, alice: Signer, deployer: Signer
) -> None:
    receiver = deploy_contract(w3, deployer, "AcceptingReceiver")
    data = b"hello"
    receipt = transact(
        w3, alice, owned, "safeTransferFrom", alice.address, receiver.address, 1, data
    )
    assert owned.functions.ownerOf(1).call() == receiver.address
    (event,) = receiver.events.Received().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["operator"] == alice.address
    assert event["args"]["from"] == alice.address
    assert event["args"]["tokenId"] == 1
    assert event["args"]["data"] == data


@pytest.mark.parametrize("receiver_name", ["RejectingReceiver", "NonReceiver"])
def test_safe_transfer_to_refusing_receiver_reverts(
    w3: Web3, owned: Contract, alice: Signer, deployer: Signer, receiver_name: str
) -> None:
    receiver = deploy_contract(w3, deployer, receiver_name)
    reason = revert_of(owned, alice, "safeTransferFrom", alice.address, receiver.address, 1)
    assert reason == f"ERC721InvalidReceiver('{receiver.address.lower()}')"
    # a plain transferFrom does not ask the receiver
    transact(w3, alice, owned, "transferFrom", alice.address, receiver.address, 1)
    assert owned.functions.ownerOf(1).call() == receiver.address


def test_safe_transfer_to_reverting_receiver_bubbles_reason(
    w3: Web3, owned: Contract, alice: Signer, deployer: Signer
) -> None:
    receiver = deploy_contract(w3, deployer, "RevertingReceiver")
    reason = revert_of(owned, alice, "safeTransferFrom", alice.address, receiver.address, 1)
    assert reason == "Error('RevertingReceiver: no thanks')"


def test_safe_mint_to_contracts(w3: Web3, nft: Contract, deployer: Signer) -> None:
    accepting = deploy_contract(w3, deployer, "AcceptingReceiver")
    rejecting = deploy_contract(w3, deployer, "RejectingReceiver")
    transact(w3, deployer, nft, "safeMint", accepting.address, bytes(32), CODEC_RAW)
    assert nft.functions.ownerOf(1).call() == accepting.address
    reason = revert_of(nft, deployer, "safeMint", rejecting.address, bytes(32), CODEC_RAW)
    assert reason.startswith("ERC721InvalidReceiver(")
