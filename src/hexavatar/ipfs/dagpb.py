"""dag-pb (PBNode/PBLink) and UnixFS ``Data`` codecs: pure functions over bytes, no I/O.

dag-pb follows the IPLD spec strictly: the encoder writes Links before Data and PBLink fields
in field order (Hash, Name, Tsize), and requires links sorted by name bytes; the decoder accepts
Data before or after the Links (both exist in the wild) but rejects out-of-order PBLink fields,
duplicate fields, unknown fields or wire types, non-minimal varints and links without a valid
CID. ``name=None`` (no Name field) differs from ``name=""`` (``0x12 0x00``, as Kubo writes in
every link of a file node), and ``tsize=None`` differs from ``tsize=0``: each gives another CID.

Link names are ``str``; bytes that are not UTF-8 decode with ``surrogateescape`` so that
decoding and re-encoding any block gives back the same bytes.

UnixFS ``Data`` (unixfs.proto) is decoded leniently as protobuf is (any field order, unknown
fields skipped, packed or unpacked ``blocksizes``) and encoded in field order, unpacked, as Go.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, cast

from .cid import CID, Buffer
from .errors import CidError, DagPbError, UnixFSError, quote

__all__ = [
    "HAMT_MURMUR3_X64_64",
    "DataType",
    "PBLink",
    "PBNode",
    "UnixFSData",
    "UnixTime",
    "decode_node",
    "decode_unixfs",
    "encode_link",
    "encode_node",
    "encode_unixfs",
    "encode_uvarint",
    "encoded_link_size",
    "hamt_bucket",
    "hamt_prefix_width",
    "link_name_bytes",
    "murmur3_x64_64",
    "sort_links",
    "unixfs_of",
]

#: Multihash code of murmur3-x64-64, the ``hashType`` of UnixFS HAMT shards.
HAMT_MURMUR3_X64_64: Final = 0x22
_MAX_UINT64: Final = (1 << 64) - 1
_SMALL: Final = tuple(bytes((i,)) for i in range(0x80))


# --- protobuf primitives ------------------------------------------------------------------


def encode_uvarint(value: int) -> bytes:
    """Protobuf varint of an unsigned 64-bit value."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0 or value > _MAX_UINT64:
        raise DagPbError(f"expected an unsigned 64-bit integer, found {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _uvarint_size(value: int) -> int:
    return 1 if value < 0x80 else (value.bit_length() + 6) // 7


def _read_uvarint(
    buf: Buffer, pos: int, end: int, what: str, err: type[Exception]
) -> tuple[int, int]:
    if pos >= end:
        raise err(f"expected a varint ({what}) at byte {pos}, found the end of the block")
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    start = pos
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise err(f"expected a varint ({what}) at byte {start}, found a truncated one")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise err(f"expected a varint ({what}) of at most 10 bytes at byte {start}")
    if byte == 0:
        raise err(f"expected a minimal varint ({what}) at byte {start}, found trailing zeros")
    if value > _MAX_UINT64:
        raise err(f"expected a 64-bit varint ({what}) at byte {start}, found {value}")
    return value, pos


def _read_bytes(
    buf: Buffer, pos: int, end: int, what: str, err: type[Exception]
) -> tuple[int, int]:
    """``(start, stop)`` of a length-delimited field's payload."""
    length, pos = _read_uvarint(buf, pos, end, f"length of {what}", err)
    stop = pos + length
    if stop > end:
        raise err(f"expected {length} bytes of {what} at byte {pos}, found {end - pos}")
    return pos, stop


# --- dag-pb -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PBLink:
    """A dag-pb link: target CID, optional name, optional cumulative size (Tsize)."""

    hash: CID
    name: str | None = None
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    """A dag-pb node: links (in block order) and optional opaque data (UnixFS in IPFS)."""

    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


def link_name_bytes(link: PBLink) -> bytes:
    """The Name of ``link`` as it is encoded (missing name: ``b""``), the key links sort by."""
    name = link.name
    return name.encode("utf-8", "surrogateescape") if name else b""


def sort_links(links: Iterable[PBLink]) -> list[PBLink]:
    """Links in dag-pb order: ascending by name bytes, stable."""
    return sorted(links, key=link_name_bytes)


def encode_link(link: PBLink) -> bytes:
    """The PBLink message (without the PBNode field key and length around it)."""
    cid_bytes = link.hash.bytes
    parts = [b"\x0a", encode_uvarint(len(cid_bytes)), cid_bytes]
    if link.name is not None:
        name = link.name.encode("utf-8", "surrogateescape")
        parts += (b"\x12", encode_uvarint(len(name)), name)
    if link.tsize is not None:
        parts += (b"\x18", encode_uvarint(link.tsize))
    return b"".join(parts)


def encoded_link_size(link: PBLink) -> int:
    """Bytes ``link`` takes inside an encoded PBNode (field key and length included)."""
    size = 1 + _uvarint_size(len(link.hash.bytes)) + len(link.hash.bytes)
    if link.name is not None:
        n = len(link.name.encode("utf-8", "surrogateescape"))
        size += 1 + _uvarint_size(n) + n
    if link.tsize is not None:
        size += 1 + _uvarint_size(link.tsize)
    return 1 + _uvarint_size(size) + size


def encode_node(node: PBNode) -> bytes:
    """The canonical dag-pb block of ``node``: links (sorted by name bytes), then data."""
    parts: list[bytes] = []
    previous = b""
    for index, link in enumerate(node.links):
        name = link_name_bytes(link)
        if name < previous:
            raise DagPbError(
                f"expected links sorted by name bytes, found {quote(link.name)} at index {index} "
                f"after {quote(previous.decode('utf-8', 'surrogateescape'))}"
            )
        previous = name
        body = encode_link(link)
        parts += (b"\x12", encode_uvarint(len(body)), body)
    if node.data is not None:
        parts += (b"\x0a", encode_uvarint(len(node.data)), node.data)
    return b"".join(parts)


def decode_node(block: Buffer) -> PBNode:
    """Decode a dag-pb block strictly (see the module docstring)."""
    view = memoryview(block)
    end = len(view)
    pos = 0
    links: list[PBLink] = []
    data: bytes | None = None
    links_done = False
    while pos < end:
        key = view[pos]
        if key == 0x12:  # Links
            if links_done:
                raise DagPbError(
                    f"expected Links to be contiguous, found a link after Data at byte {pos}"
                )
            start, stop = _read_bytes(view, pos + 1, end, "PBLink", DagPbError)
            links.append(_decode_link(view, start, stop))
            pos = stop
        elif key == 0x0A:  # Data
            if data is not None:
                raise DagPbError(f"expected one Data field, found a second one at byte {pos}")
            start, stop = _read_bytes(view, pos + 1, end, "Data", DagPbError)
            data = bytes(view[start:stop])
            links_done = bool(links)
            pos = stop
        else:
            raise DagPbError(
                f"expected a PBNode field key 0x12 (Links) or 0x0a (Data), found 0x{key:02x} "
                f"at byte {pos}"
            )
    return PBNode(tuple(links), data)


def _decode_link(view: memoryview, pos: int, end: int) -> PBLink:
    if pos >= end or view[pos] != 0x0A:
        found = "nothing" if pos >= end else f"0x{view[pos]:02x}"
        raise DagPbError(
            f"expected a PBLink to start with Hash (0x0a), found {found} at byte {pos}"
        )
    start, stop = _read_bytes(view, pos + 1, end, "PBLink.Hash", DagPbError)
    try:
        target = CID.from_bytes(view[start:stop])
    except CidError as exc:
        raise DagPbError(f"expected a binary CID in PBLink.Hash at byte {start}: {exc}") from None
    pos = stop
    name: str | None = None
    tsize: int | None = None
    if pos < end and view[pos] == 0x12:
        start, stop = _read_bytes(view, pos + 1, end, "PBLink.Name", DagPbError)
        name = bytes(view[start:stop]).decode("utf-8", "surrogateescape")
        pos = stop
    if pos < end and view[pos] == 0x18:
        tsize, pos = _read_uvarint(view, pos + 1, end, "PBLink.Tsize", DagPbError)
    if pos < end:
        raise DagPbError(
            f"expected the end of a PBLink (fields Hash, Name, Tsize in this order, once each), "
            f"found key 0x{view[pos]:02x} at byte {pos}"
        )
    return PBLink(target, name, tsize)


# --- UnixFS -------------------------------------------------------------------------------


class DataType(IntEnum):
    """UnixFS node types (``Data.Type``)."""

    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True, slots=True)
