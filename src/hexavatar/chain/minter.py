"""Build, sign, send and confirm HexavatarNFT transactions.

The service layer owns nonce management (under its database lock), so every builder here takes
an explicit ``nonce``. The flow for one mint::

    tx = minter.build_mint_tx(to=addr, digest=d, codec=CODEC_RAW, nonce=n)
    signed = minter.sign(tx)                 # SignedTx(raw, hash): store the hash, then send
    minter.send_raw(signed.raw)              # resending the same raw bytes is harmless
    receipt = minter.wait_receipt(signed.hash, confirmations=1, timeout=60)
    token_id = minter.token_id_from_receipt(receipt)

Fees are EIP-1559, read from the node (:func:`suggest_fees`): ``maxFeePerGas = 2 × baseFee +
tip``. Gas comes from ``eth_estimateGas`` unless given, which also reports a mint that would
revert (not a minter, unsupported codec) as :class:`MintReverted` before anything is signed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_abi.abi import decode, encode
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from .artifacts import load_artifact
from .errors import (
    MintReverted,
    NonceConflict,
    ReceiptTimeout,
    TransactionRejected,
    TransactionReverted,
    quote,
)
from .rpc import (
    NODE_FAILURES,
    asking_node,
    block_number,
    chain_id_of,
    node_unavailable,
    rpc_error_message,
    to_address,
)
from .signer import SignedTx, Signer

__all__ = [
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "Fees",
    "MintResult",
    "Minter",
    "describe_revert",
    "send_raw",
    "suggest_fees",
    "token_id_from_receipt",
    "wait_receipt",
]

CODEC_RAW: Final = 0x55
CODEC_DAG_PB: Final = 0x70
_GAS_MARGIN_NUM, _GAS_MARGIN_DEN = 6, 5  # estimate × 1.2
TRANSFER_TOPIC: Final = keccak(text="Transfer(address,address,uint256)")
_ZERO_TOPIC: Final = bytes(32)
_NONCE_WORDS = ("nonce too low", "nonce too high", "invalid nonce", "replacement transaction")


@dataclass(frozen=True, slots=True)
class Fees:
    """EIP-1559 fee caps, in wei per gas."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True, slots=True)
class MintResult:
    token_id: int
    tx_hash: str
    block_number: int


