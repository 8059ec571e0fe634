"""Blockstores: where blocks live, keyed by multihash (placeholder; completed in step 4)."""

from __future__ import annotations

from typing import Protocol

from .cid import CID, Buffer


class Blockstore(Protocol):
    def put(self, cid: CID, data: Buffer) -> None: ...
    def get(self, cid: CID) -> bytes: ...
    def has(self, cid: CID) -> bool: ...