class UnixTime:
    """UnixFS mtime: seconds since the epoch and optional nanoseconds (1..999999999)."""

    seconds: int
    nanoseconds: int | None = None


@dataclass(frozen=True, slots=True)
class UnixFSData:
    """The UnixFS ``Data`` message carried in a dag-pb node's Data field."""

    type: DataType
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()
    hash_type: int | None = None
    fanout: int | None = None
    mode: int | None = None
    mtime: UnixTime | None = None


def encode_unixfs(value: UnixFSData) -> bytes:
    """The UnixFS ``Data`` protobuf, fields in number order, ``blocksizes`` unpacked."""
    parts = [b"\x08", encode_uvarint(int(value.type))]
    if value.data is not None:
        parts += (b"\x12", encode_uvarint(len(value.data)), value.data)
    if value.filesize is not None:
        parts += (b"\x18", encode_uvarint(value.filesize))
    for size in value.blocksizes:
        parts += (b"\x20", encode_uvarint(size))
    if value.hash_type is not None:
        parts += (b"\x28", encode_uvarint(value.hash_type))
    if value.fanout is not None:
        parts += (b"\x30", encode_uvarint(value.fanout))
    if value.mode is not None:
        if not 0 <= value.mode <= 0xFFFFFFFF:
            raise UnixFSError(f"expected a 32-bit mode, found {value.mode}")
        parts += (b"\x38", encode_uvarint(value.mode))
    if value.mtime is not None:
        body = _encode_unixtime(value.mtime)
        parts += (b"\x42", encode_uvarint(len(body)), body)
    return b"".join(parts)


