"""CARv1: golden header bytes, Kubo's export order, strict streaming import, round trips."""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.car import (
    CarBlock,
    CarDecoder,
    CarReader,
    dag_cbor_links,
    decode_dag_cbor,
    encode_header,
    encode_section,
    export_car,
    import_car,
    write_car,
)
from hexavatar.ipfs.cid import (
    CID,
    DAG_CBOR,
    DAG_PB,
    RAW,
    compute_cid,
    encode_varint,
    verify_block,
)
from hexavatar.ipfs.dagpb import decode_node
from hexavatar.ipfs.errors import CarError
from hexavatar.ipfs.exporter import cat
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015

HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
SMALL = replace(CID_VERSION_1, chunk_size=64, max_links=3)


def _car(roots: list[CID], blocks: list[tuple[CID, bytes]]) -> bytes:
    return b"".join(write_car(roots, blocks))


def _raw(data: bytes) -> tuple[CID, bytes]:
    return compute_cid(data, codec=RAW), data


def _read(car: bytes, **limits: int | bool) -> list[CarBlock]:
    return list(CarReader(io.BytesIO(car), **limits))  # type: ignore[arg-type]


# --- header -------------------------------------------------------------------------------


def test_header_bytes_match_the_spec_layout_for_a_cidv0_root() -> None:
    root = CID.decode(HELLO_V0)
    header = encode_header([root])
    # varint 56, map(2), "roots", array(1), tag 42, bytes(35) 0x00 + CIDv0, "version", 1
    expected = (
        bytes.fromhex("38a265726f6f747381d82a582300")
        + root.bytes
        + bytes.fromhex("6776657273696f6e01")
    )
    assert header == expected


def test_header_bytes_for_a_cidv1_root_start_as_go_car_writes_them() -> None:
    root = CID.decode("bafybeicxdolyh2bq3avlprpo7t6xxjurmchrhb4rhxufnykgb6objxlnoa")
    header = encode_header([root])
    assert header.startswith(bytes.fromhex("3aa265726f6f747381d82a58250001701220"))
    assert header.endswith(root.multihash[2:] + bytes.fromhex("6776657273696f6e01"))


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_header_round_trips_any_roots(payloads: list[bytes]) -> None:
    roots = [compute_cid(p, codec=c) for p, c in zip(payloads, [RAW, DAG_PB] * 20, strict=False)]
    decoder = CarDecoder(require_roots=False)
    decoder.feed(encode_header(roots))
    assert decoder.next_block() is None
    assert decoder.header is not None
    assert list(decoder.header.roots) == roots
    decoder.close()


# --- export -------------------------------------------------------------------------------


def test_export_writes_blocks_depth_first_in_link_order_each_once() -> None:
    store = MemoryBlockstore()
    data = random.Random(3).randbytes(64 * 10)
    root = import_bytes(data, profile=SMALL, blockstore=store).cid
    blocks = [(b.cid, b.data) for b in _read(b"".join(export_car(root, blockstore=store)))]

    expected: list[CID] = []

    def dfs(cid: CID) -> None:
        expected.append(cid)
        if cid.codec == DAG_PB:
            for link in decode_node(store.get(cid)).links:
                dfs(link.hash)

    dfs(root)
    assert [cid for cid, _ in blocks] == expected
    assert len(expected) == len({c.bytes for c in expected}) > 10
    assert b"".join(d for c, d in blocks if c.codec == RAW) == data


def test_export_sends_a_repeated_block_once() -> None:
    store = MemoryBlockstore()
    root = import_bytes(bytes(64 * 9), profile=SMALL, blockstore=store).cid
    blocks = _read(b"".join(export_car(root, blockstore=store)))
    assert len(blocks) == len({b.cid for b in blocks})
    assert [b.cid.codec for b in blocks].count(RAW) == 1  # nine equal leaves, one block


