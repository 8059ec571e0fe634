"""Files: every vector of unixfs.json gives exactly its CID, in every profile."""

from __future__ import annotations

import io
import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexavatar.ipfs.cid import CID, DAG_PB, RAW, verify_block
from hexavatar.ipfs.dagpb import DataType, decode_node, decode_unixfs
from hexavatar.ipfs.errors import ImporterError
from hexavatar.ipfs.importer import import_bytes, import_stream
from hexavatar.ipfs.profiles import (
    CID_VERSION_1,
    PROFILES,
    UNIXFS_V0_2015,
    UNIXFS_V1_2025,
    ImportProfile,
    get_profile,
)

from .conftest import RecordingStore, chacha20_input, load_vectors, random_input

VECTORS = load_vectors("unixfs.json")["vectors"]
KUBO_FIXTURES = load_vectors("unixfs.json")["kubo_test_fixtures"]["vectors"]
SLOW_SIZE = 10_000_000


def _input(vector: dict[str, object]) -> bytes:
    text = str(vector["input"])
    if text.startswith("random.Random(1).randbytes("):
        return random_input(1, int(vector["size"]))  # type: ignore[call-overload]
    return {"b''": b"", "b'hello world\\n'": b"hello world\n"}[text]


def _cases() -> Iterator[object]:
    for vector in VECTORS:
        for profile in PROFILES:
            marks = [pytest.mark.slow] if vector["size"] > SLOW_SIZE else []
            yield pytest.param(vector, profile, id=f"{vector['name']}-{profile}", marks=marks)


@pytest.mark.parametrize(("vector", "profile_name"), list(_cases()))
def test_vector(vector: dict[str, object], profile_name: str) -> None:
    data = _input(vector)
    assert len(data) == vector["size"]
    result = import_bytes(data, profile=PROFILES[profile_name])
    assert str(result.cid) == vector[profile_name]
    assert result.size == len(data)


def _kubo_cases() -> Iterator[object]:
    for fixture in KUBO_FIXTURES:
        marks = [pytest.mark.slow] if fixture["size"] > SLOW_SIZE else []
        yield pytest.param(fixture, id=fixture["name"], marks=marks)


@pytest.mark.parametrize("fixture", list(_kubo_cases()))
def test_kubo_cli_fixture(fixture: dict[str, object]) -> None:
    pytest.importorskip("cryptography")
    data = chacha20_input(str(fixture["seed"]), int(fixture["size"]))  # type: ignore[call-overload]
    result = import_bytes(data, profile=PROFILES[str(fixture["profile"])])
    assert str(result.cid) == fixture["cid"]


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("size", [0, 1, 262_143, 262_144, 262_145, 1_048_577, 3_000_000])
def test_stream_equals_bytes(profile: ImportProfile, size: int) -> None:
    data = random_input(5, size) if size else b""
    expected = import_bytes(data, profile=profile)
    assert import_stream(io.BytesIO(data), profile=profile) == expected
    pieces = [data[i : i + 70_001] for i in range(0, len(data), 70_001)]
    assert import_stream(iter(pieces), profile=profile) == expected
    big = [data[: 2 * 262_144 + 5], data[2 * 262_144 + 5 :]]
    assert import_stream(big, profile=profile) == expected
    assert import_stream(_ReadOnly(data), profile=profile) == expected


