"""Exporter: files back out of their DAGs (verified, streaming, ranges), paths, DAG walks."""

from __future__ import annotations

import ast
import random
import tracemalloc
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.cid import CID, DAG_PB, RAW, compute_cid
from hexavatar.ipfs.dagpb import DataType, PBLink, PBNode, UnixFSData, encode_node, encode_unixfs
from hexavatar.ipfs.errors import (
    BlockNotFound,
    BlockVerificationError,
    NotAFileError,
    PathNotFound,
    PathResolutionError,
    UnixFSError,
)
from hexavatar.ipfs.exporter import cat, file_size, resolve_trail, walk_dag
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, PROFILES, UNIXFS_V0_2015

from .conftest import load_vectors, random_input

SMALL = replace(CID_VERSION_1, chunk_size=100, max_links=3)
SMALL_V0 = replace(UNIXFS_V0_2015, chunk_size=100, max_links=3)


class CountingStore(MemoryBlockstore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, cid: CID) -> bytes:
        self.gets += 1
        return super().get(cid)


def _vector_input(vector: dict[str, str]) -> bytes | None:
    text = vector["input"]
    if text.startswith("random.Random(1).randbytes("):
        size = int(text[len("random.Random(1).randbytes(") : -1])
        return random_input(1, size) if size <= 4 * 1024 * 1024 else None
    if text.startswith("b'") or text.startswith('b"'):
        return bytes(ast.literal_eval(text))
    return None


VECTORS = [v for v in load_vectors("unixfs.json")["vectors"] if _vector_input(v) is not None]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_cat_gives_back_every_vector_file(vector: dict[str, str], profile: str) -> None:
    data = _vector_input(vector)
    assert data is not None
    store = MemoryBlockstore()
    result = import_bytes(data, profile=PROFILES[profile], blockstore=store)
    assert str(result.cid) == vector[profile]
    assert b"".join(cat(vector[profile], blockstore=store)) == data
    assert file_size(result.cid, blockstore=store) == len(data)


@pytest.fixture(scope="module")
def deep_file() -> tuple[bytes, CID, CountingStore]:
    data = random.Random(7).randbytes(100 * 60 + 37)
    store = CountingStore()
    root = import_bytes(data, profile=SMALL, blockstore=store).cid
    return data, root, store


@settings(max_examples=150, deadline=None)
@given(offset=st.integers(0, 6200), length=st.one_of(st.none(), st.integers(0, 7000)))
def test_any_range_is_the_slice(
    deep_file: tuple[bytes, CID, CountingStore], offset: int, length: int | None
) -> None:
    data, root, store = deep_file
    end = None if length is None else offset + length
    chunks = list(cat(root, blockstore=store, offset=offset, length=length))
    assert b"".join(chunks) == data[offset:end]
    assert all(chunks)


def test_a_small_range_reads_one_path_of_the_tree(
    deep_file: tuple[bytes, CID, CountingStore],
) -> None:
    data, root, store = deep_file
    before = store.gets
    assert b"".join(cat(root, blockstore=store, offset=3050, length=10)) == data[3050:3060]
    depth = 5  # 61 leaves, 3 links per node: 4 levels of internal nodes above the leaves
    assert store.gets - before <= depth + 1


def test_dag_pb_leaves_and_cidv0_also_stream(deep_file: tuple[bytes, CID, CountingStore]) -> None:
    data, _, _ = deep_file
    store = MemoryBlockstore()
    root = import_bytes(data, profile=SMALL_V0, blockstore=store).cid
    assert root.version == 0
    assert b"".join(cat(root, blockstore=store, offset=99, length=202)) == data[99:301]


def _tamper(store: MemoryBlockstore, cid: CID, data: bytes) -> None:
    store.delete(cid)
    store.put(cid, data)


