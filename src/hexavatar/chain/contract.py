"""Deploy HexavatarNFT (and any other compiled contract), remember it, install Multicall3.

:func:`ensure_deployed` deploys the contract once per chain and records its address in
``<data_dir>/contracts.json``; on later calls it returns the remembered address while code is
there, and deploys again when the code is gone (a fresh dev chain). :func:`install_multicall3`
puts a Multicall3-compatible contract at its usual address on a dev chain (``anvil_setCode``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

from eth_abi.abi import encode
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError

from .artifacts import load_artifact
from .errors import DeploymentError, TransactionReverted, quote
from .minter import send_raw, suggest_fees, wait_receipt
from .rpc import NODE_FAILURES, asking_node, chain_id_of, node_unavailable, rpc_error_message
from .signer import Signer
from .tokens import INTERFACE_ERC721, MULTICALL3_ADDRESS, supports_interface

__all__ = [
    "DEPLOYMENTS_FILE",
    "MULTICALL3_ADDRESS",
    "deploy",
    "deploy_artifact",
    "ensure_deployed",
    "hexavatar_contract",
    "install_multicall3",
]

DEPLOYMENTS_FILE: Final = "contracts.json"
_CONTRACT_NAME: Final = "HexavatarNFT"
_TOTAL_MINTED: Final = keccak(text="totalMinted()")[:4]


def _constructor_args(abi: tuple[dict[str, Any], ...], args: tuple[Any, ...]) -> bytes:
    ctor = next((item for item in abi if item.get("type") == "constructor"), None)
    types = [str(i["type"]) for i in ctor.get("inputs", [])] if ctor else []
    if len(types) != len(args):
        raise DeploymentError(f"expected {len(types)} constructor argument(s), found {len(args)}")
    return encode(types, list(args)) if types else b""


def deploy_artifact(
    w3: Web3, name: str, *args: Any, account: Signer, timeout: float = 60.0
) -> ChecksumAddress:
    """Deploy the compiled contract ``name`` with constructor ``args``; returns its address."""
    artifact = load_artifact(name)
    data = artifact.bytecode + _constructor_args(artifact.abi, args)
    fees = suggest_fees(w3)
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id_of(w3),
        "data": "0x" + data.hex(),
        "value": 0,
        "nonce": _pending_nonce(w3, account.address),
        "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
    }
    tx["gas"] = _estimate_deploy(w3, name, account.address, tx["data"])
    signed = account.sign_transaction(tx)
    send_raw(w3, signed.raw)
    try:
        receipt = wait_receipt(w3, signed.hash, timeout=timeout)
    except TransactionReverted as exc:
        raise DeploymentError(f"expected {name} to deploy, {signed.hash} reverted") from exc
    address = receipt.get("contractAddress")
    if not address or not _code_at(w3, address):
        raise DeploymentError(f"expected code of {name} after {signed.hash}, found none")
    return to_checksum_address(address)


def _pending_nonce(w3: Web3, address: str) -> int:
    with asking_node("eth_getTransactionCount"):
        return int(w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]


def _code_at(w3: Web3, address: str) -> bytes:
    with asking_node("eth_getCode"):
        return bytes(w3.eth.get_code(address))  # type: ignore[arg-type]


def _estimate_deploy(w3: Web3, name: str, sender: str, data: str) -> int:
    """Gas for the deployment; the node's own answer (a revert, an RPC error) is quoted, a
    transport failure is only described (its text holds the RPC URL)."""
    try:
        return int(w3.eth.estimate_gas({"from": sender, "data": data}))  # type: ignore[typeddict-item]
    except ContractLogicError as exc:
        reason = quote(exc.message or "")
        raise DeploymentError(f"expected {name} to deploy, it would revert: {reason}") from exc
    except Web3RPCError as exc:
        found = quote(rpc_error_message(exc), 200)
        raise DeploymentError(f"expected {name} to deploy, the estimate failed: {found}") from exc
    except NODE_FAILURES as exc:
        raise node_unavailable("eth_estimateGas", exc) from None


def deploy(w3: Web3, *, account: Signer, name: str, symbol: str) -> ChecksumAddress:
    """Deploy HexavatarNFT; ``account`` becomes its admin and first minter."""
    return deploy_artifact(w3, _CONTRACT_NAME, name, symbol, account=account)


def hexavatar_contract(w3: Web3, address: str) -> Contract:
    """A web3 contract object for HexavatarNFT at ``address`` (for writes and events)."""
    return w3.eth.contract(
        address=to_checksum_address(address), abi=load_artifact(_CONTRACT_NAME).abi
    )


def _read_deployments(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DeploymentError(
            f"expected JSON in {quote(str(path))}, found unreadable data"
        ) from exc
    if not isinstance(data, dict):
        raise DeploymentError(
            f"expected a JSON object in {quote(str(path))}, found {type(data).__name__}"
        )
    return data


def _write_deployments(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".contracts-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_hexavatar_nft(w3: Web3, address: ChecksumAddress) -> bool:
    code = _code_at(w3, address)
    if not code:
        return False
    if code == load_artifact(_CONTRACT_NAME).deployed_bytecode:
        return True
    probe = {"to": address, "data": "0x" + _TOTAL_MINTED.hex(), "gas": 100_000}
    with asking_node("eth_call totalMinted()"):
        try:
            answer = bytes(w3.eth.call(probe, ccip_read_enabled=False))  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError):
            return False
    return len(answer) == 32 and supports_interface(w3, address, INTERFACE_ERC721)


def ensure_deployed(
    w3: Web3, *, account: Signer, data_dir: Path, name: str = "Hexavatar", symbol: str = "HXA"
) -> ChecksumAddress:
    """HexavatarNFT's address on ``w3``'s chain, deploying it only if the one remembered in
    ``<data_dir>/contracts.json`` (keyed by chain id) is gone: no code there, or code that is
    no HexavatarNFT (a fresh dev chain can reuse the address for another contract).

    An older HexavatarNFT build at the address is kept (its tokens live there)."""
    path = Path(data_dir) / DEPLOYMENTS_FILE
    chain_key = str(chain_id_of(w3))
    data = _read_deployments(path)
    entry = data.get(chain_key, {}).get(_CONTRACT_NAME)
    if isinstance(entry, dict) and isinstance(entry.get("address"), str):
        remembered = to_checksum_address(entry["address"])
        if _is_hexavatar_nft(w3, remembered):
            return remembered
    address = deploy(w3, account=account, name=name, symbol=symbol)
    data.setdefault(chain_key, {})[_CONTRACT_NAME] = {
        "address": address,
        "name": name,
        "symbol": symbol,
        "deployer": account.address,
    }
    _write_deployments(path, data)
    return address


def install_multicall3(w3: Web3) -> ChecksumAddress:
    """Make sure Multicall3 is at :data:`MULTICALL3_ADDRESS`; on a dev chain (anvil) set the
    code of our compatible build there. Leaves an existing contract alone."""
    if _code_at(w3, MULTICALL3_ADDRESS):
        return MULTICALL3_ADDRESS
    code = "0x" + load_artifact("Multicall3").deployed_bytecode.hex()
    with asking_node("anvil_setCode"):
        w3.provider.make_request("anvil_setCode", [MULTICALL3_ADDRESS, code])  # type: ignore[arg-type]
    if not _code_at(w3, MULTICALL3_ADDRESS):
        raise DeploymentError(
            f"expected Multicall3 at {MULTICALL3_ADDRESS}, found no code (the node does not "
            "have it and does not support anvil_setCode)"
        )
    return MULTICALL3_ADDRESS
