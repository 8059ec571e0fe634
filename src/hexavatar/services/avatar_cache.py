"""An in-process cache for the avatar read path (``/u/{username}/avatar``), refreshed ahead of
expiry so that a hot entry never has to be missed.

An entry holds what was read at ``loaded_at`` (the moment its database read *began*) and is
served until ``loaded_at + ttl``, never later: whatever else happens, a change is seen within
``ttl`` (changes made through other processes are normally seen much sooner: they are read
from the database by ``avatar_changes.py`` and invalidate entries). A hit on an entry older
than ``refresh_after`` (three quarters of the TTL unless told) is still answered from the
cache, and also asks the :class:`Refresher` to read the entry again in the background; the
refresher reads many entries in one database query, so a hot entry is replaced before it
expires and requests never wait for the database. Only entries nobody asked for since their
refresh mark expire and are missed.

A change made through this process invalidates the user's entries at once; a load that began
before that invalidation is not stored (it may have read the previous picture). Bounded in
entries (least recently used goes first).

Why by hand: the caching libraries at hand (``cachetools`` and the like) have TTL and LRU but
neither refresh-ahead, batched reloading nor the invalidation guard above.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Refresher", "TtlCache"]

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    owner: int
    loaded_at: float


class TtlCache(Generic[V]):
    def __init__(
        self,
        *,
        ttl: float,
        refresh_after: float | None = None,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.refresh_after = ttl * 0.75 if refresh_after is None else min(refresh_after, ttl)
        self.clock = clock
        self._max = max_entries
        self._data: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._invalidated: dict[int, float] = {}  # owner → when its entries were last dropped
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value if it is fresh (younger than the TTL), else None."""
        return self.lookup(key)[0]

    def lookup(self, key: Hashable) -> tuple[V | None, bool]:
        """``(value, due)``: the fresh value or None, and whether it is past its refresh mark."""
        if self.ttl <= 0:
            return None, False
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None, False
            age = self.clock() - entry.loaded_at
            if age >= self.ttl:
                del self._data[key]
                return None, False
            self._data.move_to_end(key)
            return entry.value, age >= self.refresh_after

    def put(self, key: Hashable, value: V, *, owner: int, loaded_at: float) -> bool:
        """Store ``value``, read from the database from ``loaded_at`` on (a ``clock()``
        reading); refused (False) when already expired or when ``owner``'s entries were
        invalidated after that read began."""
        if self.ttl <= 0:
            return False
        with self._lock:
            now = self.clock()
            if now - loaded_at >= self.ttl or loaded_at <= self._invalidated.get(owner, -1e18):
                return False
            self._data[key] = _Entry(value, owner, loaded_at)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)
            return True

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def invalidate(self, owner: int) -> None:
        """Drop every entry of ``owner`` (a user ID), and any load of it already under way."""
        with self._lock:
            now = self.clock()
            for key in [k for k, e in self._data.items() if e.owner == owner]:
                del self._data[key]
            self._invalidated[owner] = now
            # a load older than the TTL is refused anyway: older marks can go
            for old in [o for o, t in self._invalidated.items() if now - t > self.ttl]:
                del self._invalidated[old]

    def __len__(self) -> int:
        return len(self._data)


class Refresher(Generic[K]):
    """A daemon thread that reloads requested keys in batches: ``reload(keys)`` is called with
    up to ``batch`` keys at a time, ``linger`` seconds after the first of them was requested (so
    that one query serves many keys: a refresh is ahead of expiry, it can wait that long); a key
    already waiting is not queued twice. Errors are logged and the keys dropped (their entries
    then expire and are missed as usual)."""

    def __init__(
        self,
        reload: Callable[[Sequence[K]], object],
        *,
        batch: int = 500,
        linger: float = 0.25,
        name: str = "refresher",
    ) -> None:
        self._reload = reload
        self._batch = batch
        self._linger = linger
        self._name = name
        self._pending: dict[K, None] = {}  # insertion-ordered set
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.rounds = 0  # batches reloaded (tests wait on it)

    def request(self, key: K) -> None:
        with self._wake:
            if self._closed or key in self._pending:
                return
            self._pending[key] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                # gather for ``linger`` (each request wakes this wait: wait out the rest)
                deadline = time.monotonic() + self._linger
                while not self._closed and len(self._pending) < self._batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                if self._closed:
                    return
                keys = list(self._pending)[: self._batch]
            try:
                self._reload(keys)
            except Exception:
                log.warning("refreshing %d cache entries failed", len(keys), exc_info=True)
            with self._wake:
                for key in keys:
                    self._pending.pop(key, None)
                self.rounds += 1

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._pending.clear()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
