"""Verified fetch: a UnixFS file from untrusted trustless gateways, every byte checked.

Owns retrieval over HTTP (https://specs.ipfs.tech/http-gateways/trustless-gateway/). Hand-written
because no maintained Python client for trustless gateways exists. How it works:

- The walk is driven by need. The path is resolved (flat and HAMT directories) and the file's
  DAG walked depth-first exactly as :mod:`.exporter` walks it locally; each step asks for one
  CID. A block is used only when the walk asks for its CID and it hashes to that CID, so extra
  blocks in a response are never used, a wrong root never matches, and a gateway can at worst
  waste time and bytes — it cannot change a byte of the output.
- Blocks come from the first gateway as a CAR stream (``?format=car&dag-scope=entity``, DFS
  order); a block the CAR does not carry (it ended early, or ``dups=n`` sent it already) is then
  asked for as a raw block (``?format=raw``) from the same gateway. A gateway whose response is
  tampered, malformed, over the byte cap or stalled is dropped for the next one, which resumes at
  the first byte not yet handed out (``entity-bytes``), so the output never repeats or skips.
- Limits (:class:`FetchLimits`): bytes per response (an endless body is cut at the cap), file
  size, seconds without progress per request (a stalled server fails within it) and seconds in
  all. The outcome of every attempt is recorded in a :class:`FetchReport` for provenance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn
from urllib.parse import quote as url_quote

import httpx

from .blockstore import Blockstore, MemoryBlockstore
from .car import DEFAULT_MAX_SECTION_SIZE, CarDecoder
from .cid import CID, IDENTITY, verify_block
from .errors import CarBlockMismatch, CarError, FetchError, IpfsError, UnixFSError, quote
from .exporter import MAX_FILE_DEPTH, decode_file_node, resolve_trail

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = [
    "FetchLimits",
    "FetchReport",
    "GatewayAttempt",
    "fetch_bytes",
    "fetch_verified",
]

CAR_ACCEPT: Final = (
    "application/vnd.ipld.car; version=1; order=dfs; dups=y, "
    "application/vnd.ipld.car; version=1; order=dfs; dups=n; q=0.9"
)
RAW_ACCEPT: Final = "application/vnd.ipld.raw"
Outcome = Literal[
    "ok",
    "http_status",
    "not_car",
    "truncated",
    "malformed",
    "tampered",
    "too_large",
    "timeout",
    "transport",
]
_FATAL: Final = frozenset({"malformed", "tampered", "too_large", "timeout"})


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps of one fetch. ``max_bytes``: bytes read from any one response and bytes of the
    file. ``max_block_size``: bytes of one block. ``request_timeout``: seconds any one wait on
    a gateway (connect, headers, next chunk) may take. ``total_timeout``: seconds in all."""

    max_bytes: int = 256 * 1024 * 1024
    max_block_size: int = DEFAULT_MAX_SECTION_SIZE
    request_timeout: float = 30.0
    total_timeout: float = 300.0


@dataclass(slots=True)
class GatewayAttempt:
    """One try of one gateway in one mode, and how it ended."""

    gateway: str
    mode: Literal["car", "raw"]
    outcome: Outcome = "ok"
    detail: str = ""
    blocks: int = 0
    bytes_read: int = 0


@dataclass(slots=True)
class FetchReport:
    """Provenance of a fetch: every attempt in order, and totals of what was delivered."""

    cid: str = ""
    path: str = ""
    attempts: list[GatewayAttempt] = field(default_factory=list)
    blocks: int = 0
    bytes_out: int = 0
    complete: bool = False

    @property
    def gateways_used(self) -> list[str]:
        """Gateways that delivered at least one verified block, in order."""
        used: list[str] = []
        for attempt in self.attempts:
            if attempt.blocks and attempt.gateway not in used:
                used.append(attempt.gateway)
        return used


class _Failed(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: Outcome = outcome
        self.detail = detail


class _Miss(Exception):
    """The open CAR stream will not carry the asked block (passed already, or it ended)."""


class _Clock:
    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + limits.total_timeout

    async def wait(self, awaitable: Awaitable[Any]) -> Any:
        """Await with the per-wait and the total deadline (``asyncio.TimeoutError`` past it)."""
        if self.loop.time() >= self.deadline:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: release it quietly
            raise FetchError(f"expected the fetch within {self.limits.total_timeout} s, ran out")
        when = min(self.loop.time() + self.limits.request_timeout, self.deadline)
        async with asyncio.timeout_at(when):
            return await awaitable


def _request(
    client: httpx.AsyncClient, url: str, accept: str, limits: FetchLimits
) -> AbstractAsyncContextManager[httpx.Response]:
    timeout = httpx.Timeout(limits.request_timeout)
    return client.stream("GET", url, headers={"Accept": accept}, timeout=timeout)


def _media_type(header: str) -> tuple[str, dict[str, str]]:
    """``(type, parameters)`` of a ``Content-Type``, lower-cased, quotes and spaces around
    ``=`` removed (RFC 9110 section 8.3.1: ``version="1"`` and ``version=1`` are the same)."""
    kind, *parts = header.split(";")
    params: dict[str, str] = {}
    for part in parts:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), params


