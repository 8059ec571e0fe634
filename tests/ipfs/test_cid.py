"""CIDs: golden values, conversions, multibase, malformed input, verify_block."""

from __future__ import annotations

import contextlib
import hashlib
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexavatar.ipfs import multibase
from hexavatar.ipfs.cid import (
    CID,
    DAG_CBOR,
    DAG_PB,
    IDENTITY,
    JSON,
    MAX_IDENTITY_LENGTH,
    RAW,
    SHA2_256,
    SHA2_512,
    compute_cid,
    compute_multihash,
    decode_multihash,
    decode_varint,
    encode_multihash,
    encode_varint,
    verify_block,
)
from hexavatar.ipfs.errors import (
    BlockVerificationError,
    CidError,
    IpfsError,
    MultibaseError,
    UnsupportedHashError,
)

HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # dag-pb UnixFS file
HELLO_V0_AS_V1 = "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby"
HELLO_RAW = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
EMPTY_DAGPB_V0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"  # zero-length dag-pb block
EMPTY_DAGPB_V1 = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_v0_parse_and_fields() -> None:
    cid = CID.decode(HELLO_V0)
    assert cid.version == 0
    assert cid.codec == DAG_PB
    assert cid.hash_code == SHA2_256
    assert len(cid.digest) == 32
    assert cid.bytes == cid.multihash
    assert len(cid.bytes) == 34
    assert str(cid) == HELLO_V0
    assert CID.decode(cid.bytes) == cid


def test_v1_raw_is_sha256_of_bytes() -> None:
    cid = CID.decode(HELLO_RAW)
    assert (cid.version, cid.codec, cid.codec_name) == (1, RAW, "raw")
    assert cid.digest == hashlib.sha256(HELLO).digest()
    assert compute_cid(HELLO) == cid
    assert str(compute_cid(HELLO)) == HELLO_RAW


def test_zero_length_dagpb_block_cids() -> None:
    assert str(compute_cid(b"", version=0, codec=DAG_PB)) == EMPTY_DAGPB_V0
    assert str(compute_cid(b"", version=1, codec=DAG_PB)) == EMPTY_DAGPB_V1


def test_v0_v1_conversions() -> None:
    v0 = CID.decode(HELLO_V0)
    v1 = v0.to_v1()
    assert str(v1) == HELLO_V0_AS_V1
    assert v1.to_v0() == v0
    assert v0.to_v0() is v0
    assert v1.to_v1() is v1
    assert v1 != v0
    assert v1.multihash == v0.multihash


def test_to_v0_refuses_raw_and_other_hashes() -> None:
    with pytest.raises(CidError, match="expected a dag-pb CID with a sha2-256"):
        CID.decode(HELLO_RAW).to_v0()
    other = compute_cid(b"x", codec=DAG_PB, hash_code=SHA2_512)
    with pytest.raises(CidError, match="sha2-512"):
        other.to_v0()


@pytest.mark.parametrize(
    "base",
    [
        "base58btc",
        "base32",
        "base36",
        "base32upper",
        "base36upper",
        "base16",
        "base16upper",
        "base64",
        "base64url",
    ],
)
def test_v1_in_every_base_round_trips(base: str) -> None:
    cid = CID.decode(HELLO_RAW)
    text = cid.encode(base)  # type: ignore[arg-type]
    assert text[0] == multibase.BASE_PREFIXES[base]
    assert CID.decode(text) == cid


def test_base36_known_value() -> None:
    # `ipfs cid format -b base36 bafybeicg2r…` gives this (k51…-style strings are libp2p keys)
    cid = CID.decode(HELLO_V0_AS_V1)
    assert cid.encode("base36") == "k2jmtxt4nv2kx0qz1ncwpjwzdixb27xsgqxk7kgho4nnmjceustvi80e"


def test_v0_only_in_base58btc() -> None:
    with pytest.raises(CidError, match="base58btc"):
        CID.decode(HELLO_V0).encode("base32")
    with pytest.raises(CidError, match="bare base58btc"):
        CID.decode("z" + HELLO_V0)


