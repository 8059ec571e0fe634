"""The ownership watcher: keeps NFT avatars honest.

Each round, for every chain with active NFT avatars, it reads the ``Transfer`` (ERC-721) and
``TransferSingle``/``TransferBatch`` (ERC-1155) logs of the contracts in use, from its saved
cursor up to the head minus the confirmation depth (so a reorged-out transfer is never acted
on), and when one touches a token in use it re-verifies that chain's avatars at that same safe
block. Every ``full_every`` seconds it re-verifies all of them anyway (Multicall3 batches).

A chain whose node is down, too slow or answers garbage is skipped for the round (logged, and
named in the report) while the other chains go on; its cursor stays where the last good read
left it, and a re-verification it owes (transfers seen, or the full one) is done once the node
answers again. Nothing is dropped on a node's failure.

Several processes may run the watcher (``serve`` starts one, ``hexavatar worker`` is one): a
lease row in the database lets one of them work at a time, and the others stand by.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eth_utils.crypto import keccak
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from ..chain.errors import ChainUnavailable
from ..chain.rpc import block_number, get_logs
from ..storage.db import transaction
from ..storage.models import WatchCursor, WorkerLease
from .nft_avatars import NftAvatars, NodeUnavailable

__all__ = ["OwnershipWatcher", "WatchReport"]

log = logging.getLogger(__name__)

TRANSFER = keccak(text="Transfer(address,address,uint256)")
TRANSFER_SINGLE = keccak(text="TransferSingle(address,address,address,uint256,uint256)")
TRANSFER_BATCH = keccak(text="TransferBatch(address,address,address,uint256[],uint256[])")
_LEASE = "ownership-watcher"
_MAX_RANGE = 5000  # blocks per eth_getLogs request


@dataclass(slots=True)
class WatchReport:
    leader: bool
    chains: dict[int, int] = field(default_factory=dict)  # chain → block processed up to
    heads: dict[int, int] = field(default_factory=dict)  # chain → head block seen this round
    relevant_logs: int = 0
    dropped: list[str] = field(default_factory=list)
    unavailable: dict[int, str] = field(default_factory=dict)  # chain → why it was skipped


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


class OwnershipWatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        nft_avatars: NftAvatars,
        chains: Callable[[int], Web3 | None],
        *,
        depth: int = 1,
        full_every: float = 300.0,
        lease_seconds: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_report: Callable[[WatchReport], None] | None = None,
    ) -> None:
        self._factory = factory
        self._on_report = on_report  # e.g. metrics: called with each round's report
        self._nfts = nft_avatars
        self._chains = chains
        self._depth = depth
        self._full_every = full_every
        self._lease_for = timedelta(seconds=lease_seconds)
        self._now = now
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_full = 0.0
        self._owed: set[int] = set()  # chains whose re-verification is due (hits, full round)

    # -- leadership ---------------------------------------------------------------------------

    def take_lease(self) -> bool:
        """Hold the watcher lease (renewing it) unless another live process holds it."""
        now = self._now()
        with transaction(self._factory) as s:
            got = s.execute(
                update(WorkerLease)
                .where(WorkerLease.name == _LEASE)
                .where((WorkerLease.holder == self.holder) | (WorkerLease.expires_at < now))
                .values(holder=self.holder, expires_at=now + self._lease_for)
            ).rowcount  # type: ignore[attr-defined]
        if got:
            return True
        try:
            with transaction(self._factory) as s:
                s.add(
                    WorkerLease(name=_LEASE, holder=self.holder, expires_at=now + self._lease_for)
                )
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        with transaction(self._factory) as s:
            s.execute(
                update(WorkerLease)
                .where(WorkerLease.name == _LEASE, WorkerLease.holder == self.holder)
                .values(expires_at=self._now() - timedelta(seconds=1))
            )

    # -- one round ----------------------------------------------------------------------------

    def run_once(self) -> WatchReport:
        report = WatchReport(leader=self.take_lease())
        if not report.leader:
            return report
        full = time.monotonic() - self._last_full >= self._full_every
        for chain_id, tokens in self._nfts.tokens_in_use().items():
            try:
                self._watch_chain(report, chain_id, tokens, full=full)
            except NodeUnavailable as e:
                log.warning("ownership watcher: skipping a chain this round: %s", e)
                report.unavailable[chain_id] = str(e)
        if full:
            self._last_full = time.monotonic()
        return report

    def _watch_chain(
        self, report: WatchReport, chain_id: int, tokens: set[tuple[str, int]], *, full: bool
    ) -> None:
        """Scan one chain's logs up to its safe block; re-verify it if a transfer touched a
        token in use or a full round is due (and stays due while its node fails)."""
        if full:
            self._owed.add(chain_id)
        try:
            w3 = self._chains(chain_id)
            if w3 is None:
                return
            report.heads[chain_id] = head = block_number(w3)
            safe = max(0, head - self._depth + 1)
            hits = self._scan(w3, chain_id, tokens, safe)
        except ChainUnavailable as e:
            raise NodeUnavailable(f"chain {chain_id} is unavailable: {e}") from e
        report.chains[chain_id] = safe
        report.relevant_logs += hits
        if hits:
            self._owed.add(chain_id)
        if chain_id in self._owed:
            result = self._nfts.reverify(chain_id=chain_id, depth=self._depth)
            self._owed.discard(chain_id)
            report.dropped += result.dropped

    def _cursor(self, chain_id: int, safe: int) -> int:
        with self._factory() as s:
            row = s.get(WatchCursor, chain_id)
        return row.block if row is not None else max(0, safe - 1)

    def _save_cursor(self, chain_id: int, block: int) -> None:
        with transaction(self._factory) as s:
            row = s.get(WatchCursor, chain_id)
            if row is None:
                s.add(WatchCursor(chain_id=chain_id, block=block))
            else:
                row.block = max(row.block, block)

    def _scan(self, w3: Web3, chain_id: int, tokens: set[tuple[str, int]], safe: int) -> int:
        """Count the transfer logs up to ``safe`` that touch a token in use; move the cursor."""
        start = self._cursor(chain_id, safe) + 1
        contracts = sorted({c for c, _ in tokens})
        hits = 0
        while start <= safe:
            end = min(safe, start + _MAX_RANGE - 1)
            logs = get_logs(
                w3,
                {
                    "fromBlock": start,
                    "toBlock": end,
                    "address": contracts,  # type: ignore[typeddict-item]
                    "topics": [[_hex(TRANSFER), _hex(TRANSFER_SINGLE), _hex(TRANSFER_BATCH)]],
                },
            )
            hits += sum(1 for entry in logs if _touches(entry, tokens))
            self._save_cursor(chain_id, end)
            start = end + 1
        return hits

    # -- the loop -----------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                report = self.run_once()
                if self._on_report is not None:
                    self._on_report(report)
                if report.dropped:
                    log.info("ownership watcher dropped %d NFT avatars", len(report.dropped))
            except Exception:
                log.exception("ownership watcher round failed; retrying")
            stop.wait(interval)
        self.release()


def _touches(entry: object, tokens: set[tuple[str, int]]) -> bool:
    """Whether a Transfer/TransferSingle/TransferBatch log is about a token in ``tokens``."""
    get = entry.get if isinstance(entry, dict) else getattr(entry, "get", None)
    if get is None:
        return True
    address = str(get("address"))
    topics = [bytes(t) for t in get("topics", [])]
    if not topics:
        return False
    if topics[0] == TRANSFER and len(topics) == 4:
        return (address, int.from_bytes(topics[3], "big")) in tokens
    # ERC-1155 ids are in the data; any transfer on a contract in use is worth a re-check.
    return any(c == address for c, _ in tokens)