def _gateway_url(base: str, root: CID, path: str) -> str:
    suffix = f"/{url_quote(path.strip('/'), safe='/')}" if path.strip("/") else ""
    return f"{base.rstrip('/')}/ipfs/{root}{suffix}"


class _CarStream:
    """One CAR response, read as the walk needs blocks; other blocks wait in ``pending``."""

    def __init__(self, attempt: GatewayAttempt, clock: _Clock, limits: FetchLimits) -> None:
        self.attempt = attempt
        self.clock = clock
        self.limits = limits
        self.decoder = CarDecoder(require_roots=False, max_section_size=limits.max_block_size)
        self.pending: dict[bytes, bytes] = {}
        self.pending_bytes = 0
        self.passed: set[bytes] = set()
        self.dups = False
        self.ended = False
        self._context: AbstractAsyncContextManager[httpx.Response] | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def open(self, client: httpx.AsyncClient, url: str) -> None:
        self._context = _request(client, url, CAR_ACCEPT, self.limits)
        response: httpx.Response = await self.clock.wait(self._context.__aenter__())
        if response.status_code != 200:
            raise _Failed(
                "http_status", f"expected HTTP 200 for the CAR, found {response.status_code}"
            )
        media = response.headers.get("content-type", "")
        kind, params = _media_type(media)
        if kind != "application/vnd.ipld.car" or params.get("version", "1") != "1":
            raise _Failed("not_car", f"expected a CARv1 response, found {quote(media)}")
        self.dups = params.get("dups") == "y"  # absent: assume none, ignore any that come
        self._chunks = response.aiter_bytes()

    async def get(self, cid: CID) -> bytes:
        key = cid.multihash
        while True:
            if key in self.pending:
                data = self.pending.pop(key)
                self.pending_bytes -= len(data)
                return data
            if self.ended or (key in self.passed and not self.dups):
                raise _Miss
            block = self.decoder.next_block()
            if block is None:
                await self._read()
                continue
            mh = block.cid.multihash
            self.passed.add(mh)
            if mh == key:
                return block.data
            if mh not in self.pending:  # a duplicate adds nothing to keep
                self.pending[mh] = block.data
                self.pending_bytes += len(block.data)
            if self.pending_bytes > self.limits.max_bytes:
                raise _Failed("too_large", "expected the CAR to send needed blocks, found extras")

    async def _read(self) -> None:
        assert self._chunks is not None
        try:
            chunk = await self.clock.wait(anext(self._chunks))
        except StopAsyncIteration:
            self.ended = True
            try:
                self.decoder.close()
            except CarError as exc:
                raise _Failed("truncated", str(exc)) from None
            return
        self.attempt.bytes_read += len(chunk)
        if self.attempt.bytes_read > self.limits.max_bytes:
            raise _Failed("too_large", f"expected at most {self.limits.max_bytes} bytes, got more")
        self.decoder.feed(chunk)

    async def close(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            with suppress(Exception):
                await context.__aexit__(None, None, None)


class _Source:
    """Verified blocks by CID, from a local blockstore, then gateway after gateway."""

    def __init__(
        self,
        root: CID,
        path: str,
        gateways: Sequence[str],
        client: httpx.AsyncClient,
        limits: FetchLimits,
        blockstore: Blockstore | None,
        report: FetchReport,
    ) -> None:
        self.root, self.path = root, path
        self.gateways = list(gateways)
        self.client, self.limits, self.store, self.report = client, limits, blockstore, report
        self.clock = _Clock(limits)
        self.index = 0
        self.car: _CarStream | None = None
        self.car_tried = False
        self.position = 0  # file bytes handed out so far (resume point on failover)

    async def get(self, cid: CID) -> bytes:
        if cid.hash_code == IDENTITY:
            return cid.digest
        if self.store is not None and self.store.has(cid):
            data = self.store.get(cid)
            verify_block(cid, data)
            return data
        data = await self._fetch(cid)
        if self.store is not None:
            self.store.put(cid, data)
        self.report.blocks += 1
        return data

    async def _fetch(self, cid: CID) -> bytes:
        while self.index < len(self.gateways):
            gateway = self.gateways[self.index]
            try:
                data = await self._from_car(gateway, cid)
                if data is None:
                    data = await self._raw(gateway, cid)
                return data
            except _Failed:
                await self._next_gateway()
        raise FetchError(
            f"expected {cid} from one of {len(self.gateways)} gateways, found none that served "
            f"it verifiably: {_summary(self.report)}",
            report=self.report,
        )

    async def _from_car(self, gateway: str, cid: CID) -> bytes | None:
        if not self.car_tried:
            self.car_tried = True
            attempt = self._attempt(gateway, "car")
            self.car = _CarStream(attempt, self.clock, self.limits)
            try:
                await self._guard(attempt, self._open_car(gateway))
            except _Miss:
                return None
        if self.car is None:
            return None
        attempt = self.car.attempt
        try:
            data: bytes = await self._guard(attempt, self.car.get(cid))
        except _Miss:
            return None
        attempt.blocks += 1
        return data

    async def _open_car(self, gateway: str) -> None:
        url = _gateway_url(gateway, self.root, self.path) + "?format=car&dag-scope=entity"
        if self.position:
            url += f"&entity-bytes={self.position}:*"
        assert self.car is not None
        await self.car.open(self.client, url)

    async def _guard(self, attempt: GatewayAttempt, work: Awaitable[Any]) -> Any:
        """Run ``work``; on failure record it on ``attempt`` and raise (see :meth:`_record`)."""
        try:
            return await work
        except _Miss:
            raise
        except _Failed as failure:
            await self._record(attempt, failure)
        except CarError as exc:
            outcome: Outcome = "tampered" if isinstance(exc, CarBlockMismatch) else "malformed"
            await self._record(attempt, _Failed(outcome, str(exc)))
        except TimeoutError:
            wait = self.limits.request_timeout
            await self._record(attempt, _Failed("timeout", f"no progress within {wait} s"))
        except httpx.HTTPError as exc:
            await self._record(attempt, _Failed("transport", f"{type(exc).__name__}: {exc}"))

    async def _record(self, attempt: GatewayAttempt, failure: _Failed) -> NoReturn:
        """Note ``failure``; raise :class:`_Fallback` when raw blocks from the same gateway are
        still worth a try, else the failure itself (the caller moves to the next gateway)."""
        attempt.outcome, attempt.detail = failure.outcome, failure.detail[:300]
        if attempt.mode == "car" and self.car is not None:
            await self.car.close()
            self.car = None
            if failure.outcome not in _FATAL:
                raise _Fallback  # the same gateway may still serve raw blocks
        raise failure

    async def _raw(self, gateway: str, cid: CID) -> bytes:
        attempt = self._raw_attempt(gateway)
        data: bytes = await self._guard(attempt, self._raw_block(gateway, cid))
        attempt.blocks += 1
        attempt.bytes_read += len(data)
        return data

    async def _raw_block(self, gateway: str, cid: CID) -> bytes:
        url = _gateway_url(gateway, cid, "") + "?format=raw"
        context = _request(self.client, url, RAW_ACCEPT, self.limits)
        try:
            response: httpx.Response = await self.clock.wait(context.__aenter__())
            body = await self._read_block(response, cid)
        finally:
            with suppress(Exception):
                await context.__aexit__(None, None, None)
        try:
            verify_block(cid, body)
        except IpfsError as exc:
            raise _Failed("tampered", str(exc)) from None
        return bytes(body)

    async def _read_block(self, response: httpx.Response, cid: CID) -> bytearray:
        if response.status_code != 200:
            raise _Failed(
                "http_status", f"expected HTTP 200 for {cid}, found {response.status_code}"
            )
        body = bytearray()
        chunks = response.aiter_bytes()
        while True:
            try:
                chunk = await self.clock.wait(anext(chunks))
            except StopAsyncIteration:
                return body
            body += chunk
            if len(body) > self.limits.max_block_size:
                raise _Failed(
                    "too_large",
                    f"expected a block of at most {self.limits.max_block_size} bytes, got more",
                )

    def _attempt(self, gateway: str, mode: Literal["car", "raw"]) -> GatewayAttempt:
        attempt = GatewayAttempt(gateway, mode)
        self.report.attempts.append(attempt)
        return attempt

    def _raw_attempt(self, gateway: str) -> GatewayAttempt:
        last = self.report.attempts[-1] if self.report.attempts else None
        if last is not None and last.gateway == gateway and last.mode == "raw":
            return last
        return self._attempt(gateway, "raw")

    async def _next_gateway(self) -> None:
        await self.close()
        self.index += 1
        self.car_tried = False

    async def close(self) -> None:
        if self.car is not None:
            await self.car.close()
            self.car = None


class _Fallback(_Miss):
    """The CAR failed in a way that leaves raw blocks from the same gateway worth a try."""


def _summary(report: FetchReport) -> str:
    parts = [f"{a.gateway} {a.mode}: {a.outcome} ({a.detail[:80]})" for a in report.attempts]
    return "; ".join(parts) or "no gateway was given"


class _NeedBlock(Exception):
    def __init__(self, cid: CID) -> None:
        super().__init__(str(cid))
        self.cid = cid


class _PullStore:
    """A blockstore view for path resolution: a block not fetched yet raises :class:`_NeedBlock`."""

    def __init__(self, inner: Blockstore) -> None:
        self.inner = inner

    def get(self, cid: CID) -> bytes:
        if cid.hash_code != IDENTITY and not self.inner.has(cid):
            raise _NeedBlock(cid)
        return self.inner.get(cid)

    def has(self, cid: CID) -> bool:
        return self.inner.has(cid)


async def _resolve(source: _Source, root: CID, path: str) -> CID:
    """Resolve ``path`` by re-running the (synchronous) resolver as blocks arrive."""
    if not path.strip("/"):
        return root
    local = source.store if source.store is not None else MemoryBlockstore()
    while True:
        try:
            return resolve_trail(root, path, blockstore=_PullStore(local)).cid  # type: ignore[arg-type]
        except _NeedBlock as need:
            data = await source.get(need.cid)
            local.put(need.cid, data)


def _children(
    node_children: tuple[tuple[CID, int], ...], depth: int
) -> Iterator[tuple[CID, int, int]]:
    for child, size in reversed(node_children):
        if size:  # empty subtrees add no bytes (as the exporter)
            yield child, size, depth + 1


async def _walk(source: _Source, cid: CID) -> AsyncIterator[bytes]:
    stack: list[tuple[CID, int | None, int]] = [(cid, None, 0)]
    while stack:
        current, expected, depth = stack.pop()
        if depth > MAX_FILE_DEPTH:
            raise UnixFSError(f"expected a file DAG at most {MAX_FILE_DEPTH} deep, found deeper")
        node = decode_file_node(current, await source.get(current))
        if expected is None and node.size > source.limits.max_bytes:
            raise FetchError(
                f"expected a file of at most {source.limits.max_bytes} bytes, found {node.size}"
            )
        if expected is not None and node.size != expected:
            raise UnixFSError(
                f"expected {current} to hold {expected} bytes as its parent says, found {node.size}"
            )
        if node.data:
            source.position += len(node.data)
            yield node.data
        stack.extend(_children(node.children, depth))


async def fetch_verified(
    cid: str | CID,
    *,
    path: str = "",
    gateways: Sequence[str],
    client: httpx.AsyncClient,
    limits: FetchLimits = FetchLimits(),
    blockstore: Blockstore | None = None,
    report: FetchReport | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of the UnixFS file at ``cid/path``, as verified chunks, from ``gateways``.

    Blocks already in ``blockstore`` are used (re-hashed) and fetched ones are added to it.
    ``report`` (optional) is filled in as the fetch goes. Raises :class:`FetchError` when no
    gateway serves a needed block within the limits; path and file errors of the (verified) DAG
    itself raise as the exporter's do.
    """
    root = CID.decode(cid)
    report = report if report is not None else FetchReport()
    report.cid, report.path = str(root), path
    source = _Source(root, path, gateways, client, limits, blockstore, report)
    try:
        target = await _resolve(source, root, path)
        async for chunk in _walk(source, target):
            report.bytes_out += len(chunk)
            yield chunk
        report.complete = True
    except FetchError as exc:
        if exc.report is None:
            exc.report = report
        raise
    finally:
        await source.close()


async def fetch_bytes(
    cid: str | CID,
    *,
    path: str = "",
    gateways: Sequence[str],
    client: httpx.AsyncClient,
    limits: FetchLimits = FetchLimits(),
    blockstore: Blockstore | None = None,
    report: FetchReport | None = None,
) -> bytes:
    """The whole file of :func:`fetch_verified`, as bytes."""
    out = bytearray()
    async for chunk in fetch_verified(
        cid,
        path=path,
        gateways=gateways,
        client=client,
        limits=limits,
        blockstore=blockstore,
        report=report,
    ):
        out += chunk
    return bytes(out)
