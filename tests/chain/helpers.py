"""Helpers shared by the hexavatar.chain tests (transactions, reverts, CIDs)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.contract import deploy_artifact
from hexavatar.chain.minter import describe_revert, suggest_fees, wait_receipt
from hexavatar.chain.signer import Signer


def cid_v1_uri(digest: bytes, codec: int) -> str:
    """``ipfs://`` + CIDv1 (sha2-256) in base32, computed independently of the contract."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + digest
    return "ipfs://b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def deploy_contract(w3: Web3, signer: Signer, name: str, *args: Any) -> Contract:
    address = deploy_artifact(w3, name, *args, account=signer)
    return w3.eth.contract(address=address, abi=load_artifact(name).abi)


def transact(w3: Web3, signer: Signer, contract: Contract, fn: str, *args: Any) -> TxReceipt:
    """Sign and send ``contract.fn(*args)`` from ``signer``; returns the (successful) receipt."""
    fees = suggest_fees(w3)
    tx = getattr(contract.functions, fn)(*args).build_transaction(
        {
            "from": signer.address,
            "nonce": w3.eth.get_transaction_count(signer.address, "pending"),
            "gas": 1_000_000,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
    )
    tx.pop("from", None)
    signed = signer.sign_transaction(tx)
    w3.eth.send_raw_transaction(signed.raw)
    return wait_receipt(w3, signed.hash)


def revert_of(contract: Contract, sender: Signer, fn: str, *args: Any) -> str:
    """How ``contract.fn(*args)`` sent by ``sender`` reverts, e.g. ``ERC721NonexistentToken(..)``.

    Fails the test if the call does not revert.
    """
    try:
        getattr(contract.functions, fn)(*args).call({"from": sender.address})
    except ContractLogicError as exc:
        data = exc.data if isinstance(exc.data, str) else ""
        return describe_revert(bytes.fromhex(data.removeprefix("0x")), contract.abi)
    pytest.fail(f"expected {fn}{args} to revert, it returned")
