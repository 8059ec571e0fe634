"""Blockstores: one conformance suite over every implementation, then each one's specifics."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hexavatar.ipfs.blockstore import (
    Blockstore,
    FilesystemBlockstore,
    MemoryBlockstore,
    VerifyingBlockstore,
    list_directory,
    resolve_path,
)
from hexavatar.ipfs.cid import CID, DAG_PB, RAW, compute_cid
from hexavatar.ipfs.errors import (
    BlockNotFound,
    BlockstoreError,
    BlockVerificationError,
    IpfsError,
    PathNotFound,
    PathResolutionError,
)
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015

HELLO = b"hello world\n"


@pytest.fixture(params=["memory", "filesystem", "verifying-memory", "verifying-filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Blockstore]:
    kind: str = request.param
    inner: Blockstore = (
        MemoryBlockstore() if kind.endswith("memory") else FilesystemBlockstore(tmp_path / "b")
    )
    yield VerifyingBlockstore(inner) if kind.startswith("verifying") else inner


def test_satisfies_protocol(store: Blockstore) -> None:
    assert isinstance(store, Blockstore)


def test_put_get_has_size_delete(store: Blockstore) -> None:
    cid = compute_cid(HELLO)
    assert not store.has(cid)
    store.put(cid, HELLO)
    assert store.has(cid)
    assert store.get(cid) == HELLO
    assert store.size(cid) == len(HELLO)
    store.put(cid, memoryview(HELLO))  # idempotent
    store.delete(cid)
    assert not store.has(cid)
    store.delete(cid)  # deleting a missing block is not an error


def test_missing_block(store: Blockstore) -> None:
    cid = compute_cid(b"nope")
    with pytest.raises(BlockNotFound, match=str(cid)) as info:
        store.get(cid)
    assert isinstance(info.value, KeyError) and isinstance(info.value, IpfsError)
    with pytest.raises(BlockNotFound):
        store.size(cid)


def test_keyed_by_multihash(store: Blockstore) -> None:
    block = import_bytes(HELLO, profile=UNIXFS_V0_2015, blockstore=store)
    v0 = block.cid
    assert v0.version == 0
    v1 = v0.to_v1()
    raw_view = CID(1, RAW, v0.multihash)
    assert store.has(v1) and store.has(raw_view)
    assert store.get(v1) == store.get(v0)
    store.delete(v1)
    assert not store.has(v0)


def test_iteration_yields_raw_cids(store: Blockstore) -> None:
    cids = {compute_cid(bytes([i])) for i in range(20)}
    for cid in cids:
        store.put(cid, bytes([cid_index(cid)]))
    dag = compute_cid(b"\x0a\x00", version=0, codec=DAG_PB)
    store.put(dag, b"\x0a\x00")
    found = list(store)
    assert {c.multihash for c in found} == {c.multihash for c in cids} | {dag.multihash}
    assert all(c.version == 1 and c.codec == RAW for c in found)


def cid_index(cid: CID) -> int:
    for i in range(256):
        if compute_cid(bytes([i])) == cid:
            return i
    raise AssertionError


def test_identity_cids_need_no_storage(store: Blockstore) -> None:
    cid = CID.identity(b"inline")
    store.put(cid, b"inline")
    assert store.has(cid)
    assert store.get(cid) == b"inline"
    assert store.size(cid) == 6
    assert cid.multihash not in {c.multihash for c in store}


def test_imported_dag_is_complete(store: Blockstore) -> None:
    result = import_tree(
        {"a/b.txt": b"b" * 300_000, "c.txt": b"c"}, profile=UNIXFS_V0_2015, blockstore=store
    )
    assert resolve_path(store, result.cid, "a/b.txt") == result.entries["a/b.txt"]
    assert sorted(name for name, _ in list_directory(store, result.cid)) == ["a", "c.txt"]


# --- verification ---------------------------------------------------------------------------


def test_verifying_store_rejects_bad_puts_and_gets() -> None:
    inner = MemoryBlockstore()
    store = VerifyingBlockstore(inner)
    cid = compute_cid(HELLO)
    with pytest.raises(BlockVerificationError):
        store.put(cid, b"forged")
    assert not inner.has(cid)
    inner.put(cid, b"forged")  # corrupted behind the wrapper's back
    with pytest.raises(BlockVerificationError, match=str(cid)):
        store.get(cid)


# --- filesystem specifics ------------------------------------------------------------------


def test_flatfs_layout(tmp_path: Path) -> None:
    store = FilesystemBlockstore(tmp_path, sync=False)
    cid = CID.decode("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    store.put(cid, b"x")  # the store does not verify; VerifyingBlockstore does
    key = base64.b32encode(cid.multihash).decode().rstrip("=")
    assert key.startswith("CIQ")
    assert (tmp_path / key[-3:-1] / f"{key}.data").read_bytes() == b"x"
    assert (tmp_path / "SHARDING").read_text() == "/repo/flatfs/shard/v1/next-to-last/2\n"


def test_flatfs_refuses_other_sharding(tmp_path: Path) -> None:
    (tmp_path / "SHARDING").write_text("/repo/flatfs/shard/v1/prefix/2\n")
    with pytest.raises(BlockstoreError, match="next-to-last/2"):
        FilesystemBlockstore(tmp_path)


def test_atomic_write_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlockstore(tmp_path)
    cid = compute_cid(HELLO)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put(cid, HELLO)
    monkeypatch.undo()
    assert not store.has(cid)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["SHARDING"]


def test_stray_files_are_not_blocks(tmp_path: Path) -> None:
    store = FilesystemBlockstore(tmp_path)
    cid = compute_cid(HELLO)
    store.put(cid, HELLO)
    shard = next(p for p in tmp_path.iterdir() if p.is_dir())
    (shard / ".tmp-123-XYZ.data").write_bytes(b"")
    (shard / "NOTBASE32!.data").write_bytes(b"")
    (shard / "README").write_bytes(b"")
    assert [c.multihash for c in store] == [cid.multihash]


def test_reopen_sees_blocks(tmp_path: Path) -> None:
    result = import_bytes(
        b"z" * 600_000, profile=CID_VERSION_1, blockstore=FilesystemBlockstore(tmp_path, sync=False)
    )
    again = FilesystemBlockstore(tmp_path)
    assert again.has(result.cid)
    assert len(list(again)) == 3  # the root and two leaves: both full chunks are one block


def test_concurrent_puts_of_one_block(tmp_path: Path) -> None:
    store = FilesystemBlockstore(tmp_path, sync=False)
    cid = compute_cid(HELLO)
    threads = [threading.Thread(target=store.put, args=(cid, HELLO)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get(cid) == HELLO
    assert len([p for p in tmp_path.rglob("*.data")]) == 1


# --- path resolution errors ----------------------------------------------------------------


def test_resolve_errors() -> None:
    store = MemoryBlockstore()
    result = import_tree({"a/b.txt": b"b", "c.txt": b"c"}, profile=UNIXFS_V0_2015, blockstore=store)
    assert resolve_path(store, result.cid, "") == result.cid
    assert resolve_path(store, str(result.cid), "/a//b.txt/") == result.entries["a/b.txt"]
    with pytest.raises(PathNotFound, match="'missing'") as info:
        resolve_path(store, result.cid, "a/missing")
    assert isinstance(info.value, KeyError)
    with pytest.raises(PathResolutionError, match="expected a directory"):
        resolve_path(store, result.cid, "c.txt/x")
    raw = import_tree({"r": b"r"}, profile=CID_VERSION_1, blockstore=store)
    with pytest.raises(PathResolutionError, match="raw block"):
        resolve_path(store, raw.cid, "r/x")
    store.delete(result.entries["a"])
    with pytest.raises(BlockNotFound):
        resolve_path(store, result.cid, "a/b.txt")


def test_resolve_rehashes_blocks() -> None:
    store = MemoryBlockstore()
    result = import_tree({"a/b.txt": b"b"}, profile=CID_VERSION_1, blockstore=store)
    sub = result.entries["a"]
    forged = import_tree({"b.txt": b"evil"}, profile=CID_VERSION_1, blockstore=store)
    store.delete(sub)
    store._blocks[sub.multihash] = store.get(forged.cid)  # simulate corruption
    with pytest.raises(BlockVerificationError):
        resolve_path(store, result.cid, "a/b.txt")


def test_resolve_through_nested_hamt_shards() -> None:
    store = MemoryBlockstore()
    tree = {f"file{i}": str(i).encode() for i in range(1, 2001)}
    result = import_tree(tree, profile=replace(UNIXFS_V0_2015, hamt_threshold=1), blockstore=store)
    for name in ("file1", "file100", "file2000"):
        assert resolve_path(store, result.cid, name) == result.entries[name]
    with pytest.raises(PathNotFound):
        resolve_path(store, result.cid, "file2001")
    assert len(dict(list_directory(store, result.cid))) == 2000
