"""CARv1 (Content Addressable aRchive) encoding and strict, streaming decoding.

Owns the CARv1 byte format (https://ipld.io/specs/transport/car/carv1/): a header — varint length
plus the dag-cbor map ``{"roots": [CID, ...], "version": 1}`` — then sections ``varint(length) ||
CID bytes || block``. Hand-written because no maintained Python CAR implementation exists; the
dag-cbor it needs (the header shape, and link discovery for DAG walks) is a small strict subset
written here too (no indefinite lengths, minimal integer heads, tag 42 CIDs with a 0x00 prefix).

Decoding is a push parser (:class:`CarDecoder`, sans I/O: feed it bytes as they arrive) so that a
CAR of any size needs memory for one section only; :class:`CarReader` drives it from a binary
stream. Every block is re-hashed against its CID before it is handed out, and a CAR is rejected
(:class:`~.errors.CarError`) for: bad or non-minimal varints, a section over the size cap, a
truncated header or section (trailing garbage included), a CID that does not parse, a block that
does not hash to its CID, a version other than 1, and — when asked — header roots missing from
the body. Writing (:func:`write_car`, :func:`export_car`) follows Kubo's ``ipfs dag export``:
one root, each block once, depth-first in link order, identity blocks left out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

from .cid import CID, IDENTITY, Buffer, encode_varint, verify_block
from .errors import CarBlockMismatch, CarError, CidError, IpfsError, quote

if TYPE_CHECKING:
    from .blockstore import Blockstore

__all__ = [
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_SECTION_SIZE",
    "CarBlock",
    "CarDecoder",
    "CarHeader",
    "CarReader",
    "dag_cbor_links",
    "decode_dag_cbor",
    "encode_header",
    "encode_section",
    "export_car",
    "import_car",
    "write_car",
]

#: Largest section (CID + block) accepted: Kubo refuses blocks over 2 MiB, plus room for a CID.
DEFAULT_MAX_SECTION_SIZE: Final = 2 * 1024 * 1024 + 1024
#: Largest header accepted (about 900 CIDv1 roots).
DEFAULT_MAX_HEADER_SIZE: Final = 32 * 1024
_MAX_VARINT_BYTES: Final = 9
_MAX_CBOR_DEPTH: Final = 64
_READ_SIZE: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class CarHeader:
    """The CARv1 header: the root CIDs (at least one) and the version (always 1)."""

    roots: tuple[CID, ...]
    version: int = 1


@dataclass(frozen=True, slots=True)
class CarBlock:
    """One verified CAR section: ``data`` hashes to ``cid``."""

    cid: CID
    data: bytes


# --- dag-cbor (strict subset) -------------------------------------------------------------


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes(((major << 5) | value,))
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if value < 1 << (8 * struct.calcsize(fmt)):
            return bytes(((major << 5) | info,)) + struct.pack(fmt, value)
    raise CarError(f"expected a CBOR argument below 2**64, found {value}")


def _cbor_text(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _cbor_head(3, len(raw)) + raw


def _cbor_cid(cid: CID) -> bytes:
    body = b"\x00" + cid.bytes
    return b"\xd8\x2a" + _cbor_head(2, len(body)) + body


def encode_header(roots: Iterable[CID], *, version: int = 1) -> bytes:
    """The CARv1 header bytes: varint length, then ``{"roots": [...], "version": 1}``."""
    roots = tuple(roots)
    if version != 1:
        raise CarError(f"expected CAR version 1 to write, found {version}")
    if not roots:
        raise CarError("expected at least one root CID for a CAR header, found none")
    body = b"".join(
        (
            b"\xa2",
            _cbor_text("roots"),
            _cbor_head(4, len(roots)),
            *(_cbor_cid(root) for root in roots),
            _cbor_text("version"),
            _cbor_head(0, version),
        )
    )
    return encode_varint(len(body)) + body


class _CborReader:
    """Decodes one dag-cbor item strictly; CIDs (tag 42) become :class:`CID` values."""

    def __init__(self, buf: Buffer) -> None:
        self.buf = memoryview(buf)
        self.pos = 0

    def _take(self, count: int) -> memoryview:
        end = self.pos + count
        if end > len(self.buf):
            raise CarError(
                f"expected {count} more bytes of dag-cbor at byte {self.pos}, "
                f"found {len(self.buf) - self.pos}"
            )
        chunk = self.buf[self.pos : end]
        self.pos = end
        return chunk

    def _head(self) -> tuple[int, int, int]:
        start = self.pos
        first = self._take(1)[0]
        major, info = first >> 5, first & 31
        if info < 24:
            return major, info, info
        widths = {24: 1, 25: 2, 26: 4, 27: 8}
        width = widths.get(info)
        if width is None:
            raise CarError(
                f"expected a definite-length dag-cbor head at byte {start}, found 0x{first:02x}"
            )
        value = int.from_bytes(self._take(width), "big")
        if major != 7 and value < (24 if width == 1 else 1 << (4 * width)):
            raise CarError(f"expected a minimally encoded dag-cbor integer at byte {start}")
        return major, info, value

    def item(self, depth: int = 0) -> Any:
        if depth > _MAX_CBOR_DEPTH:
            raise CarError(f"expected dag-cbor nested at most {_MAX_CBOR_DEPTH} deep")
        start = self.pos
        major, info, value = self._head()
        if major == 0:
            return value
        if major == 1:
            return -1 - value
        if major == 2:
            return bytes(self._take(value))
        if major == 3:
            try:
                return str(self._take(value), "utf-8")
            except UnicodeDecodeError:
                raise CarError(f"expected UTF-8 dag-cbor text at byte {start}") from None
        if major == 4:
            self._check_count(value, start)
            return [self.item(depth + 1) for _ in range(value)]
        if major == 5:
            return self._map(value, start, depth)
        if major == 6:
            return self._tag(value, start, depth)
        return self._simple(info, value, start)

    def _check_count(self, count: int, start: int) -> None:
        if count > len(self.buf) - self.pos:
            raise CarError(f"expected at most {len(self.buf) - self.pos} items at byte {start}")

    def _map(self, count: int, start: int, depth: int) -> dict[str, Any]:
        self._check_count(count, start)
        out: dict[str, Any] = {}
        for _ in range(count):
            key = self.item(depth + 1)
            if not isinstance(key, str):
                raise CarError(f"expected dag-cbor map keys to be strings, found {quote(key)}")
            if key in out:
                raise CarError(f"expected unique dag-cbor map keys, found {quote(key)} twice")
            out[key] = self.item(depth + 1)
        return out

    def _tag(self, tag: int, start: int, depth: int) -> CID:
        if tag != 42:
            raise CarError(f"expected only tag 42 (CID) in dag-cbor, found tag {tag} at {start}")
        raw = self.item(depth + 1)
        if not isinstance(raw, bytes) or not raw or raw[0] != 0:
            raise CarError(f"expected a 0x00-prefixed binary CID under tag 42 at byte {start}")
        try:
            return CID.from_bytes(raw[1:])
        except CidError as exc:
            raise CarError(f"expected a valid CID under tag 42 at byte {start}: {exc}") from None

    def _simple(self, info: int, value: int, start: int) -> Any:
        if info == 27:
            return struct.unpack(">d", value.to_bytes(8, "big"))[0]
        simple = {20: False, 21: True, 22: None}
        if info in simple:
            return simple[info]
        raise CarError(f"expected false, true, null or a 64-bit float at byte {start}")


def decode_dag_cbor(block: Buffer) -> Any:
    """Decode a whole dag-cbor block (strict subset; CIDs become :class:`CID`)."""
    reader = _CborReader(block)
    value = reader.item()
    if reader.pos != len(reader.buf):
        raise CarError(
            f"expected one dag-cbor item, found {len(reader.buf) - reader.pos} trailing bytes"
        )
    return value


def dag_cbor_links(block: Buffer) -> list[CID]:
    """Every CID linked from a dag-cbor block, in document order (for DAG walks)."""
    found: list[CID] = []
    stack: list[Any] = [decode_dag_cbor(block)]
    while stack:
        value = stack.pop()
        if isinstance(value, CID):
            found.append(value)
        elif isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
    return found


def _parse_header(body: Buffer) -> CarHeader:
    value = decode_dag_cbor(body)
    if not isinstance(value, dict):
        raise CarError(f"expected the CAR header to be a dag-cbor map, found {quote(value)}")
    version = value.get("version")
    if version != 1:
        raise CarError(f"expected CAR version 1, found version {quote(version)}")
    if set(value) != {"roots", "version"}:
        raise CarError(
            f"expected CAR header keys 'roots' and 'version', found {quote(sorted(value))}"
        )
    roots = value["roots"]
    if not isinstance(roots, list) or not all(isinstance(root, CID) for root in roots):
        raise CarError(f"expected the CAR header roots to be a list of CIDs, found {quote(roots)}")
    if not roots:
        raise CarError("expected at least one root CID in the CAR header, found none")
    return CarHeader(tuple(roots), 1)


# --- sections -----------------------------------------------------------------------------


def encode_section(cid: CID, data: Buffer) -> bytes:
    """One CAR section: ``varint(len(cid) + len(data)) || cid || data``."""
    raw = cid.bytes
    return b"".join((encode_varint(len(raw) + len(data)), raw, data))


def write_car(roots: Iterable[CID], blocks: Iterable[tuple[CID, Buffer]]) -> Iterator[bytes]:
    """The CAR bytes, lazily: the header, then one chunk per block (as given, not re-checked)."""
    yield encode_header(roots)
    for cid, data in blocks:
        yield encode_section(cid, data)


def _try_varint(buf: bytearray, pos: int, what: str) -> tuple[int, int] | None:
    """``(value, next)`` of the varint at ``buf[pos:]``, or None when more bytes are needed."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if pos + index >= len(buf):
            return None
        byte = buf[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            if byte == 0 and index > 0:
                raise CarError(f"expected a minimal varint ({what}), found trailing zero bytes")
            return value, pos + index + 1
    raise CarError(f"expected a varint ({what}) of at most {_MAX_VARINT_BYTES} bytes")


class CarDecoder:
    """Push parser of a CARv1 stream: :meth:`feed` bytes, get verified blocks; then :meth:`close`.

    ``require_roots``: at :meth:`close`, every header root (except identity CIDs) must have been
    seen as a block. ``max_section_size`` / ``max_header_size`` cap what is ever buffered.
    """

    def __init__(
        self,
        *,
        max_section_size: int = DEFAULT_MAX_SECTION_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        require_roots: bool = True,
    ) -> None:
        self._max_section = max_section_size
        self._max_header = max_header_size
        self._require_roots = require_roots
        self._buf = bytearray()
        self._offset = 0  # stream offset of self._buf[0], for error messages
        self._missing_roots: set[bytes] = set()
        self.header: CarHeader | None = None
        self.block_count = 0

    def feed(self, data: Buffer) -> None:
        """Add bytes that arrived; take the blocks they complete with :meth:`next_block`."""
        self._buf += data

    def next_block(self) -> CarBlock | None:
        """The next whole block, verified against its CID, or None until more bytes come.

        A defect raises :class:`~.errors.CarError` only once the blocks before it are taken.
        """
        if self.read_header() is None:
            return None
        step = self._step(0)
        if step is None:
            return None
        end, block = step
        self._consume(end)
        return block

    def read_header(self) -> CarHeader | None:
        """The header, once its bytes are all here (None before)."""
        if self.header is None:
            step = self._step(0)
            if step is not None:
                self._consume(step[0])
        return self.header

    def _consume(self, end: int) -> None:
        del self._buf[:end]  # O(1) in CPython for a prefix of a bytearray
        self._offset += end

    def blocks(self) -> Iterator[CarBlock]:
        """Every whole block buffered so far (see :meth:`next_block`)."""
        while (block := self.next_block()) is not None:
            yield block

    def close(self) -> None:
        """Declare the end of the stream; raise unless it ended cleanly after a whole section."""
        if self.header is None:
            raise CarError("expected a CAR header, found the end of the stream")
        if self._buf:
            raise CarError(
                f"expected a complete CAR section at byte {self._offset}, found "
                f"{len(self._buf)} bytes of a truncated section or trailing garbage"
            )
        if self._require_roots and self._missing_roots:
            missing = [r for r in self.header.roots if r.multihash in self._missing_roots]
            raise CarError(
                f"expected the CAR to hold its header roots, found no block for "
                f"{', '.join(str(r) for r in missing[:3])}"
            )

    def _step(self, pos: int) -> tuple[int, CarBlock | None] | None:
        what = "header length" if self.header is None else "section length"
        head = _try_varint(self._buf, pos, what)
        if head is None:
            return None
        length, start = head
        limit = self._max_header if self.header is None else self._max_section
        if length == 0 or length > limit:
            raise CarError(
                f"expected a CAR {what} in 1..{limit} at byte {self._offset + pos}, found {length}"
            )
        end = start + length
        if end > len(self._buf):
            return None
        body = memoryview(self._buf)[start:end]
        try:
            if self.header is None:
                self._set_header(_parse_header(body))
                return end, None
            return end, self._section(body, self._offset + pos)
        finally:
            body.release()

    def _set_header(self, header: CarHeader) -> None:
        self.header = header
        self._missing_roots = {r.multihash for r in header.roots if r.hash_code != IDENTITY}

    def _section(self, body: memoryview, where: int) -> CarBlock:
        try:
            cid, data_start = CID.read(body)
        except CidError as exc:
            raise CarError(
                f"expected a CID at the start of the section at byte {where}: {exc}"
            ) from None
        data = bytes(body[data_start:])
        try:
            verify_block(cid, data)
        except IpfsError as exc:
            raise CarBlockMismatch(
                f"expected the block at byte {where} to match {cid}: {exc}"
            ) from None
        self._missing_roots.discard(cid.multihash)
        self.block_count += 1
        return CarBlock(cid, data)


class CarReader:
    """Reads a CARv1 from a binary stream, one section at a time (memory: one section).

    The header is read at construction (:attr:`header`); iterate for the verified blocks. The
    stream's end is checked when iteration ends (truncation, trailing garbage, missing roots).
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        max_section_size: int = DEFAULT_MAX_SECTION_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        require_roots: bool = True,
    ) -> None:
        self._stream = stream
        self._decoder = CarDecoder(
            max_section_size=max_section_size,
            max_header_size=max_header_size,
            require_roots=require_roots,
        )
        self._eof = False
        while self._decoder.read_header() is None and not self._eof:
            self._fill()
        if self._decoder.header is None:
            self._decoder.close()  # raises: no header

    @property
    def header(self) -> CarHeader:
        header = self._decoder.header
        assert header is not None
        return header

    @property
    def roots(self) -> tuple[CID, ...]:
        return self.header.roots

    def _fill(self) -> None:
        chunk = self._stream.read(_READ_SIZE)
        if not chunk:
            self._eof = True
            self._decoder.close()
            return
        self._decoder.feed(chunk)

    def __iter__(self) -> Iterator[CarBlock]:
        while True:
            yield from self._decoder.blocks()
            if self._eof:
                return
            self._fill()


# --- blockstore glue ----------------------------------------------------------------------


def export_car(
    root: CID, *, blockstore: Blockstore, scope: str = "all", roots: Iterable[CID] | None = None
) -> Iterator[bytes]:
    """The CAR of the DAG under ``root`` as ``ipfs dag export`` writes it, lazily.

    Each block is read from ``blockstore`` and verified before it is written; blocks appear
    once, depth-first in link order. ``scope`` is a gateway ``dag-scope`` (all, entity, block).
    """
    from .exporter import walk_dag

    return write_car(roots or (root,), walk_dag(root, blockstore=blockstore, scope=scope))


def import_car(stream: IO[bytes], *, blockstore: Blockstore, **limits: Any) -> CarHeader:
    """Read a CAR from ``stream`` into ``blockstore`` (verified blocks only); return its header.

    Raises :class:`~.errors.CarError` on any defect; blocks before the defect stay stored
    (each of them verified, so the store holds no wrong byte).
    """
    reader = CarReader(stream, **limits)
    for block in reader:
        blockstore.put(block.cid, block.data)
    return reader.header
