"""Read any ERC-721 or ERC-1155 contract, including ones we do not control.

Every call here is an ``eth_call`` with CCIP-Read OFF (``ccip_read_enabled=False``): EIP-3668
lets a contract make the caller fetch a URL of the contract's choosing, which would turn this
server into a proxy for anyone who deploys a contract. Every call also has a gas cap, and
string results a byte cap, so a hostile contract can make a read fail but not hang or flood it.
Reads take ``block=`` so an ownership check can be pinned to a known block.

Batching: :func:`batch_owner_of` sends ``ownerOf`` calls through Multicall3 ``aggregate3`` with
``allowFailure=true`` per call; a failing or non-ERC-721 target gives ``None`` for its entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, cast

from Crypto.Hash import keccak as _keccak
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_typing import BlockIdentifier, ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from .errors import (
    CallOutOfGas,
    CallReverted,
    ChainUnavailable,
    MalformedResponse,
    ResponseTooLarge,
    TokenNotFound,
    quote,
)
from .rpc import NODE_FAILURES, block_number, node_unavailable, rpc_error_message, to_address

__all__ = [
    "DEFAULT_CALL_GAS",
    "DEFAULT_MAX_URI_BYTES",
    "INTERFACE_ERC165",
    "INTERFACE_ERC721",
    "INTERFACE_ERC721_METADATA",
    "INTERFACE_ERC1155",
    "INTERFACE_ERC1155_METADATA_URI",
    "MULTICALL3_ADDRESS",
    "Standard",
    "balance_of",
    "batch_owner_of",
    "detect_standard",
    "expand_erc1155_uri",
    "owner_of",
    "supports_interface",
    "token_uri",
    "uri",
]

INTERFACE_ERC165: Final = bytes.fromhex("01ffc9a7")
INTERFACE_ERC721: Final = bytes.fromhex("80ac58cd")
INTERFACE_ERC721_METADATA: Final = bytes.fromhex("5b5e139f")
INTERFACE_ERC1155: Final = bytes.fromhex("d9b67a26")
INTERFACE_ERC1155_METADATA_URI: Final = bytes.fromhex("0e89341c")
_INTERFACE_INVALID: Final = bytes.fromhex("ffffffff")
#: Where Multicall3 lives on virtually every EVM chain.
MULTICALL3_ADDRESS: Final = to_checksum_address("0xcA11bde05977b3631167028862bE2a173976CA11")

#: Gas for one read call. Also bounds return size: memory costs grow quadratically, so 10M gas
#: cannot build much more than ~2 MB of return data.
DEFAULT_CALL_GAS: Final = 10_000_000
#: Largest tokenURI/uri accepted (on-chain ``data:`` metadata with an SVG fits easily).
DEFAULT_MAX_URI_BYTES: Final = 1_000_000
#: EIP-165 gives supportsInterface 30 000 gas; an eth_call's gas also pays the transaction's
#: intrinsic 21 000 and its calldata.
_ERC165_GAS: Final = 30_000 + 21_000 + 1_000
_OWNER_OF_GAS: Final = 200_000
_OWNER_OF_SELECTOR: Final = keccak(text="ownerOf(uint256)")[:4]
_AGGREGATE3_SELECTOR: Final = keccak(text="aggregate3((address,bool,bytes)[])")[:4]

Standard = Literal["erc721", "erc1155"]


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


# Error messages of a call whose code ran and failed (web3 already turns plain reverts into
# ContractLogicError): an answer about the contract, unlike a node's own trouble.
_EXECUTION_FAILURES: Final = ("revert", "opcode", "evm error", "invalid jump", "stack")


def _call(
    w3: Web3, contract: str, data: bytes, *, gas: int, block: BlockIdentifier, what: str
) -> bytes:
    """One eth_call, CCIP-Read off; a revert is CallReverted, the gas cap CallOutOfGas, a node
    that is down, too slow, answers garbage or an error of its own ChainUnavailable (its
    message never quotes the transport's text, which holds the RPC URL)."""
    tx = {"to": to_address(contract), "data": "0x" + data.hex(), "gas": gas}
    try:
        result = bytes(w3.eth.call(tx, block, ccip_read_enabled=False))  # type: ignore[arg-type]
    except ContractLogicError as exc:
        reason = exc.message or (exc.data if isinstance(exc.data, str) else "")
        raise CallReverted(f"expected {what} to return, it reverted: {quote(reason)}") from exc
    except Web3RPCError as exc:
        message = rpc_error_message(exc)
        lowered = message.lower()
        said = f"expected {what} to return, the node said {quote(message)}"
        if "gas" in lowered or "oog" in lowered:
            raise CallOutOfGas(said) from exc
        if any(word in lowered for word in _EXECUTION_FAILURES):
            raise CallReverted(said) from exc
        # Any other error is the node failing to run the call (a rate limit, "header not
        # found", missing state): no answer about the token, so never read as a revert (that
        # would read as "not the owner" and take an avatar down).
        raise ChainUnavailable(
            f"expected the node to answer {what}, it answered the error {quote(message)}"
        ) from None
    except NODE_FAILURES as exc:  # down, too slow, or an answer that is not JSON-RPC
        raise node_unavailable(what, exc) from None
    return result


def _decode_one(abi_type: str, data: bytes, *, what: str) -> object:
    try:
        (value,) = decode([abi_type], data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise MalformedResponse(
            f"expected {what} to return an ABI {abi_type}, found {len(data)} bytes "
            f"{quote('0x' + data[:32].hex())}"
        ) from exc
    return value


def supports_interface(
    w3: Web3, contract: str, interface_id: bytes, *, block: BlockIdentifier = "latest"
) -> bool:
    """``supportsInterface(interface_id)``; False on revert, bad output or no code (EIP-165)."""
    data = _selector("supportsInterface(bytes4)") + encode(["bytes4"], [interface_id])
    try:
        raw = _call(w3, contract, data, gas=_ERC165_GAS, block=block, what="supportsInterface")
    except CallReverted:
        return False
    if len(raw) != 32 or raw[:31] != bytes(31) or raw[31] > 1:
        return False
    return raw[31] == 1


def _is_erc165(w3: Web3, contract: str, *, block: BlockIdentifier) -> bool:
    return supports_interface(w3, contract, INTERFACE_ERC165, block=block) and not (
        supports_interface(w3, contract, _INTERFACE_INVALID, block=block)
    )


def detect_standard(
    w3: Web3, contract: str, *, block: BlockIdentifier = "latest"
) -> Standard | None:
    """``"erc721"`` or ``"erc1155"`` by ERC-165 (the full EIP-165 detection), else None."""
    if not _is_erc165(w3, contract, block=block):
        return None
    if supports_interface(w3, contract, INTERFACE_ERC721, block=block):
        return "erc721"
    if supports_interface(w3, contract, INTERFACE_ERC1155, block=block):
        return "erc1155"
    return None


def owner_of(
    w3: Web3, contract: str, token_id: int, *, block: BlockIdentifier = "latest"
) -> ChecksumAddress:
    """ERC-721 ``ownerOf``; :class:`TokenNotFound` when it reverts or names address zero."""
    data = _selector("ownerOf(uint256)") + encode(["uint256"], [token_id])
    what = f"ownerOf({token_id}) of {to_address(contract)}"
    try:
        raw = _call(w3, contract, data, gas=_OWNER_OF_GAS, block=block, what=what)
    except CallOutOfGas:
        raise
    except CallReverted as exc:
        raise TokenNotFound(str(exc)) from exc
    owner = to_checksum_address(str(_decode_one("address", raw, what=what)))
    if int(owner, 16) == 0:
        raise TokenNotFound(f"expected an owner from {what}, found address zero")
    return owner


def balance_of(
    w3: Web3, contract: str, owner: str, token_id: int, *, block: BlockIdentifier = "latest"
) -> int:
    """ERC-1155 ``balanceOf(owner, id)``."""
    data = _selector("balanceOf(address,uint256)") + encode(
        ["address", "uint256"], [to_address(owner), token_id]
    )
    what = f"balanceOf(…, {token_id}) of {to_address(contract)}"
    raw = _call(w3, contract, data, gas=_OWNER_OF_GAS, block=block, what=what)
    value = _decode_one("uint256", raw, what=what)
    assert isinstance(value, int)
    return value


def _string_call(
    w3: Web3,
    contract: str,
    signature: str,
    token_id: int,
    *,
    block: BlockIdentifier,
    gas: int,
    max_bytes: int,
) -> str:
    data = _selector(signature) + encode(["uint256"], [token_id])
    what = f"{signature.split('(')[0]}({token_id}) of {to_address(contract)}"
    raw = _call(w3, contract, data, gas=gas, block=block, what=what)
    if len(raw) > max_bytes + 64:  # offset + length words around the string
        raise ResponseTooLarge(f"expected at most {max_bytes} bytes from {what}, found {len(raw)}")
    text = _decode_one("string", raw, what=what)
    assert isinstance(text, str)
    if len(text.encode("utf-8")) > max_bytes:
        raise ResponseTooLarge(f"expected at most {max_bytes} bytes from {what}, found more")
    return text


def token_uri(
    w3: Web3,
    contract: str,
    token_id: int,
    *,
    block: BlockIdentifier = "latest",
    gas: int = DEFAULT_CALL_GAS,
    max_bytes: int = DEFAULT_MAX_URI_BYTES,
) -> str:
    """ERC-721 ``tokenURI``: :class:`TokenNotFound` on revert, :class:`CallOutOfGas` past ``gas``,
    :class:`ResponseTooLarge` past ``max_bytes``, :class:`MalformedResponse` when it is not a
    UTF-8 ABI string."""
    try:
        return _string_call(
            w3, contract, "tokenURI(uint256)", token_id, block=block, gas=gas, max_bytes=max_bytes
        )
    except CallOutOfGas:
        raise
    except CallReverted as exc:
        raise TokenNotFound(str(exc)) from exc


def uri(
    w3: Web3,
    contract: str,
    token_id: int,
    *,
    block: BlockIdentifier = "latest",
    gas: int = DEFAULT_CALL_GAS,
    max_bytes: int = DEFAULT_MAX_URI_BYTES,
) -> str:
    """ERC-1155 ``uri(id)`` as returned (may hold ``{id}``: see :func:`expand_erc1155_uri`)."""
    return _string_call(
        w3, contract, "uri(uint256)", token_id, block=block, gas=gas, max_bytes=max_bytes
    )


def expand_erc1155_uri(template: str, token_id: int) -> str:
    """Replace ``{id}`` by the token ID as 64 lower-case hex digits (ERC-1155 metadata rule)."""
    return template.replace("{id}", f"{token_id:064x}")


def batch_owner_of(
    w3: Web3,
    items: Sequence[tuple[str, int]],
    *,
    batch_size: int = 200,
    block: BlockIdentifier = "latest",
    multicall: str = MULTICALL3_ADDRESS,
    gas_per_call: int = _OWNER_OF_GAS,
    checksum: bool = True,
) -> list[ChecksumAddress | None]:
    """``ownerOf`` for many (contract, token ID) pairs via Multicall3 ``aggregate3``.

    One entry per item, in order: the owner, or None when that call failed, returned something
    other than one address, or returned address zero. Batches are pinned to one block (the
    latest block number is read first unless ``block`` is given). ``checksum=False`` gives
    owners as lowercase hex, for callers that compare thousands of them case-blind.
    """
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, found {batch_size}")
    if block == "latest":
        block = block_number(w3)
    results: list[ChecksumAddress | None] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        results.extend(
            _owner_batch(
                w3, chunk, block=block, multicall=multicall, gas=gas_per_call, checksum=checksum
            )
        )
    return results


def _encode_aggregate3_owner_of(contracts: Sequence[str], token_ids: Sequence[int]) -> bytes:
    """Calldata of ``aggregate3((address,bool,bytes)[])`` whose calls are all
    ``ownerOf(uint256)`` with allowFailure=true, written directly.

    eth_abi's generic encoder spends ~0.1 ms per element here, which dominates a 10,000-token
    re-verification; this shape is fixed (every element is 6 words: address, bool, bytes
    offset, length 36, 36 bytes of calldata padded to 64), so its layout is written out as the
    ABI specifies it. A test checks it byte for byte against eth_abi.
    """
    n = len(contracts)
    out = bytearray(_AGGREGATE3_SELECTOR)
    out += (32).to_bytes(32, "big") + n.to_bytes(32, "big")  # offset of the array, its length
    element = 6 * 32
    for i in range(n):  # offsets of the elements, from the start of the element area
        out += (32 * n + i * element).to_bytes(32, "big")
    true_word = (1).to_bytes(32, "big")
    offset_word = (96).to_bytes(32, "big")
    length_word = (36).to_bytes(32, "big")
    for contract, token_id in zip(contracts, token_ids, strict=True):
        out += bytes(12) + bytes.fromhex(contract[2:]) + true_word + offset_word + length_word
        out += _OWNER_OF_SELECTOR + token_id.to_bytes(32, "big") + bytes(28)
    return bytes(out)


def _word(raw: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(raw):
        raise MalformedResponse(f"aggregate3 result: a word at {at} is past the end ({len(raw)})")
    return int.from_bytes(raw[at : at + 32], "big")


def _decode_aggregate3_results(raw: bytes) -> list[tuple[bool, bytes]]:
    """Decode aggregate3's ``(bool,bytes)[]`` return data, checking every offset and length
    (hand-written for the same reason as the encoder; a test checks it against eth_abi)."""
    base = _word(raw, 0)
    n = _word(raw, base)
    if n > len(raw) // 32:
        raise MalformedResponse(f"aggregate3 result: {n} elements cannot fit {len(raw)} bytes")
    heads = base + 32
    out = []
    for i in range(n):
        at = heads + _word(raw, heads + 32 * i)
        ok = _word(raw, at)
        if ok > 1:
            raise MalformedResponse(f"aggregate3 result: success flag {ok} is not a bool")
        data_at = at + _word(raw, at + 32)
        length = _word(raw, data_at)
        if data_at + 32 + length > len(raw):
            raise MalformedResponse("aggregate3 result: return data runs past the end")
        out.append((ok == 1, raw[data_at + 32 : data_at + 32 + length]))
    return out


def _owner_batch(
    w3: Web3,
    chunk: Sequence[tuple[str, int]],
    *,
    block: BlockIdentifier,
    multicall: str,
    gas: int,
    checksum: bool,
) -> list[ChecksumAddress | None]:
    contracts = {c: to_address(c) for c in {c for c, _ in chunk}}
    data = _encode_aggregate3_owner_of([contracts[c] for c, _ in chunk], [t for _, t in chunk])
    total_gas = 100_000 + gas * len(chunk)
    try:
        raw = _call(w3, multicall, data, gas=total_gas, block=block, what="Multicall3.aggregate3")
    except CallReverted:
        # One target burnt the batch's gas (aggregate3 forwards all of it): ask one by one.
        return [_owner_alone(w3, c, t, block=block) for c, t in chunk]
    decoded = _decode_aggregate3_results(raw)
    if len(decoded) != len(chunk):
        raise MalformedResponse(
            f"expected {len(chunk)} results from Multicall3.aggregate3, found {len(decoded)}"
        )
    return [_owner_or_none(ok, ret, checksum=checksum) for ok, ret in decoded]


def _owner_alone(
    w3: Web3, contract: str, token_id: int, *, block: BlockIdentifier
) -> ChecksumAddress | None:
    try:
        return owner_of(w3, contract, token_id, block=block)
    except (CallReverted, MalformedResponse):
        return None


def _owner_or_none(ok: bool, ret: bytes, *, checksum: bool = True) -> ChecksumAddress | None:
    if not ok or len(ret) != 32 or ret[:12] != bytes(12) or ret == bytes(32):
        return None
    if not checksum:  # lowercase hex, for callers comparing many addresses case-blind
        return cast(ChecksumAddress, "0x" + ret[12:].hex())
    return checksum_address(ret[12:])


def checksum_address(raw: bytes) -> ChecksumAddress:
    """EIP-55 text of a 20-byte address (keccak straight from pycryptodome: eth_utils'
    wrappers cost ~60 µs an address, which shows in batches of thousands)."""
    body = raw.hex()
    digest = _keccak.new(digest_bits=256, data=body.encode()).hexdigest()
    mixed = "".join(
        c.upper() if h in "89abcdef" else c for c, h in zip(body, digest[:40], strict=True)
    )
    return cast(ChecksumAddress, "0x" + mixed)
