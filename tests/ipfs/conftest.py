"""Shared fixtures of the ipfs tests: the vectors in ../shared/vectors and input generators."""

from __future__ import annotations

import hashlib
import json
import random
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest

from hexavatar.ipfs.cid import CID, Buffer


def _vectors_dir() -> Path:
    """``shared/vectors`` beside the repository (or beside any folder above this file)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vectors"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("expected shared/vectors beside the repository, found none")


VECTORS_DIR = _vectors_dir()


@cache
def load_vectors(name: str) -> Any:
    return json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=2)
def random_input(seed: int, size: int) -> bytes:
    """``random.Random(seed).randbytes(size)`` from a fresh generator, as the vectors say."""
    return random.Random(seed).randbytes(size)


@lru_cache(maxsize=2)
def chacha20_input(seed: str, size: int) -> bytes:
    """Kubo's CLI-test input: ChaCha20 keystream, key sha256(seed), zero nonce, counter 0."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    key = hashlib.sha256(seed.encode()).digest()
    encryptor = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    return encryptor.update(bytes(size)) + encryptor.finalize()


class RecordingStore:
    """The smallest blockstore: a dict by multihash, counting puts."""

    def __init__(self) -> None:
        self.blocks: dict[bytes, bytes] = {}
        self.puts = 0

    def put(self, cid: CID, data: Buffer) -> None:
        self.puts += 1
        self.blocks[cid.multihash] = bytes(data)

    def get(self, cid: CID) -> bytes:
        return self.blocks[cid.multihash]

    def has(self, cid: CID) -> bool:
        return cid.multihash in self.blocks


@pytest.fixture
def recording_store() -> RecordingStore:
    return RecordingStore()
