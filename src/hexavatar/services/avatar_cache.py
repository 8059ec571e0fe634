"""An in-process cache for the avatar read path (``/u/{username}/avatar``).

Entries live ``ttl`` seconds. A change made through this process invalidates the user's entries
at once; a change made through another process is seen within ``ttl`` (the bound documented in
docs/deployment.md). Bounded in entries (least recently used goes first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    owner: int
    expires: float


class TtlCache(Generic[V]):
    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry.value

    def put(self, key: Hashable, value: V, *, owner: int) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._data[key] = _Entry(value, owner, self._clock() + self._ttl)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def invalidate(self, owner: int) -> None:
        """Drop every entry of ``owner`` (a user ID)."""
        with self._lock:
            for key in [k for k, e in self._data.items() if e.owner == owner]:
                del self._data[key]

    def __len__(self) -> int:
        return len(self._data)