def test_codecs_dag_cbor_and_json() -> None:
    for codec in (DAG_CBOR, JSON):
        cid = compute_cid(b"{}", codec=codec)
        assert CID.decode(str(cid)).codec == codec
    assert compute_cid(b"{}", codec=JSON).bytes[:3] == b"\x01\x80\x04"


def test_identity_cid_inline_data() -> None:
    cid = CID.identity(b"abc")
    assert str(cid) == "bafkqaa3bmjrq"
    assert cid.is_identity and cid.hash_code == IDENTITY
    assert cid.digest == b"abc"
    verify_block(cid, b"abc")
    with pytest.raises(BlockVerificationError):
        verify_block(cid, b"abd")
    with pytest.raises(CidError, match="at most 128 bytes"):
        CID.identity(b"x" * (MAX_IDENTITY_LENGTH + 1))
    big = b"\x01\x55\x00" + encode_varint(200) + b"x" * 200
    with pytest.raises(CidError, match="at most 128 bytes"):
        CID.decode(big)


def test_verify_block() -> None:
    verify_block(CID.decode(HELLO_RAW), HELLO)
    verify_block(HELLO_RAW, memoryview(HELLO))
    with pytest.raises(BlockVerificationError, match=HELLO_RAW) as info:
        verify_block(HELLO_RAW, b"hello world")
    assert isinstance(info.value, ValueError) and isinstance(info.value, IpfsError)
    sha512 = compute_cid(HELLO, hash_code=SHA2_512)
    verify_block(sha512, HELLO)
    with pytest.raises(BlockVerificationError):
        verify_block(sha512, b"")


def test_verify_block_unknown_hash_is_refused() -> None:
    cid = CID(1, RAW, encode_multihash(0x1E, b"\x00" * 32))  # blake3: not computed here
    with pytest.raises(UnsupportedHashError, match=r"blake3|0x1e"):
        verify_block(cid, b"")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Qm123", "multibase prefix"),
        ("bafy!!", "base32 character"),
        ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5O", "base58btc character"),
        (HELLO_RAW[:-3], "digest of 32 bytes"),
        ("x" * 1000, "at most 512 characters"),
        ("bAFKREIF", "lower-case base32"),
        ("Qm" + "a" * 45, "multibase prefix"),
    ],
)
def test_malformed_text(text: str, message: str) -> None:
    with pytest.raises(CidError, match=message) as info:
        CID.decode(text)
    assert isinstance(info.value, ValueError)
    assert len(str(info.value)) < 400  # quoted input is truncated


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "end of input"),
        (b"\x12\x20abc", "CIDv0 of 34 bytes"),
        (b"\x02\x55\x12\x20" + b"a" * 32, "found version 2"),
        (b"\x00\x55", "found version 0"),
        (b"\x01\x55\x12\x20" + b"a" * 31, "digest of 32 bytes"),
        (b"\x01\x55\x12\x20" + b"a" * 33, "trailing bytes"),
        (b"\x01\xd5\x00\x12\x20" + b"a" * 32, "minimal varint"),
        (b"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "at most 9 bytes"),
        (b"\x01\x55\x13\x20" + b"a" * 32, "sha2-512 digest of 64 bytes"),
    ],
)
def test_malformed_binary(data: bytes, message: str) -> None:
    with pytest.raises(CidError, match=message):
        CID.decode(data)


def test_wrong_type_and_version() -> None:
    with pytest.raises(CidError, match="found int"):
        CID.decode(5)  # type: ignore[arg-type]
    with pytest.raises(CidError, match="CIDv0 to be dag-pb"):
        CID(0, RAW, compute_multihash(b""))
    with pytest.raises(CidError, match="version 0 or 1"):
        CID(2, RAW, compute_multihash(b""))