class _ReadOnly:
    """A file object with read() only, returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(min(size, 10_000) if size > 0 else size)


def test_stream_short_reads_with_readinto() -> None:
    data = random_input(5, 1_000_000)

    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            return self._inner.readinto(buffer[:777])

    expected = import_bytes(data, profile=CID_VERSION_1)
    assert import_stream(Trickle(), profile=CID_VERSION_1) == expected


def test_stream_rejects_text_and_buffers() -> None:
    with pytest.raises(ImporterError, match="import_bytes"):
        import_stream(b"abc", profile=CID_VERSION_1)  # type: ignore[arg-type]
    with pytest.raises(ImporterError, match="expected bytes from the stream"):
        import_stream(["abc"], profile=CID_VERSION_1)  # type: ignore[list-item]
    with pytest.raises(ImporterError, match="binary file or an iterable"):
        import_stream(42, profile=CID_VERSION_1)  # type: ignore[arg-type]


def test_progress_reports_bytes() -> None:
    seen: list[int] = []
    import_bytes(bytes(600_000), profile=UNIXFS_V0_2015, progress=seen.append)
    assert seen == [262_144, 524_288, 600_000]


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_blocks_are_stored_and_verify(
    profile: ImportProfile, recording_store: RecordingStore
) -> None:
    data = random_input(5, 3_000_000)
    small = replace(profile, chunk_size=100_000, max_links=4)  # deep tree: 30 leaves, 3 levels
    result = import_bytes(data, profile=small, blockstore=recording_store)
    assert result.cid == import_bytes(data, profile=small).cid
    rebuilt = _read_file(recording_store, result.cid)
    assert rebuilt == data
    assert result.tsize == sum(len(b) for b in recording_store.blocks.values())


def _read_file(store: RecordingStore, cid: CID) -> bytes:
    block = store.get(cid)
    verify_block(cid, block)
    if cid.codec == RAW:
        return block
    assert cid.codec == DAG_PB
    node = decode_node(block)
    unixfs = decode_unixfs(node.data or b"")
    assert unixfs.type == DataType.FILE
    assert all(link.name == "" for link in node.links)
    parts = [_read_file(store, link.hash) for link in node.links]
    assert list(unixfs.blocksizes) == [len(p) for p in parts]
    content = (unixfs.data or b"") + b"".join(parts)
    assert unixfs.filesize == len(content)
    return content


def _dag_size(store: RecordingStore, cid: CID) -> int:
    block = store.get(cid)
    if cid.codec == RAW:
        return len(block)
    return len(block) + sum(_dag_size(store, link.hash) for link in decode_node(block).links)


def test_profiles_are_frozen_named_and_validated() -> None:
    assert set(PROFILES) == {"unixfs-v0-2015", "cid-version-1", "unixfs-v1-2025"}
    assert get_profile("cid-version-1") is CID_VERSION_1
    assert (UNIXFS_V1_2025.chunk_size, UNIXFS_V1_2025.max_links) == (1_048_576, 1024)
    with pytest.raises(FrozenInstanceError):
        UNIXFS_V0_2015.chunk_size = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        PROFILES["x"] = UNIXFS_V0_2015  # type: ignore[index]
    with pytest.raises(ImporterError, match="expected a profile name"):
        get_profile("nope")
    for bad in (
        {"chunk_size": 0},
        {"max_links": 1},
        {"hamt_fanout": 100},
        {"cid_version": 2},
        {"hamt_size_estimate": "x"},
        {"hamt_threshold": -1},
    ):
        with pytest.raises(ImporterError):
            replace(UNIXFS_V0_2015, **bad)  # type: ignore[arg-type]


def test_v0_with_raw_leaves_mixes_versions() -> None:
    profile = replace(UNIXFS_V0_2015, raw_leaves=True)
    one = import_bytes(b"abc", profile=profile).cid
    assert (one.version, one.codec) == (1, RAW)  # a raw leaf cannot be CIDv0
    two = import_bytes(bytes(300_000), profile=profile).cid
    assert (two.version, two.codec) == (0, DAG_PB)


def test_import_bytes_accepts_views_of_other_formats() -> None:
    data = random.Random(3).randbytes(4096)
    view = memoryview(data).cast("I")
    assert import_bytes(view, profile=CID_VERSION_1) == import_bytes(data, profile=CID_VERSION_1)


class _Generated:
    """A 1 GiB binary stream made on the fly (one 1 MiB block, varied by a counter)."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = bytearray(random.Random(9).randbytes(1 << 20))
        self._count = 0

    def readinto(self, buffer: memoryview) -> int:
        count = min(len(buffer), len(self._block), self._left)
        self._count += 1
        self._block[:8] = self._count.to_bytes(8, "little")
        buffer[:count] = self._block[:count]
        self._left -= count
        return count


@pytest.mark.slow
@pytest.mark.parametrize("profile", [UNIXFS_V0_2015, UNIXFS_V1_2025], ids=lambda p: p.name)
def test_one_gib_stream_has_bounded_memory(profile: ImportProfile) -> None:
    source = _Generated(1 << 30)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = import_stream(source, profile=profile)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert result.size == 1 << 30
    assert peak < 64 * 1024 * 1024, f"peak growth {peak / 2**20:.1f} MiB"
    assert peak < 4 * 1024 * 1024  # in fact: one chunk buffer and the link lists


# --- property tests -------------------------------------------------------------------------

small_profiles = st.builds(
    lambda version, raw, chunk, links: replace(
        UNIXFS_V0_2015 if version == 0 else CID_VERSION_1,
        raw_leaves=raw,
        chunk_size=chunk,
        max_links=links,
    ),
    st.sampled_from([0, 1]),
    st.booleans(),
    st.integers(1, 300),
    st.integers(2, 5),
)


@settings(max_examples=60, deadline=None)
@given(small_profiles, st.binary(max_size=3000), st.lists(st.integers(1, 700), max_size=8))
def test_any_dag_reads_back_and_streams_alike(
    profile: ImportProfile, data: bytes, cuts: list[int]
) -> None:
    store = RecordingStore()
    result = import_bytes(data, profile=profile, blockstore=store)
    assert _read_file(store, result.cid) == data
    assert result.size == len(data)
    assert result.tsize == _dag_size(store, result.cid)  # a repeated block counts each time
    pieces, pos = [], 0
    for cut in cuts:
        pieces.append(data[pos : pos + cut])
        pos += cut
    pieces.append(data[pos:])
    assert import_stream(pieces, profile=profile).cid == result.cid