def test_export_import_round_trip_of_a_hamt_folder() -> None:
    store = MemoryBlockstore()
    tree = {f"item-{i}.json": f'{{"n": {i}}}'.encode() for i in range(300)}
    profile = replace(UNIXFS_V0_2015, hamt_threshold=1000)
    result = import_tree(tree, profile=profile, blockstore=store)
    car = b"".join(export_car(result.cid, blockstore=store))
    copy = MemoryBlockstore()
    header = import_car(io.BytesIO(car), blockstore=copy)
    assert header.roots == (result.cid,)
    assert len(copy) == len(store)
    assert b"".join(cat(result.entries["item-77.json"], blockstore=copy)) == b'{"n": 77}'


def test_export_refuses_a_tampered_store_block() -> None:
    store = MemoryBlockstore()
    root = import_bytes(HELLO, profile=UNIXFS_V0_2015, blockstore=store).cid
    store.delete(root)
    store.put(root, b"not the block")
    with pytest.raises(ValueError, match="hash"):
        b"".join(export_car(root, blockstore=store))


# --- strict import ------------------------------------------------------------------------


@pytest.fixture
def good_car() -> tuple[bytes, CID]:
    store = MemoryBlockstore()
    root = import_bytes(random.Random(5).randbytes(640), profile=SMALL, blockstore=store).cid
    return b"".join(export_car(root, blockstore=store)), root


def test_every_truncation_inside_a_section_is_rejected(good_car: tuple[bytes, CID]) -> None:
    car, root = good_car
    blocks = _read(car)
    assert len(blocks) > 5
    boundaries = {len(encode_header([root]))}
    for block in blocks:
        boundaries.add(max(boundaries) + len(encode_section(block.cid, block.data)))
    for cut in range(1, len(car)):
        stream = io.BytesIO(car[:cut])
        if cut in boundaries and cut != min(boundaries):  # may end after a whole section
            assert len(list(CarReader(stream))) == sorted(boundaries).index(cut)
            continue
        with pytest.raises(CarError, match=r"truncated|header|roots"):
            list(CarReader(stream))


@pytest.mark.parametrize("garbage", [b"\x00", b"\x05abc", b"\xff", b"\x01", b"junk" * 10])
def test_trailing_garbage_is_rejected(good_car: tuple[bytes, CID], garbage: bytes) -> None:
    car, _ = good_car
    with pytest.raises(CarError):
        _read(car + garbage)


def test_a_block_that_does_not_match_its_cid_is_rejected(good_car: tuple[bytes, CID]) -> None:
    car, _ = good_car
    tampered = bytearray(car)
    tampered[-1] ^= 0x01
    with pytest.raises(CarError, match="match"):
        _read(bytes(tampered))
    # the good sections before the bad one still came out, verified
    reader = CarReader(io.BytesIO(bytes(tampered)))
    seen = []
    with pytest.raises(CarError):
        for block in reader:
            seen.append(block)
    assert seen and all(compute_cid(b.data, codec=b.cid.codec) == b.cid for b in seen)


def test_roots_missing_from_the_body_are_rejected() -> None:
    absent = compute_cid(b"absent")
    car = _car([absent], [_raw(b"present")])
    with pytest.raises(CarError, match="roots"):
        _read(car)
    assert [b.data for b in _read(car, require_roots=False)] == [b"present"]


def test_identity_roots_need_no_block() -> None:
    probe = CID.decode("bafkqaaa")
    assert _read(_car([probe], [])) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x80\x00", "minimal"),
        (b"\xff" * 10, "at most"),
    ],
)
def test_bad_varints_are_rejected(body: bytes, message: str) -> None:
    with pytest.raises(CarError, match=message):
        _read(body)
    car = encode_header([compute_cid(b"x")]) + body
    with pytest.raises(CarError, match=message):
        _read(car)