def test_read_prefix_for_streams() -> None:
    a, b = CID.decode(HELLO_V0), CID.decode(HELLO_RAW)
    buf = a.bytes + b.bytes + b"tail"
    first, pos = CID.read(buf)
    second, pos = CID.read(buf, pos)
    assert (first, second, buf[pos:]) == (a, b, b"tail")


def test_immutable_hashable_picklable_sortable() -> None:
    cid = CID.decode(HELLO_RAW)
    with pytest.raises(AttributeError):
        cid.version = 0  # type: ignore[misc]
    assert {cid: 1}[CID.decode(HELLO_RAW)] == 1
    assert pickle.loads(pickle.dumps(cid)) == cid
    assert repr(cid) == f"CID('{HELLO_RAW}')"
    assert bytes(cid) == cid.bytes
    assert sorted([CID.decode(HELLO_V0), cid]) == [cid, CID.decode(HELLO_V0)]  # binary order
    assert cid == CID.decode(cid)


def test_varints() -> None:
    for value in (0, 1, 127, 128, 255, 300, 2**32, 2**63 - 1):
        assert decode_varint(encode_varint(value)) == (value, len(encode_varint(value)))
    with pytest.raises(CidError):
        encode_varint(-1)
    with pytest.raises(CidError):
        encode_varint(2**63)
    with pytest.raises(CidError, match="truncated"):
        decode_varint(b"\x80")


def test_multihash_helpers() -> None:
    mh = compute_multihash(HELLO)
    assert decode_multihash(mh) == (SHA2_256, hashlib.sha256(HELLO).digest())
    assert compute_multihash(b"ab", IDENTITY) == b"\x00\x02ab"
    with pytest.raises(CidError, match="digest of 3 bytes, found 2"):
        decode_multihash(b"\x00\x03ab")


def test_multibase_errors() -> None:
    with pytest.raises(MultibaseError, match="multibase prefix"):
        multibase.decode("?abc")
    with pytest.raises(MultibaseError, match="empty"):
        multibase.decode("")
    with pytest.raises(MultibaseError, match="upper case"):
        multibase.decode("Babc")
    with pytest.raises(MultibaseError, match="base36 character"):
        multibase.decode("k_1")


# --- property tests ---------------------------------------------------------------------

digests = st.binary(min_size=32, max_size=32)
codecs = st.sampled_from([DAG_PB, RAW, DAG_CBOR, JSON]) | st.integers(0, 2**40)


@given(digests)
def test_v0_round_trip(digest: bytes) -> None:
    cid = CID(0, DAG_PB, encode_multihash(SHA2_256, digest))
    assert CID.decode(str(cid)) == cid
    assert CID.decode(cid.bytes) == cid
    assert cid.to_v1().to_v0() == cid


@given(codecs, st.integers(0, 2**20), st.binary(max_size=64))
def test_v1_round_trip(codec: int, code: int, digest: bytes) -> None:
    if code in (SHA2_256, SHA2_512, 0x13, 0x14, 0x16, 0xB220):
        code = 0x1E
    cid = CID(1, codec, encode_multihash(code, digest))
    for base in ("base32", "base58btc", "base36", "base64url"):
        assert CID.decode(cid.encode(base)) == cid  # type: ignore[arg-type]
    assert CID.decode(cid.bytes) == cid
    assert (cid.codec, cid.hash_code, cid.digest) == (codec, code, digest)


@given(st.binary(max_size=100))
def test_multibase_round_trip(data: bytes) -> None:
    for base in multibase.BASE_PREFIXES:
        assert multibase.decode(multibase.encode(data, base)) == (base, data)  # type: ignore[arg-type]


@given(st.binary(max_size=80))
def test_decode_never_crashes(data: bytes) -> None:
    try:
        cid = CID.decode(data)
    except CidError:
        return
    assert cid.bytes == data


@given(st.text(max_size=80))
def test_decode_text_never_crashes(text: str) -> None:
    with contextlib.suppress(CidError):
        CID.decode(text)