def suggest_fees(w3: Web3) -> Fees:
    """Fees from the node: twice the latest base fee plus its suggested tip."""
    with asking_node("eth_getBlockByNumber and eth_maxPriorityFeePerGas (fees)"):
        block = w3.eth.get_block("latest")
        tip = int(w3.eth.max_priority_fee)
        base = int(block.get("baseFeePerGas", 0))
    return Fees(max_fee_per_gas=2 * base + tip, max_priority_fee_per_gas=tip)


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _error_selectors(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {
        _selector("Error(string)"): ("Error", ["string"]),
        _selector("Panic(uint256)"): ("Panic", ["uint256"]),
    }
    for item in abi:
        if item.get("type") == "error":
            types = [str(i["type"]) for i in item.get("inputs", [])]
            table[_selector(f"{item['name']}({','.join(types)})")] = (str(item["name"]), types)
    return table


def describe_revert(data: bytes, abi: Sequence[Mapping[str, Any]] = ()) -> str:
    """Human-readable revert data: ``Error("...")``, a custom error of ``abi``, or hex."""
    known = _error_selectors(abi).get(data[:4])
    if known is None:
        return f"revert data {quote('0x' + data.hex())}" if data else "revert without data"
    name, types = known
    try:
        values = decode(types, data[4:])
    except Exception:  # undecodable data is reported, not raised
        return f"{name}(<undecodable>)"
    shown = ", ".join(quote(v.hex() if isinstance(v, bytes) else v) for v in values)
    return f"{name}({shown})"


def _revert_data(exc: ContractLogicError) -> bytes:
    data = exc.data
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


def send_raw(w3: Web3, raw: bytes) -> str:
    """Send a signed transaction; returns its hash.

    Idempotent: sending one the node already has (pending or mined) returns its hash too, so a
    retry after a crash between "signed" and "sent" is safe. Another transaction holding the
    same nonce is a :class:`NonceConflict`.
    """
    tx_hash = "0x" + keccak(raw).hex()
    try:
        w3.eth.send_raw_transaction(raw)
    except Web3RPCError as exc:  # the node's own answer: its message is no secret
        message = rpc_error_message(exc)
        if "already known" in message.lower() or _node_has(w3, tx_hash):
            return tx_hash
        nonce_issue = any(w in message.lower() for w in _NONCE_WORDS)
        error = NonceConflict if nonce_issue else TransactionRejected
        raise error(
            f"expected the node to accept {tx_hash}, it refused: {quote(message, 200)}"
        ) from exc
    except NODE_FAILURES as exc:
        raise node_unavailable(f"eth_sendRawTransaction for {tx_hash}", exc) from None
    return tx_hash


def _node_has(w3: Web3, tx_hash: str) -> bool:
    with asking_node(f"eth_getTransactionByHash for {tx_hash}"):
        try:
            w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
    return True


def wait_receipt(
    w3: Web3,
    tx_hash: str,
    *,
    confirmations: int = 1,
    timeout: float = 60.0,
    poll_interval: float = 0.05,
) -> TxReceipt:
    """Wait until ``tx_hash`` is mined with ``confirmations`` blocks (1 = its own block).

    Raises :class:`ReceiptTimeout` after ``timeout`` seconds and :class:`TransactionReverted`
    (with ``.receipt``) when it was mined with status 0.
    """
    deadline = time.monotonic() + timeout
    while True:
        receipt = _receipt_if_confirmed(w3, tx_hash, confirmations)
        if receipt is not None:
            if receipt["status"] != 1:
                error = TransactionReverted(f"expected {tx_hash} to succeed, it reverted")
                error.receipt = receipt  # type: ignore[attr-defined]
                raise error
            return receipt
        if time.monotonic() >= deadline:
            raise ReceiptTimeout(
                f"expected {tx_hash} mined with {confirmations} confirmation(s) within "
                f"{timeout}s, found it not yet"
            )
        time.sleep(poll_interval)


def _receipt_if_confirmed(w3: Web3, tx_hash: str, confirmations: int) -> TxReceipt | None:
    with asking_node(f"eth_getTransactionReceipt for {tx_hash}"):
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
    if confirmations <= 1:
        return receipt
    head = block_number(w3)
    return receipt if head - int(receipt["blockNumber"]) + 1 >= confirmations else None


def token_id_from_receipt(receipt: Mapping[str, Any], *, contract: str) -> int:
    """The token ID minted in ``receipt``: its Transfer log from address zero by ``contract``."""
    want = to_checksum_address(contract)
    for log in receipt.get("logs", []):
        topics = [bytes(t) for t in log.get("topics", [])]
        if (
            to_checksum_address(log["address"]) == want
            and len(topics) == 4
            and topics[0] == TRANSFER_TOPIC
            and topics[1] == _ZERO_TOPIC
        ):
            return int.from_bytes(topics[3], "big")
    raise MintReverted(
        f"expected a Transfer from address zero by {want} in the receipt, found none"
    )


class Minter:
    """Mints and transfers HexavatarNFT tokens with one :class:`Signer` (a minter account)."""

    def __init__(
        self, w3: Web3, *, signer: Signer, contract: str, chain_id: int | None = None
    ) -> None:
        self._w3 = w3
        self._signer = signer
        self.contract: ChecksumAddress = to_address(contract)
        self._chain_id = chain_id
        self._abi = load_artifact("HexavatarNFT").abi

    def __repr__(self) -> str:
        return f"Minter(contract={self.contract}, signer={self._signer!r})"

    @property
    def address(self) -> ChecksumAddress:
        """The signer's (minter's) address."""
        return self._signer.address

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = chain_id_of(self._w3)
        return self._chain_id

    def next_nonce(self) -> int:
        """The node's pending transaction count for the minter (to seed a nonce counter)."""
        with asking_node("eth_getTransactionCount (the minter's nonce)"):
            return int(self._w3.eth.get_transaction_count(self.address, "pending"))

    def build_mint_tx(
        self,
        *,
        to: str,
        digest: bytes,
        codec: int,
        nonce: int,
        fees: Fees | None = None,
        gas: int | None = None,
        safe: bool = False,
    ) -> dict[str, Any]:
        """``mint(to, digest, codec)`` (or ``safeMint`` when ``safe``) as an unsigned tx dict."""
        if len(digest) != 32:
            raise MintReverted(f"expected a 32-byte sha2-256 digest, found {len(digest)} bytes")
        if codec not in (CODEC_RAW, CODEC_DAG_PB):
            raise MintReverted(f"expected codec 0x55 (raw) or 0x70 (dag-pb), found {codec:#x}")
        name = "safeMint" if safe else "mint"
        data = _selector(f"{name}(address,bytes32,uint64)") + encode(
            ["address", "bytes32", "uint64"], [to_address(to), digest, codec]
        )
        return self._build(data, nonce=nonce, fees=fees, gas=gas, error=MintReverted)

    def build_transfer_tx(
        self,
        *,
        from_address: str,
        to: str,
        token_id: int,
        nonce: int,
        fees: Fees | None = None,
        gas: int | None = None,
    ) -> dict[str, Any]:
        """``safeTransferFrom(from, to, tokenId)`` signed by the minter (owner or approved)."""
        data = _selector("safeTransferFrom(address,address,uint256)") + encode(
            ["address", "address", "uint256"],
            [to_address(from_address), to_address(to), token_id],
        )
        return self._build(data, nonce=nonce, fees=fees, gas=gas, error=TransactionReverted)

    def _build(
        self,
        data: bytes,
        *,
        nonce: int,
        fees: Fees | None,
        gas: int | None,
        error: type[TransactionReverted],
    ) -> dict[str, Any]:
        fees = fees or suggest_fees(self._w3)
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "from": self.address,
            "to": self.contract,
            "data": "0x" + data.hex(),
            "value": 0,
            "nonce": nonce,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        tx["gas"] = gas if gas is not None else self._estimate(tx, error)
        return tx

    def _estimate(self, tx: Mapping[str, Any], error: type[TransactionReverted]) -> int:
        probe = {k: tx[k] for k in ("from", "to", "data", "value")}
        try:
            estimate = int(self._w3.eth.estimate_gas(probe))  # type: ignore[arg-type]
        except ContractLogicError as exc:  # the contract's revert reason: users need it
            reason = describe_revert(_revert_data(exc), self._abi)
            raise error(f"expected the transaction to succeed, it would revert: {reason}") from exc
        except NODE_FAILURES as exc:
            raise node_unavailable("eth_estimateGas", exc) from None
        return estimate * _GAS_MARGIN_NUM // _GAS_MARGIN_DEN

    def sign(self, tx: Mapping[str, Any]) -> SignedTx:
        unsigned = {k: v for k, v in tx.items() if k != "from"}
        return self._signer.sign_transaction(unsigned)

    def send_raw(self, raw: bytes) -> str:
        return send_raw(self._w3, raw)

    def wait_receipt(
        self, tx_hash: str, *, confirmations: int = 1, timeout: float = 60.0
    ) -> TxReceipt:
        return wait_receipt(self._w3, tx_hash, confirmations=confirmations, timeout=timeout)

    def token_id_from_receipt(self, receipt: Mapping[str, Any]) -> int:
        return token_id_from_receipt(receipt, contract=self.contract)

    def mint(
        self, *, to: str, digest: bytes, codec: int, nonce: int | None = None, safe: bool = False
    ) -> MintResult:
        """Build, sign, send and confirm one mint (CLI and tests; the service uses the steps)."""
        tx = self.build_mint_tx(
            to=to,
            digest=digest,
            codec=codec,
            nonce=self.next_nonce() if nonce is None else nonce,
            safe=safe,
        )
        signed = self.sign(tx)
        self.send_raw(signed.raw)
        try:
            receipt = self.wait_receipt(signed.hash)
        except TransactionReverted as exc:
            raise MintReverted(str(exc)) from exc
        return MintResult(
            token_id=self.token_id_from_receipt(receipt),
            tx_hash=signed.hash,
            block_number=int(receipt["blockNumber"]),
        )
