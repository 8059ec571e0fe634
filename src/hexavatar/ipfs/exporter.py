"""UnixFS exporter: DAG → bytes (``ipfs cat``), path walks with their trail, and DAG walks.

Owns reading content back out of a DAG. Hand-written because no maintained Python UnixFS
implementation exists. Rules:

- Every block is re-hashed against its CID (:func:`load_block`) before a byte of it is decoded
  or yielded; identity CIDs carry their bytes inline.
- Files (dag-pb UnixFS ``File``/``Raw`` nodes, raw leaves, identity leaves) stream as an
  iterator of chunks, one leaf at a time, depth-first with an explicit stack (memory: one block
  per tree level). A byte range skips whole subtrees using ``blocksizes``. Sizes are checked on
  the way: a node's data plus its ``blocksizes`` must equal its ``filesize`` and each child must
  be exactly as long as its parent says, so a hostile DAG cannot yield more or fewer bytes than
  its root announces; children of size 0 add no bytes and are not walked (a DAG of empty
  subtrees linked many times over cannot make a read endless).
- :func:`walk_dag` yields the blocks of a DAG in Kubo's ``ipfs dag export`` order (depth-first,
  links in order, each block once, identity blocks skipped), for the gateway's ``dag-scope``
  values ``all``, ``entity`` (a whole file or range of it, a directory's own blocks) and
  ``block``.

The per-node steps (:func:`decode_file_node`, :func:`dag_links`) are pure, so the asynchronous
fetcher (:mod:`.fetch`) walks DAGs with the same rules as this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from .blockstore import resolve_path
from .car import dag_cbor_links
from .cid import CID, DAG_CBOR, DAG_PB, IDENTITY, RAW, verify_block
from .dagpb import DataType, PBNode, UnixFSData, decode_node, decode_unixfs, hamt_prefix_width
from .errors import (
    DagPbError,
    InvalidGatewayRequest,
    NotAFileError,
    UnixFSError,
    quote,
)

if TYPE_CHECKING:
    from .blockstore import Blockstore

__all__ = [
    "MAX_FILE_DEPTH",
    "MAX_WALK_BLOCKS",
    "DagScope",
    "FileNode",
    "NodeKind",
    "PathTrail",
    "cat",
    "dag_links",
    "decode_file_node",
    "file_size",
    "load_block",
    "node_kind",
    "resolve_trail",
    "walk_dag",
]

DagScope = Literal["all", "entity", "block"]
NodeKind = Literal["file", "directory", "hamt", "symlink", "other"]
#: Most block visits of one ``dups`` walk (each distinct block is visited once without dups).
MAX_WALK_BLOCKS: Final = 1_000_000
#: Deepest file DAG followed (Kubo's balanced layout needs 4 levels for a terabyte).
MAX_FILE_DEPTH: Final = 32

GetBlock = Callable[[CID], bytes]


def load_block(cid: CID, *, blockstore: Blockstore) -> bytes:
    """The bytes of ``cid``, re-hashed against it (identity CIDs: the inline data)."""
    if cid.hash_code == IDENTITY:
        return cid.digest
    data = blockstore.get(cid)
    verify_block(cid, data)
    return data


def _getter(blockstore: Blockstore) -> GetBlock:
    return lambda cid: load_block(cid, blockstore=blockstore)


# --- files: pure steps --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileNode:
    """One node of a file DAG: its own bytes, then children ``(cid, size)`` in order."""

    data: bytes
    children: tuple[tuple[CID, int], ...]

    @property
    def size(self) -> int:
        return len(self.data) + sum(size for _, size in self.children)


def _unixfs(cid: CID, block: bytes) -> tuple[PBNode, UnixFSData]:
    try:
        node = decode_node(block)
        if node.data is None:
            raise UnixFSError(f"expected UnixFS Data in the dag-pb node {cid}, found none")
        return node, decode_unixfs(node.data)
    except DagPbError as exc:
        raise UnixFSError(f"expected a dag-pb UnixFS node at {cid}: {exc}") from None


def node_kind(cid: CID, block: bytes) -> NodeKind:
    """What a (verified) block is, as the gateway sees it."""
    if cid.codec == RAW:
        return "file"
    if cid.codec != DAG_PB:
        return "other"
    _, unixfs = _unixfs(cid, block)
    return {
        DataType.RAW: "file",
        DataType.FILE: "file",
        DataType.DIRECTORY: "directory",
        DataType.HAMT_SHARD: "hamt",
        DataType.SYMLINK: "symlink",
    }.get(unixfs.type, "other")  # type: ignore[return-value]


def decode_file_node(cid: CID, block: bytes) -> FileNode:
    """The file layout of a verified block; raises unless it is (part of) a UnixFS file."""
    if cid.codec == RAW:
        return FileNode(block, ())
    if cid.codec != DAG_PB:
        raise NotAFileError(f"expected a UnixFS file (dag-pb or raw), found {cid.codec_name} {cid}")
    node, unixfs = _unixfs(cid, block)
    if unixfs.type not in (DataType.FILE, DataType.RAW):
        raise NotAFileError(f"expected a UnixFS file at {cid}, found a {unixfs.type.name.lower()}")
    if len(node.links) != len(unixfs.blocksizes):
        raise UnixFSError(
            f"expected one blocksize per link in {cid}, found {len(unixfs.blocksizes)} "
            f"blocksizes for {len(node.links)} links"
        )
    result = FileNode(
        unixfs.data or b"",
        tuple((link.hash, size) for link, size in zip(node.links, unixfs.blocksizes, strict=True)),
    )
    if unixfs.filesize is not None and unixfs.filesize != result.size:
        raise UnixFSError(
            f"expected the filesize of {cid} to equal its data plus blocksizes "
            f"({result.size}), found {unixfs.filesize}"
        )
    return result


def _walk_file(
    root: CID, start: int, stop: int, get: GetBlock
) -> Iterator[tuple[CID, bytes, bytes]]:
    """``(cid, block, bytes of [start, stop) in it)`` for each block a byte range needs.

    The root is always visited (so a zero-length range yields the root block alone).
    """
    stack: list[tuple[CID, int, int, int | None, int]] = [(root, start, stop, None, 0)]
    while stack:
        cid, lo, hi, expected, depth = stack.pop()
        if depth > MAX_FILE_DEPTH:
            raise UnixFSError(f"expected a file DAG at most {MAX_FILE_DEPTH} deep, found deeper")
        block = get(cid)
        node = decode_file_node(cid, block)
        if expected is not None and node.size != expected:
            raise UnixFSError(
                f"expected {cid} to hold {expected} bytes as its parent says, found {node.size}"
            )
        data = node.data
        yield cid, block, data[max(lo, 0) : min(hi, len(data))] if lo < len(data) else b""
        offset = len(data)
        pending = []
        for child, size in node.children if lo < hi else ():
            if size and offset + size > lo and offset < hi:  # empty subtrees add no bytes
                pending.append((child, lo - offset, min(hi - offset, size), size, depth + 1))
            offset += size
            if offset >= hi:
                break
        stack.extend(reversed(pending))


def file_size(cid: CID, *, blockstore: Blockstore) -> int:
    """Bytes in the file at ``cid`` (reads the root block only)."""
    return decode_file_node(cid, load_block(cid, blockstore=blockstore)).size


def cat(
    cid: CID | str, *, blockstore: Blockstore, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """The bytes of the UnixFS file at ``cid`` — ``length`` of them from ``offset`` — verified.

    Lazily, one chunk per leaf; chunks are never empty. A range past the end is clipped.
    """
    cid = CID.decode(cid)
    if offset < 0 or (length is not None and length < 0):
        raise InvalidGatewayRequest(
            f"expected a non-negative offset and length, found {offset} and {length}"
        )
    stop = (1 << 63) if length is None else offset + length
    for _, _, chunk in _walk_file(cid, offset, stop, _getter(blockstore)):
        if chunk:
            yield chunk


# --- paths --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathTrail:
    """Where a path led: ``cid`` at its end, ``roots`` (one CID per logical segment, the root
    first, as the gateway's ``X-Ipfs-Roots``) and ``blocks`` (every block read on the way, HAMT
    shards included, in order: what a CAR must carry to prove the path)."""

    cid: CID
    roots: tuple[CID, ...]
    blocks: tuple[CID, ...]


class _Recorder:
    """A read-only view of a blockstore that notes every block read."""

    def __init__(self, inner: Blockstore) -> None:
        self.inner = inner
        self.read: list[CID] = []

    def get(self, cid: CID) -> bytes:
        self.read.append(cid)
        return self.inner.get(cid)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def resolve_trail(root: CID | str, path: str, *, blockstore: Blockstore) -> PathTrail:
    """Walk ``path`` from ``root`` through flat and HAMT directories, noting the trail.

    Raises as :func:`~.blockstore.resolve_path` does (``PathNotFound``, ``PathResolutionError``,
    ``BlockNotFound``).
    """
    cid = CID.decode(root)
    roots = [cid]
    recorder = _Recorder(blockstore)
    for segment in (part for part in path.split("/") if part):
        cid = resolve_path(recorder, cid, segment)  # type: ignore[arg-type]
        roots.append(cid)
    blocks: list[CID] = []
    seen: set[bytes] = set()
    for cid_read in recorder.read:
        if cid_read.bytes not in seen:
            seen.add(cid_read.bytes)
            blocks.append(cid_read)
    return PathTrail(cid, tuple(roots), tuple(blocks))


# --- DAG walks ----------------------------------------------------------------------------


def dag_links(cid: CID, block: bytes) -> list[CID]:
    """CIDs a verified block links to, in order (dag-pb, dag-cbor; none for other codecs)."""
    if cid.codec == DAG_PB:
        try:
            return [link.hash for link in decode_node(block).links]
        except DagPbError as exc:
            raise UnixFSError(f"expected a dag-pb node at {cid}: {exc}") from None
    if cid.codec == DAG_CBOR:
        return dag_cbor_links(block)
    return []


def _entity_links(cid: CID, block: bytes) -> list[CID]:
    """Links an ``entity`` walk follows from a non-file block: HAMT sub-shards only."""
    if cid.codec != DAG_PB:
        return []
    try:
        node, unixfs = _unixfs(cid, block)
    except UnixFSError:
        return []  # dag-pb without UnixFS: non-UnixFS data, whose entity is the block alone
    if unixfs.type != DataType.HAMT_SHARD:
        return []
    width = hamt_prefix_width(unixfs.fanout or 256)
    return [link.hash for link in node.links if len(link.name or "") == width]


def walk_dag(
    root: CID,
    *,
    blockstore: Blockstore,
    scope: DagScope | str = "all",
    entity_bytes: tuple[int, int] | None = None,
    skip: set[bytes] | None = None,
    dups: bool = False,
) -> Iterator[tuple[CID, bytes]]:
    """``(cid, verified block)`` of the DAG under ``root`` for a ``dag-scope``, depth-first.

    Each CID once (``skip``: binary CIDs already sent, updated in place), or every time the walk
    meets it with ``dups`` (at most :data:`MAX_WALK_BLOCKS` visits, so a DAG that links one
    subtree from many places cannot make the walk endless); identity blocks are followed but
    not yielded. ``entity_bytes`` ``(start, stop)`` narrows a file entity to the blocks that
    range needs.
    """
    seen = skip if skip is not None else set()
    get = _getter(blockstore)
    if scope not in ("all", "entity", "block"):
        raise InvalidGatewayRequest(
            f"expected dag-scope all, entity or block, found {quote(scope)}"
        )
    if scope == "entity" and _is_file(root, get):
        start, stop = entity_bytes or (0, 1 << 63)
        for cid, block, _ in _walk_file(root, start, stop, get):
            if (dups or cid.bytes not in seen) and cid.hash_code != IDENTITY:
                seen.add(cid.bytes)
                yield cid, block
        return
    yield from _walk_links(root, scope, get, seen, dups=dups)


def _is_file(cid: CID, get: GetBlock) -> bool:
    try:
        return node_kind(cid, get(cid)) == "file"
    except UnixFSError:
        return False


def _walk_links(
    root: CID, scope: str, get: GetBlock, seen: set[bytes], *, dups: bool
) -> Iterator[tuple[CID, bytes]]:
    stack = [root]
    visits = 0
    while stack:
        cid = stack.pop()
        if cid.bytes in seen and not dups:
            continue
        seen.add(cid.bytes)
        visits += 1
        if visits > MAX_WALK_BLOCKS:
            raise UnixFSError(
                f"expected a DAG walk of at most {MAX_WALK_BLOCKS} blocks, found more"
            )
        block = get(cid)
        if cid.hash_code != IDENTITY:
            yield cid, block
        if scope == "block":
            return
        links = dag_links(cid, block) if scope == "all" else _entity_links(cid, block)
        stack.extend(reversed(links))