def test_oversized_and_empty_sections_are_rejected_before_buffering() -> None:
    cid, data = _raw(b"x" * 5000)
    car = _car([cid], [(cid, data)])
    with pytest.raises(CarError, match=r"in 1\.\.1000"):
        _read(car, max_section_size=1000)
    assert len(_read(car, max_section_size=6000)) == 1
    decoder = CarDecoder()
    decoder.feed(encode_header([cid]))
    with pytest.raises(CarError, match=r"1\.\."):
        decoder.feed(encode_varint(1 << 40))  # the length alone is refused
        decoder.next_block()
    with pytest.raises(CarError, match=r"1\.\."):
        empty = CarDecoder(require_roots=False)
        empty.feed(encode_header([cid]) + b"\x00")
        empty.next_block()


def _header_of(body: bytes) -> bytes:
    return encode_varint(len(body)) + body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (bytes.fromhex("a16776657273696f6e02"), "version 2"),  # CARv2 pragma
        (bytes.fromhex("a265726f6f7473806776657273696f6e01"), "at least one root"),
        (
            bytes.fromhex("a265726f6f74738167") + b"version" + bytes.fromhex("6776657273696f6e01"),
            "list of CIDs",
        ),
        (bytes.fromhex("83010203"), "map"),
        (bytes.fromhex("a26776657273696f6e0165726f6f7473f6"), "list of CIDs"),
        (
            bytes.fromhex("a365726f6f747380")
            + bytes.fromhex("6776657273696f6e01")
            + bytes.fromhex("6178f6"),
            "keys",
        ),
        (bytes.fromhex("bf6776657273696f6e01ff"), "definite-length"),
        (bytes.fromhex("a1677665727369") + b"on" + bytes.fromhex("1801"), "minimal"),
    ],
)
def test_bad_headers_are_rejected(body: bytes, message: str) -> None:
    with pytest.raises(CarError, match=message):
        _read(_header_of(body))


def test_a_section_whose_cid_does_not_parse_is_rejected() -> None:
    car = encode_header([compute_cid(b"x")]) + encode_varint(5) + b"\x02abcd"
    with pytest.raises(CarError, match="CID"):
        _read(car)


def test_no_header_at_all_is_rejected() -> None:
    with pytest.raises(CarError, match="header"):
        _read(b"")


# --- streaming ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=15),
    st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=10),
)
def test_decoder_gives_the_same_blocks_however_the_bytes_are_split(
    payloads: list[bytes], cuts: list[int]
) -> None:
    blocks = [_raw(p) for p in payloads]
    car = _car([blocks[0][0]], blocks)
    decoder = CarDecoder()
    out: list[CarBlock] = []
    pos = 0
    index = 0
    while pos < len(car):
        step = cuts[index % len(cuts)]
        decoder.feed(car[pos : pos + step])
        out += decoder.blocks()
        pos += step
        index += 1
    decoder.close()
    assert [(b.cid, b.data) for b in out] == blocks


