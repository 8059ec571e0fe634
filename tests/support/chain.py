"""Small helpers for tests that act on anvil as a user would: send a contract call signed by
one of anvil's development accounts and wait for it."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import Web3

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.contract import deploy_artifact
from hexavatar.chain.signer import Signer


def transact(w3: Web3, key: str, call: Any) -> Any:
    """Sign ``call`` (a web3 contract function call) with ``key``, send it, wait for success."""
    sender = Account.from_key(key)
    tx = call.build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending")}
    )
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return receipt


def deploy(w3: Web3, key: str, name: str, *args: Any) -> Any:
    """Deploy the compiled test contract ``name``; a web3 contract object."""
    address = deploy_artifact(w3, name, *args, account=Signer.from_key(key))
    return w3.eth.contract(address=address, abi=load_artifact(name).abi)