def test_no_byte_of_a_tampered_leaf_is_yielded() -> None:
    data = random.Random(9).randbytes(1000)
    store = MemoryBlockstore()
    result = import_bytes(data, profile=replace(SMALL, max_links=174), blockstore=store)
    third = compute_cid(data[200:300], codec=RAW)
    _tamper(store, third, b"X" * 100)
    out = []
    with pytest.raises(BlockVerificationError):
        for chunk in cat(result.cid, blockstore=store):
            out.append(chunk)
    assert b"".join(out) == data[:200]


def test_a_tampered_root_yields_nothing() -> None:
    store = MemoryBlockstore()
    root = import_bytes(b"hello world\n", profile=UNIXFS_V0_2015, blockstore=store).cid
    _tamper(store, root, b"\x0a\x02\x08\x02")
    with pytest.raises(BlockVerificationError):
        next(cat(root, blockstore=store))


def _put_node(store: MemoryBlockstore, node: PBNode) -> CID:
    block = encode_node(node)
    cid = compute_cid(block, codec=DAG_PB)
    store.put(cid, block)
    return cid


def _file_node(store: MemoryBlockstore, children: list[tuple[CID, int]], **kw: object) -> CID:
    unixfs = UnixFSData(DataType.FILE, blocksizes=tuple(s for _, s in children), **kw)  # type: ignore[arg-type]
    links = tuple(PBLink(c, "", s) for c, s in children)
    return _put_node(store, PBNode(links, encode_unixfs(unixfs)))


def test_a_child_longer_than_its_blocksize_is_refused() -> None:
    store = MemoryBlockstore()
    leaf = compute_cid(b"abcdef", codec=RAW)
    store.put(leaf, b"abcdef")
    root = _file_node(store, [(leaf, 3)], filesize=3)
    assert file_size(root, blockstore=store) == 3
    with pytest.raises(UnixFSError, match="hold 3 bytes"):
        b"".join(cat(root, blockstore=store))


def test_a_filesize_that_disagrees_with_blocksizes_is_refused() -> None:
    store = MemoryBlockstore()
    leaf = compute_cid(b"abc", codec=RAW)
    store.put(leaf, b"abc")
    root = _file_node(store, [(leaf, 3)], filesize=10)
    with pytest.raises(UnixFSError, match="filesize"):
        next(cat(root, blockstore=store))


def test_identity_leaves_are_read_inline() -> None:
    store = MemoryBlockstore()
    inline = CID.identity(b"inline!")
    leaf = compute_cid(b" and stored", codec=RAW)
    store.put(leaf, b" and stored")
    root = _file_node(store, [(inline, 7), (leaf, 11)], filesize=18)
    assert b"".join(cat(root, blockstore=store)) == b"inline! and stored"
    assert b"".join(cat(CID.identity(b"just this"), blockstore=store)) == b"just this"
    blocks = [cid for cid, _ in walk_dag(root, blockstore=store)]
    assert blocks == [root, leaf]  # identity blocks are never sent


def test_a_missing_block_is_reported() -> None:
    store = MemoryBlockstore()
    with pytest.raises(BlockNotFound):
        next(cat(compute_cid(b"nowhere", codec=RAW), blockstore=store))


def test_cat_of_a_directory_or_symlink_is_refused() -> None:
    store = MemoryBlockstore()
    result = import_tree({"a.txt": b"a"}, profile=CID_VERSION_1, blockstore=store)
    with pytest.raises(NotAFileError, match="directory"):
        next(cat(result.cid, blockstore=store))
    link = _put_node(store, PBNode(data=encode_unixfs(UnixFSData(DataType.SYMLINK, data=b"a"))))
    with pytest.raises(NotAFileError, match="symlink"):
        next(cat(link, blockstore=store))


def test_memory_stays_bounded_while_streaming_a_big_file() -> None:
    data = random.Random(11).randbytes(24 * 1024 * 1024)
    store = MemoryBlockstore()
    root = import_bytes(data, profile=CID_VERSION_1, blockstore=store).cid
    tracemalloc.start()
    try:
        total = 0
        for chunk in cat(root, blockstore=store):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(data)
    assert peak < 2 * 1024 * 1024