class _LazyCar(io.RawIOBase):
    """A CAR of ``count`` distinct 64 KiB raw blocks, generated as it is read."""

    def __init__(self, count: int) -> None:
        self.parts = self._parts(count)
        self.pending = b""

    @staticmethod
    def _parts(count: int) -> Iterator[bytes]:
        first = hashlib.sha256(b"0").digest() * 2048
        yield encode_header([compute_cid(first)])
        for i in range(count):
            data = hashlib.sha256(str(i).encode()).digest() * 2048
            yield encode_section(compute_cid(data), data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            part = next(self.parts, None)
            if part is None:
                break
            self.pending += part
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def test_reader_memory_stays_bounded_by_one_section() -> None:
    stream = io.BufferedReader(_LazyCar(400), buffer_size=65536)  # 25 MiB of blocks
    tracemalloc.start()
    try:
        count = sum(1 for _ in CarReader(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 400
    assert peak < 2 * 1024 * 1024


# --- dag-cbor -----------------------------------------------------------------------------


def test_dag_cbor_links_are_found_in_document_order() -> None:
    a, b = compute_cid(b"a"), compute_cid(b"b", codec=DAG_CBOR)

    def tag(c: CID) -> bytes:
        return b"\xd8\x2a\x58" + bytes((len(c.bytes) + 1,)) + b"\x00" + c.bytes

    # {"x": [a, 1, {"y": b}], "z": "s"}
    block = b"\xa2\x61x\x83" + tag(a) + b"\x01\xa1\x61y" + tag(b) + b"\x61z\x61s"
    assert dag_cbor_links(block) == [a, b]
    assert decode_dag_cbor(block)["z"] == "s"
    with pytest.raises(CarError, match="trailing"):
        decode_dag_cbor(block + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_decoders(data: bytes) -> None:
    with contextlib.suppress(CarError):
        decode_dag_cbor(data)
    decoder = CarDecoder(max_section_size=1 << 16)
    try:
        decoder.feed(data)
        blocks = list(decoder.blocks())
        decoder.close()
    except CarError:
        return
    for block in blocks:  # whatever came out is verified
        verify_block(block.cid, block.data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=6), st.data())
def test_a_mutated_car_is_rejected_or_yields_only_verified_blocks(
    payloads: list[bytes], data: st.DataObject
) -> None:
    blocks = [_raw(p) for p in payloads]
    car = bytearray(_car([blocks[0][0]], blocks))
    index = data.draw(st.integers(0, len(car) - 1))
    car[index] ^= data.draw(st.integers(1, 255))
    try:
        out = _read(bytes(car))
    except CarError:
        return
    for block in out:  # a flipped codec byte still names the same bytes; never wrong bytes
        verify_block(block.cid, block.data)
        assert block.data in payloads


# A CARv1 from a public IPFS gateway test fixture, written by another implementation: a
# CIDv0 folder holding dir/ascii.txt ("goodbye application/vnd.ipld.raw\n").
FOREIGN_CAR = (
    "OKJlcm9vdHOB2CpYIwASINYtKer3BfpGuMWIPdWsb9uI7NkpgkAK1oGSgZqu7C3CZ3ZlcnNpb24BUxIg1i0p6vcF+ka4"
    "xYg91axv24js2SmCQArWgZKBmq7sLcISKwoiEiAgTstHmKenj943aMYUA1+Oavya0rQiXsmagYci19mHgxIDZGlyGGAK"
    "AggBWRIgIE7LR5inp4/eN2jGFANfjmr8mtK0Il7JmoGHItfZh4MSMQoiEiAPs8IjZnqFk0qXYp3tWIvgHIhUN74r8Q1Y"
    "Ze7XvE3EdRIJYXNjaWkudHh0GCkKAggBSxIgD7PCI2Z6hZNKl2Kd7ViL4ByIVDe+K/ENWGXu17xNxHUKJwgCEiFnb29k"
    "YnllIGFwcGxpY2F0aW9uL3ZuZC5pcGxkLnJhdwoYIQ=="
)


def test_a_foreign_car_reads_and_our_export_of_it_is_byte_identical() -> None:
    import base64

    from hexavatar.ipfs.exporter import resolve_trail

    car = base64.b64decode(FOREIGN_CAR)
    reader = CarReader(io.BytesIO(car))
    assert reader.roots == (CID.decode("Qmckhu9X5A4K6wNzQGSrDRoHPhSpbmUELTFRdYjeQZx1M3"),)
    store = MemoryBlockstore()
    for block in reader:
        store.put(block.cid, block.data)
    assert len(store) == 3
    root = reader.roots[0]
    file = resolve_trail(root, "dir/ascii.txt", blockstore=store).cid
    assert b"".join(cat(file, blockstore=store)) == b"goodbye application/vnd.ipld.raw\n"
    assert b"".join(export_car(root, blockstore=store)) == car