def _encode_unixtime(mtime: UnixTime) -> bytes:
    if not -(1 << 63) <= mtime.seconds < 1 << 63:
        raise UnixFSError(f"expected mtime seconds in int64 range, found {mtime.seconds}")
    parts = [b"\x08", encode_uvarint(mtime.seconds & _MAX_UINT64)]
    if mtime.nanoseconds is not None:
        if not 0 < mtime.nanoseconds < 1_000_000_000:
            raise UnixFSError(
                f"expected mtime nanoseconds in 1..999999999, found {mtime.nanoseconds}"
            )
        parts += (b"\x15", mtime.nanoseconds.to_bytes(4, "little"))
    return b"".join(parts)


def decode_unixfs(raw: Buffer) -> UnixFSData:
    """Decode a UnixFS ``Data`` message (protobuf rules; ``Type`` is required)."""
    view = memoryview(raw)
    end = len(view)
    pos = 0
    fields: dict[int, Any] = {}
    blocksizes: list[int] = []
    while pos < end:
        key, pos = _read_uvarint(view, pos, end, "UnixFS field key", UnixFSError)
        number, wire = key >> 3, key & 7
        if number == 4 and wire == 2:  # packed blocksizes
            start, pos = _read_bytes(view, pos, end, "blocksizes", UnixFSError)
            while start < pos:
                size, start = _read_uvarint(view, start, pos, "blocksize", UnixFSError)
                blocksizes.append(size)
            continue
        expected = _UNIXFS_WIRE.get(number)
        if expected is not None and expected != wire:
            raise UnixFSError(
                f"expected wire type {expected} for UnixFS field {number}, "
                f"found {wire} at byte {pos}"
            )
        value, pos = _read_field(view, pos, end, wire)
        if number == 4:
            blocksizes.append(cast(int, value))
        elif expected is not None:
            fields[number] = value
    return _build_unixfs(fields, blocksizes)


_UNIXFS_WIRE: Final = {1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 2}


def _read_field(view: memoryview, pos: int, end: int, wire: int) -> tuple[int | bytes, int]:
    if wire == 0:
        return _read_uvarint(view, pos, end, "UnixFS value", UnixFSError)
    if wire == 2:
        start, stop = _read_bytes(view, pos, end, "UnixFS bytes", UnixFSError)
        return bytes(view[start:stop]), stop
    width = {1: 8, 5: 4}.get(wire)
    if width is None or pos + width > end:
        raise UnixFSError(
            f"expected a valid protobuf field in UnixFS Data, found wire type {wire} at byte {pos}"
        )
    return bytes(view[pos : pos + width]), pos + width