# --- paths and walks ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharded() -> tuple[CID, MemoryBlockstore, dict[str, bytes]]:
    store = MemoryBlockstore()
    tree = {f"{i}.json": f'{{"id": {i}}}'.encode() for i in range(400)}
    tree["docs/readme.txt"] = b"read me\n"
    profile = replace(CID_VERSION_1, hamt_threshold=2000)
    return import_tree(tree, profile=profile, blockstore=store).cid, store, tree


def test_resolve_trail_through_a_hamt_lists_roots_and_every_block(
    sharded: tuple[CID, MemoryBlockstore, dict[str, bytes]],
) -> None:
    root, store, tree = sharded
    trail = resolve_trail(root, "/123.json", blockstore=store)
    assert b"".join(cat(trail.cid, blockstore=store)) == tree["123.json"]
    assert trail.roots == (root, trail.cid)
    assert trail.blocks[0] == root
    assert trail.cid not in trail.blocks
    nested = resolve_trail(root, "docs/readme.txt", blockstore=store)
    assert len(nested.roots) == 3
    assert b"".join(cat(nested.cid, blockstore=store)) == b"read me\n"
    with pytest.raises(PathNotFound):
        resolve_trail(root, "nope.json", blockstore=store)
    with pytest.raises(PathResolutionError):
        resolve_trail(root, "123.json/deeper", blockstore=store)


def test_walk_scopes(sharded: tuple[CID, MemoryBlockstore, dict[str, bytes]]) -> None:
    root, store, _ = sharded
    everything = [cid for cid, _ in walk_dag(root, blockstore=store, scope="all")]
    assert len(everything) == len(store)
    assert everything[0] == root
    assert [c for c, _ in walk_dag(root, blockstore=store, scope="block")] == [root]
    entity = [c for c, _ in walk_dag(root, blockstore=store, scope="entity")]
    assert entity[0] == root
    assert 1 < len(entity) < len(everything)
    assert all(c.codec == DAG_PB for c in entity)  # shards only, no file blocks


def test_entity_bytes_narrows_a_file_to_the_blocks_of_the_range(
    deep_file: tuple[bytes, CID, CountingStore],
) -> None:
    _, root, store = deep_file
    full = [c for c, _ in walk_dag(root, blockstore=store, scope="entity")]
    part = [c for c, _ in walk_dag(root, blockstore=store, scope="entity", entity_bytes=(0, 150))]
    leaves = [c for c in part if c.codec == RAW]
    assert len(leaves) == 2
    assert part[0] == root
    assert set(part) < set(full)
    none = [c for c, _ in walk_dag(root, blockstore=store, scope="entity", entity_bytes=(10, 10))]
    assert none == [root]


def test_empty_subtrees_are_not_walked() -> None:
    store = MemoryBlockstore()
    leaf = compute_cid(b"abc", codec=RAW)
    store.put(leaf, b"abc")
    absent = compute_cid(b"never fetched", codec=DAG_PB)
    root = _file_node(store, [(leaf, 3)] + [(absent, 0)] * 50, filesize=3)
    assert b"".join(cat(root, blockstore=store)) == b"abc"


def test_dups_walks_repeat_shared_blocks_within_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from hexavatar.ipfs import exporter

    store = MemoryBlockstore()
    tree = {"a/same.txt": b"same", "b/same.txt": b"same", "c/same.txt": b"same"}
    root = import_tree(tree, profile=CID_VERSION_1, blockstore=store).cid
    once = [c for c, _ in walk_dag(root, blockstore=store)]
    every = [c for c, _ in walk_dag(root, blockstore=store, dups=True)]
    assert len(once) == 3  # root, one folder block (a, b, c are equal), one file block
    assert len(every) == 7
    monkeypatch.setattr(exporter, "MAX_WALK_BLOCKS", 5)
    with pytest.raises(UnixFSError, match="at most 5 blocks"):
        list(walk_dag(root, blockstore=store, dups=True))
