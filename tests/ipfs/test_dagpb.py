"""dag-pb and UnixFS codecs: spec fixtures, strictness, round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexavatar.ipfs.cid import CID, DAG_PB, RAW, compute_cid
from hexavatar.ipfs.dagpb import (
    DataType,
    PBLink,
    PBNode,
    UnixFSData,
    UnixTime,
    decode_node,
    decode_unixfs,
    encode_link,
    encode_node,
    encode_unixfs,
    encoded_link_size,
    sort_links,
    unixfs_of,
)
from hexavatar.ipfs.errors import DagPbError, UnixFSError

HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
TARGET = CID.decode("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")


def test_empty_file_node_is_kubo_empty_file() -> None:
    block = encode_node(PBNode(data=encode_unixfs(UnixFSData(DataType.FILE, filesize=0))))
    assert block == bytes.fromhex("0a0408021800")
    assert (
        str(compute_cid(block, version=0, codec=DAG_PB))
        == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    )


def test_hello_leaf_node() -> None:
    data = encode_unixfs(UnixFSData(DataType.FILE, data=b"hello world\n", filesize=12))
    block = encode_node(PBNode(data=data))
    assert str(compute_cid(block, version=0, codec=DAG_PB)) == HELLO_V0
    node = decode_node(block)
    assert unixfs_of(node) == UnixFSData(DataType.FILE, data=b"hello world\n", filesize=12)


def test_empty_directory() -> None:
    block = encode_node(PBNode(data=encode_unixfs(UnixFSData(DataType.DIRECTORY))))
    assert (
        str(compute_cid(block, version=0, codec=DAG_PB))
        == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    )


def test_links_then_data_and_field_order() -> None:
    node = PBNode((PBLink(TARGET), PBLink(TARGET, "", 12), PBLink(TARGET, "a", None)), b"xy")
    block = encode_node(node)
    assert block.startswith(b"\x12")
    assert block.endswith(b"\x0a\x02xy")
    assert decode_node(block) == node
    link = encode_link(PBLink(TARGET, "", 12))
    assert link == b"\x0a\x24" + TARGET.bytes + b"\x12\x00\x18\x0c"
    for item in node.links:
        assert encoded_link_size(item) == 2 + len(encode_link(item))


def test_empty_name_differs_from_missing_name() -> None:
    with_name = encode_node(PBNode((PBLink(TARGET, "", 1),)))
    without = encode_node(PBNode((PBLink(TARGET, None, 1),)))
    assert with_name != without
    assert decode_node(with_name).links[0].name == ""
    assert decode_node(without).links[0].name is None


def test_zero_length_block() -> None:
    assert decode_node(b"") == PBNode((), None)
    assert encode_node(PBNode()) == b""


def test_data_before_links_is_accepted() -> None:
    link = encode_link(PBLink(TARGET, "a"))
    block = b"\x0a\x01z" + b"\x12" + bytes([len(link)]) + link
    assert decode_node(block) == PBNode((PBLink(TARGET, "a"),), b"z")


def test_encode_requires_sorted_links() -> None:
    with pytest.raises(DagPbError, match="sorted by name bytes"):
        encode_node(PBNode((PBLink(TARGET, "b"), PBLink(TARGET, "a"))))
    links = sort_links([PBLink(TARGET, "b"), PBLink(TARGET, "a"), PBLink(TARGET, None)])
    assert [link.name for link in links] == [None, "a", "b"]


def _wrap(link_body: bytes) -> bytes:
    return b"\x12" + bytes([len(link_body)]) + link_body


HASH_FIELD = b"\x0a\x24" + TARGET.bytes


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x0a\x01a\x0a\x01b", "second one"),
        (_wrap(HASH_FIELD) + b"\x0a\x00" + _wrap(HASH_FIELD), "contiguous"),
        (b"\x1a\x00", "field key"),
        (b"\x0a\x05ab", "expected 5 bytes"),
        (_wrap(b"\x12\x00"), "start with Hash"),
        (_wrap(HASH_FIELD + b"\x18\x01\x12\x00"), "in this order"),
        (_wrap(HASH_FIELD + b"\x12\x00\x12\x00"), "in this order"),
        (_wrap(HASH_FIELD + b"\x20\x01"), "in this order"),
        (_wrap(b"\x0a\x03abc"), "binary CID"),
        (_wrap(HASH_FIELD + b"\x18\x80\x00"), "minimal varint"),
        (b"\x0a", "end of the block"),
    ],
)
def test_strict_decoding(block: bytes, message: str) -> None:
    with pytest.raises(DagPbError, match=message):
        decode_node(block)


def test_unixfs_all_fields_round_trip() -> None:
    value = UnixFSData(
        DataType.HAMT_SHARD,
        data=b"\x01",
        filesize=5,
        blocksizes=(1, 2, 300),
        hash_type=0x22,
        fanout=256,
        mode=0o644,
        mtime=UnixTime(-5, 7),
    )
    assert decode_unixfs(encode_unixfs(value)) == value


def test_unixfs_packed_blocksizes_and_unknown_fields() -> None:
    raw = b"\x08\x02\x22\x02\x05\x06" + b"\x50\x01"  # packed blocksizes; field 10 ignored
    assert decode_unixfs(raw) == UnixFSData(DataType.FILE, blocksizes=(5, 6))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Type"),
        (b"\x08\x09", "Type 0..5"),
        (b"\x08\x02\x18", "end of the block"),
        (b"\x0a\x00", "wire type 0"),
        (b"\x08\x02\x42\x02\x15\x00", "4 bytes"),
        (b"\x08\x02\x42\x00", "Seconds"),
    ],
)
def test_unixfs_errors(raw: bytes, message: str) -> None:
    with pytest.raises(UnixFSError, match=message):
        decode_unixfs(raw)


def test_unixfs_of_requires_data() -> None:
    with pytest.raises(UnixFSError, match="no Data"):
        unixfs_of(PBNode())


# --- property tests ---------------------------------------------------------------------

cids = st.builds(
    lambda data, v0: compute_cid(data, version=0, codec=DAG_PB) if v0 else compute_cid(data),
    st.binary(max_size=8),
    st.booleans(),
) | st.binary(max_size=40).map(lambda d: CID.identity(d, codec=RAW))
links = st.builds(
    PBLink,
    cids,
    st.none() | st.text(max_size=12),
    st.none() | st.integers(0, 2**64 - 1),
)
nodes = st.builds(
    lambda ls, data: PBNode(tuple(sort_links(ls)), data),
    st.lists(links, max_size=6),
    st.none() | st.binary(max_size=64),
)


@given(nodes)
def test_node_round_trip(node: PBNode) -> None:
    block = encode_node(node)
    assert decode_node(block) == node
    assert encode_node(decode_node(block)) == block


@given(st.binary(max_size=200))
def test_decode_never_crashes_and_re_encodes_canonically(block: bytes) -> None:
    try:
        node = decode_node(block)
    except DagPbError:
        return
    if node.data is None or not node.links or block.startswith(b"\x12"):
        try:
            assert encode_node(node) == block
        except DagPbError as exc:  # links out of order are decodable, not encodable
            assert "sorted" in str(exc)


unixfs_values = st.builds(
    UnixFSData,
    st.sampled_from(DataType),
    st.none() | st.binary(max_size=32),
    st.none() | st.integers(0, 2**64 - 1),
    st.lists(st.integers(0, 2**64 - 1), max_size=5).map(tuple),
    st.none() | st.integers(0, 2**64 - 1),
    st.none() | st.integers(0, 2**64 - 1),
    st.none() | st.integers(0, 2**32 - 1),
    st.none()
    | st.builds(
        UnixTime, st.integers(-(2**63), 2**63 - 1), st.none() | st.integers(1, 999_999_999)
    ),
)


@given(unixfs_values)
def test_unixfs_round_trip(value: UnixFSData) -> None:
    assert decode_unixfs(encode_unixfs(value)) == value


@given(st.binary(max_size=100))
def test_unixfs_decode_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(UnixFSError):
        decode_unixfs(raw)
