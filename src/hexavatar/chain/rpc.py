"""Connections to a JSON-RPC node.

:func:`connect` builds the one kind of :class:`~web3.Web3` this package expects: HTTP, a request
timeout, no proxy for loopback nodes, and web3's CCIP-Read (EIP-3668) turned OFF for the whole
provider. CCIP-Read lets any contract we call make this server fetch a URL of its choosing, so it
must never be on for contracts we do not control; :mod:`hexavatar.chain.tokens` also passes
``ccip_read_enabled=False`` on every call, so a caller's own ``Web3`` is safe too.

Retries: web3 tries a failed read five times by default, a timed-out one included, so a node
that never answers held a request for five timeouts (five minutes at the default 60 s). Here a
refused or reset connection and an HTTP error status are tried three times in all (they fail
fast), a read that timed out once: it fails after one timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import HTTPError, Timeout
from web3 import Web3
from web3.exceptions import Web3Exception, Web3RPCError
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import FilterParams, LogReceipt

from .errors import ChainError, ChainUnavailable, InvalidAddress, quote

__all__ = [
    "NODE_FAILURES",
    "asking_node",
    "block_number",
    "chain_id_of",
    "connect",
    "describe_failure",
    "get_logs",
    "node_unavailable",
    "redact_url",
    "rpc_error_message",
    "to_address",
]

NODE_FAILURES: tuple[type[Exception], ...] = (OSError, ValueError, TypeError, Web3Exception)
"""What web3 raises when a node is down or slow (``OSError``: refused, reset, timed out, an
HTTP error status) or answers something that is not JSON-RPC (``ValueError`` from the JSON
decoder or a result formatter, ``TypeError``, web3's ``BadResponseFormat``). Catch
:class:`~web3.exceptions.Web3RPCError` (the node's own error answer) before these when it means
something else to the caller."""

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A :class:`Web3` for ``rpc_url`` (http/https) with CCIP-Read disabled and the chain ID
    asked once."""
    parts = urlsplit(rpc_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        found = quote(redact_url(rpc_url))
        raise ChainUnavailable(f"expected an http(s) JSON-RPC URL, found {found}")
    request_kwargs: dict[str, object] = {"timeout": timeout}
    if parts.hostname in _LOOPBACK_HOSTS:
        request_kwargs["proxies"] = {"http": None, "https": None}
    # web3 asks eth_chainId before every eth_call (twice): cache that one answer per provider,
    # so a batch of reads is one request each.
    provider = HTTPProvider(
        rpc_url,
        request_kwargs=request_kwargs,
        # not requests' Timeout (a connect timeout is also a ConnectionError: retried)
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(RequestsConnectionError, HTTPError),
            retries=3,  # attempts, in all
        ),
        cache_allowed_requests=True,
        cacheable_requests={"eth_chainId"},
    )
    provider.global_ccip_read_enabled = False
    return Web3(provider)


def chain_id_of(w3: Web3) -> int:
    """The node's chain id; :class:`ChainUnavailable` when the node is down, too slow, or
    answers anything but a chain id."""
    try:
        chain_id: object = w3.eth.chain_id
    except NODE_FAILURES as exc:
        raise node_unavailable("eth_chainId", exc) from None
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0:
        raise ChainUnavailable(f"expected a chain id from eth_chainId, found {quote(chain_id)}")
    return chain_id


def redact_url(url: str) -> str:
    """``url`` with only its scheme, host and port: an RPC URL often carries an API key in its
    path or query, or a password in its userinfo, and must not reach a message."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparsable URL>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "<no scheme>"


def describe_failure(exc: BaseException) -> str:
    """How a node failed, in words that never quote the exception's text (requests' messages
    hold the request URL, API key included)."""
    if isinstance(exc, HTTPError) and exc.response is not None:
        return f"answered HTTP {exc.response.status_code}"
    if isinstance(exc, Timeout | TimeoutError):
        return "did not answer in time"
    if isinstance(exc, OSError):
        return f"could not be reached ({type(exc).__name__})"
    if isinstance(exc, Web3RPCError):
        return f"answered the JSON-RPC error {quote(rpc_error_message(exc))}"
    return f"answered something that is not a JSON-RPC result ({type(exc).__name__})"


def node_unavailable(what: str, exc: BaseException) -> ChainUnavailable:
    """The :class:`ChainUnavailable` for a node that failed to answer ``what`` (a JSON-RPC
    method, or what was asked of it): says how it failed, never quotes ``exc``.

    Raise it ``from None``: a logged traceback prints a cause's text, and requests' holds the
    request URL (the failure stays reachable as ``__context__``)."""
    return ChainUnavailable(f"expected the node to answer {what}, it {describe_failure(exc)}")


@contextmanager
def asking_node(what: str) -> Iterator[None]:
    """Turn a node failure (:data:`NODE_FAILURES`) in the block into :func:`node_unavailable`;
    a :class:`ChainError` raised in the block passes unchanged. Catch what means something else
    (``TransactionNotFound``, a revert) inside the block."""
    try:
        yield
    except ChainError:
        raise
    except NODE_FAILURES as exc:
        raise node_unavailable(what, exc) from None


def block_number(w3: Web3) -> int:
    """The node's latest block number; :class:`ChainUnavailable` when the node is down, too slow,
    or answers anything but a block number."""
    try:
        number: object = w3.eth.block_number
    except NODE_FAILURES as exc:
        raise node_unavailable("eth_blockNumber", exc) from None
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        found = quote(number)
        raise ChainUnavailable(f"expected a block number from eth_blockNumber, found {found}")
    return number


def get_logs(w3: Web3, params: FilterParams) -> Sequence[LogReceipt]:
    """``eth_getLogs``; :class:`ChainUnavailable` when the node is down, too slow, refuses the
    query (a JSON-RPC error, e.g. its range limit) or answers something that is not logs."""
    try:
        logs: object = w3.eth.get_logs(params)
    except NODE_FAILURES as exc:
        raise node_unavailable("eth_getLogs", exc) from None
    if not isinstance(logs, list | tuple):
        raise ChainUnavailable(f"expected a list of logs from eth_getLogs, found {quote(logs)}")
    return logs


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