def _build_unixfs(fields: dict[int, Any], blocksizes: list[int]) -> UnixFSData:
    if 1 not in fields:
        raise UnixFSError("expected a Type field in UnixFS Data, found none")
    type_code = fields[1]
    try:
        node_type = DataType(type_code)
    except ValueError:
        raise UnixFSError(f"expected a UnixFS Type 0..5, found {quote(type_code)}") from None
    mode = fields.get(7)
    if mode is not None and mode > 0xFFFFFFFF:
        raise UnixFSError(f"expected a 32-bit mode, found {mode}")
    mtime = fields.get(8)
    return UnixFSData(
        type=node_type,
        data=fields.get(2),
        filesize=fields.get(3),
        blocksizes=tuple(blocksizes),
        hash_type=fields.get(5),
        fanout=fields.get(6),
        mode=mode,
        mtime=None if mtime is None else _decode_unixtime(mtime),
    )


def _decode_unixtime(raw: bytes) -> UnixTime:
    view = memoryview(raw)
    end = len(view)
    pos = 0
    seconds: int | None = None
    nanos: int | None = None
    while pos < end:
        key, pos = _read_uvarint(view, pos, end, "UnixTime field key", UnixFSError)
        if key == 0x08:
            value, pos = _read_uvarint(view, pos, end, "UnixTime.Seconds", UnixFSError)
            seconds = value - (1 << 64) if value >= 1 << 63 else value
        elif key == 0x15:
            if pos + 4 > end:
                raise UnixFSError("expected 4 bytes of UnixTime.FractionalNanoseconds")
            nanos = int.from_bytes(view[pos : pos + 4], "little")
            pos += 4
        else:
            _, pos = _read_field(view, pos, end, key & 7)
    if seconds is None:
        raise UnixFSError("expected a Seconds field in UnixFS mtime, found none")
    if nanos is not None and not 0 < nanos < 1_000_000_000:
        raise UnixFSError(f"expected mtime nanoseconds in 1..999999999, found {nanos}")
    return UnixTime(seconds, nanos)


def unixfs_of(node: PBNode) -> UnixFSData:
    """The UnixFS ``Data`` of a dag-pb node (raises :class:`UnixFSError` if it has none)."""
    if node.data is None:
        raise UnixFSError("expected a dag-pb node with UnixFS Data, found no Data field")
    return decode_unixfs(node.data)


# --- UnixFS HAMT hashing ------------------------------------------------------------------

_M64: Final = (1 << 64) - 1
_C1: Final = 0x87C37B91114253D5
_C2: Final = 0x4CF5AD432745937F


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _M64


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def murmur3_x64_64(data: bytes, seed: int = 0) -> bytes:
    """murmur3-x64-64 (multihash 0x22): the first 64 bits of MurmurHash3_x64_128, big-endian.

    This is the HAMT hash of UnixFS sharded directories (Go's ``murmur3.New64().Sum``).
    """
    h1 = h2 = seed & _M64
    length = len(data)
    end = length - length % 16
    for pos in range(0, end, 16):
        k1 = int.from_bytes(data[pos : pos + 8], "little")
        k2 = int.from_bytes(data[pos + 8 : pos + 16], "little")
        h1 ^= (_rotl((k1 * _C1) & _M64, 31) * _C2) & _M64
        h1 = (((_rotl(h1, 27) + h2) & _M64) * 5 + 0x52DCE729) & _M64
        h2 ^= (_rotl((k2 * _C2) & _M64, 33) * _C1) & _M64
        h2 = (((_rotl(h2, 31) + h1) & _M64) * 5 + 0x38495AB5) & _M64
    tail = data[end:]
    if len(tail) > 8:
        h2 ^= (_rotl((int.from_bytes(tail[8:], "little") * _C2) & _M64, 33) * _C1) & _M64
    if tail:
        h1 ^= (_rotl((int.from_bytes(tail[:8], "little") * _C1) & _M64, 31) * _C2) & _M64
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _M64
    return h1.to_bytes(8, "big")


def hamt_bucket(name_hash: bytes, depth: int, fanout: int) -> int:
    """Bucket of a name at ``depth`` of a HAMT: the next log2(fanout) bits of its hash, most
    significant first (Kubo's ``hashBits``). Raises :class:`UnixFSError` past 64 bits."""
    bits = fanout.bit_length() - 1
    shift = 64 - bits * (depth + 1)
    if shift < 0:
        raise UnixFSError(f"expected a HAMT depth within the 64-bit hash, found depth {depth}")
    return (int.from_bytes(name_hash, "big") >> shift) & (fanout - 1)


def hamt_prefix_width(fanout: int) -> int:
    """Hex digits of the bucket prefix of HAMT link names (2 for fanout 256: ``"0A"``)."""
    return len(f"{fanout - 1:X}")
