"""Connections to a JSON-RPC node.

:func:`connect` builds the one kind of :class:`~web3.Web3` this package expects: HTTP, a request
timeout, no proxy for loopback nodes, and web3's CCIP-Read (EIP-3668) turned OFF for the whole
provider. CCIP-Read lets any contract we call make this server fetch a URL of its choosing, so it
must never be on for contracts we do not control; :mod:`hexavatar.chain.tokens` also passes
``ccip_read_enabled=False`` on every call, so a caller's own ``Web3`` is safe too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers.rpc import HTTPProvider

from .errors import ChainUnavailable, InvalidAddress, quote

__all__ = ["chain_id_of", "connect", "rpc_error_message", "to_address"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A :class:`Web3` for ``rpc_url`` (http/https) with CCIP-Read disabled and the chain ID
    asked once."""
    parts = urlsplit(rpc_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChainUnavailable(f"expected an http(s) JSON-RPC URL, found {quote(rpc_url)}")
    request_kwargs: dict[str, object] = {"timeout": timeout}
    if parts.hostname in _LOOPBACK_HOSTS:
        request_kwargs["proxies"] = {"http": None, "https": None}
    # web3 asks eth_chainId before every eth_call (twice): cache that one answer per provider,
    # so a batch of reads is one request each.
    provider = HTTPProvider(
        rpc_url,
        request_kwargs=request_kwargs,
        cache_allowed_requests=True,
        cacheable_requests={"eth_chainId"},
    )
    provider.global_ccip_read_enabled = False
    return Web3(provider)


def chain_id_of(w3: Web3) -> int:
    """The node's chain id; :class:`ChainUnavailable` when it cannot be reached."""
    try:
        return int(w3.eth.chain_id)
    except (OSError, ConnectionError) as exc:
        raise ChainUnavailable(f"expected a JSON-RPC node to answer eth_chainId: {exc!s}") from exc


def rpc_error_message(exc: Web3RPCError) -> str:
    """The node's own error message of a JSON-RPC error (not web3's wrapper text)."""
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return str(exc.message)


def to_address(value: object) -> ChecksumAddress:
    """``value`` as an EIP-55 checksummed address; :class:`InvalidAddress` if it is none.

    Mixed-case input must carry a valid EIP-55 checksum; all-lower/upper-case hex is accepted.
    """
    if isinstance(value, str):
        body = value.removeprefix("0x").removeprefix("0X")
        if len(body) == 40 and all(c in "0123456789abcdefABCDEF" for c in body):
            checksummed = to_checksum_address("0x" + body)
            mixed = body != body.lower() and body != body.upper()
            if not mixed or checksummed[2:] == body:
                return checksummed
    raise InvalidAddress(f"expected a 0x-prefixed 20-byte hex address, found {quote(value)}")
