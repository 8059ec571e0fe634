"""UnixFS importer: bytes, streams and folders to DAGs with the CIDs Kubo's ``ipfs add`` gives.

Files: fixed-size chunker, balanced layout (Kubo's ``balanced`` builder), built incrementally so
that a stream of any size needs memory for one chunk plus one link list per tree level.
Folders: flat UnixFS directories (links sorted by name bytes) or, when the profile's size
estimate is above its threshold, HAMT-sharded directories (murmur3-x64-64, Kubo's layout).

Every choice that changes a CID comes from the :class:`~.profiles.ImportProfile` passed in.
``blockstore=None`` only computes CIDs (``ipfs add --only-hash``); otherwise every block is
``put`` into the blockstore as it is made.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, NamedTuple, Union, cast

from .blockstore import Blockstore
from .cid import CID, DAG_PB, RAW, Buffer
from .dagpb import (
    HAMT_MURMUR3_X64_64,
    DataType,
    PBLink,
    PBNode,
    UnixFSData,
    encode_node,
    encode_unixfs,
    encode_uvarint,
    encoded_link_size,
    hamt_bucket,
    hamt_prefix_width,
    link_name_bytes,
    murmur3_x64_64,
)
from .errors import ImporterError, quote
from .profiles import ImportProfile

__all__ = [
    "ImportResult",
    "Progress",
    "StreamSource",
    "TreeInput",
    "import_bytes",
    "import_directory",
    "import_stream",
    "import_tree",
]

Progress = Callable[[int], None]
"""Called with the number of file bytes imported so far, after each chunk."""
StreamSource = IO[bytes] | Iterable[Buffer]
TreeInput = Mapping[str, Union[Buffer, "TreeInput", None]]

_DIRECTORY_DATA: Final = encode_unixfs(UnixFSData(DataType.DIRECTORY))


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import produced.

    ``cid``: the root. ``size``: bytes of file content (all files of a folder). ``tsize``:
    cumulative size of the DAG's blocks, what a parent link's Tsize would be. ``entries``: for
    folders, the CID of every file and sub-folder by relative path (``"a/b.txt"``).
    """

    cid: CID
    size: int
    tsize: int
    entries: Mapping[str, CID] = field(default_factory=lambda: MappingProxyType({}))


class _Node(NamedTuple):
    cid: CID
    tsize: int  # cumulative block bytes
    size: int  # file bytes


# --- files --------------------------------------------------------------------------------


class _FileBuilder:
    """Balanced file DAG, built one chunk at a time, keeping one link list per level."""

    __slots__ = ("_leaf_affixes", "_levels", "_profile", "_store", "_version")

    def __init__(self, profile: ImportProfile, blockstore: Blockstore | None) -> None:
        self._profile = profile
        self._store = blockstore
        self._version = profile.cid_version
        self._levels: list[list[_Node]] = [[]]
        self._leaf_affixes: dict[int, tuple[bytes, bytes]] = {}

    def add_chunk(self, chunk: memoryview) -> None:
        """Add the next chunk (it may be reused by the caller afterwards)."""
        self._push(0, self._leaf(chunk))

    def finish(self) -> _Node:
        levels = self._levels
        if not levels[0]:
            return self._empty_file()
        level = 0
        while True:
            nodes = levels[level]
            if level == len(levels) - 1 and len(nodes) == 1:
                return nodes[0]
            levels[level] = []
            self._push(level + 1, self._internal(nodes))
            level += 1

    def _push(self, level: int, node: _Node) -> None:
        levels = self._levels
        if level == len(levels):
            levels.append([])
        nodes = levels[level]
        if len(nodes) == self._profile.max_links:
            levels[level] = []
            self._push(level + 1, self._internal(nodes))
            nodes = levels[level]
        nodes.append(node)

    def _leaf(self, chunk: memoryview) -> _Node:
        size = len(chunk)
        store = self._store
        if self._profile.raw_leaves:
            cid = CID.from_digest(hashlib.sha256(chunk).digest(), version=1, codec=RAW)
            if store is not None:
                store.put(cid, chunk.tobytes())
            return _Node(cid, size, size)
        prefix, suffix = self._affixes(size)
        hasher = hashlib.sha256(prefix)
        hasher.update(chunk)
        hasher.update(suffix)
        cid = CID.from_digest(hasher.digest(), version=self._version, codec=DAG_PB)
        if store is not None:
            store.put(cid, b"".join((prefix, chunk, suffix)))
        return _Node(cid, len(prefix) + size + len(suffix), size)

    def _affixes(self, size: int) -> tuple[bytes, bytes]:
        """Bytes around a chunk in its dag-pb leaf: PBNode{Data: UnixFS{File, Data, filesize}}."""
        affixes = self._leaf_affixes.get(size)
        if affixes is None:
            varint = encode_uvarint(size)
            unixfs_len = 3 + len(varint) + size + 1 + len(varint)
            prefix = b"\x0a" + encode_uvarint(unixfs_len) + b"\x08\x02\x12" + varint
            affixes = (prefix, b"\x18" + varint)
            self._leaf_affixes[size] = affixes
        return affixes

    def _internal(self, children: list[_Node]) -> _Node:
        sizes = tuple(child.size for child in children)
        total = sum(sizes)
        data = encode_unixfs(UnixFSData(DataType.FILE, filesize=total, blocksizes=sizes))
        links = tuple(PBLink(child.cid, "", child.tsize) for child in children)
        block = encode_node(PBNode(links, data))
        cid = _put_node(block, self._version, self._store)
        return _Node(cid, len(block) + sum(child.tsize for child in children), total)

    def _empty_file(self) -> _Node:
        if self._profile.raw_leaves:
            return self._leaf(memoryview(b""))
        block = encode_node(PBNode(data=encode_unixfs(UnixFSData(DataType.FILE, filesize=0))))
        return _Node(_put_node(block, self._version, self._store), len(block), 0)


def _put_node(block: bytes, version: int, store: Blockstore | None) -> CID:
    cid = CID.from_digest(hashlib.sha256(block).digest(), version=version, codec=DAG_PB)
    if store is not None:
        store.put(cid, block)
    return cid


def _import_chunks(
    chunks: Iterable[memoryview],
    profile: ImportProfile,
    blockstore: Blockstore | None,
    progress: Progress | None,
) -> _Node:
    builder = _FileBuilder(profile, blockstore)
    done = 0
    for chunk in chunks:
        builder.add_chunk(chunk)
        if progress is not None:
            done += len(chunk)
            progress(done)
    return builder.finish()


def _slice_chunks(view: memoryview, chunk_size: int) -> Iterator[memoryview]:
    for offset in range(0, len(view), chunk_size):
        yield view[offset : offset + chunk_size]


def import_bytes(
    data: Buffer,
    *,
    profile: ImportProfile,
    blockstore: Blockstore | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``data`` as one UnixFS file; chunks are views of ``data``, never copies."""
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    node = _import_chunks(_slice_chunks(view, profile.chunk_size), profile, blockstore, progress)
    return ImportResult(node.cid, node.size, node.tsize)


def import_stream(
    source: StreamSource,
    *,
    profile: ImportProfile,
    blockstore: Blockstore | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a binary file object (``readinto``/``read``) or an iterable of bytes as one file.

    Memory stays bounded whatever the input size: one chunk buffer, reused, plus one link list
    per level of the DAG.
    """
    node = _import_chunks(_stream_chunks(source, profile.chunk_size), profile, blockstore, progress)
    return ImportResult(node.cid, node.size, node.tsize)


def _stream_chunks(source: StreamSource, chunk_size: int) -> Iterator[memoryview]:
    if hasattr(source, "readinto"):
        return _readinto_chunks(source, chunk_size)
    if hasattr(source, "read"):
        return _read_chunks(cast(IO[bytes], source), chunk_size)
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        raise ImporterError(
            f"expected a binary file or an iterable of bytes, found {type(source).__name__} "
            "(use import_bytes for a buffer)"
        )
    if isinstance(source, Iterable):
        return _iterable_chunks(source, chunk_size)
    raise ImporterError(
        f"expected a binary file or an iterable of bytes, found {type(source).__name__}"
    )


def _readinto_chunks(source: Any, chunk_size: int) -> Iterator[memoryview]:
    buffer = memoryview(bytearray(chunk_size))
    readinto = source.readinto
    while True:
        filled = 0
        while filled < chunk_size:
            count = readinto(buffer[filled:])
            if not count:
                break
            filled += count
        if filled:
            yield buffer[:filled]
        if filled < chunk_size:
            return


def _read_chunks(source: IO[bytes], chunk_size: int) -> Iterator[memoryview]:
    def pieces() -> Iterator[Buffer]:
        while True:
            piece = source.read(chunk_size)
            if not piece:
                return
            yield piece

    return _iterable_chunks(pieces(), chunk_size)


def _iterable_chunks(pieces: Iterable[Buffer], chunk_size: int) -> Iterator[memoryview]:
    """Re-cut pieces of any sizes into full chunks; whole chunks of a piece are not copied."""
    buffer = bytearray(chunk_size)
    window = memoryview(buffer)
    filled = 0
    for piece in pieces:
        if isinstance(piece, str) or not isinstance(piece, (bytes, bytearray, memoryview)):
            raise ImporterError(f"expected bytes from the stream, found {quote(piece, 40)}")
        view = memoryview(piece).cast("B") if isinstance(piece, memoryview) else memoryview(piece)
        pos = 0
        if filled:
            take = min(chunk_size - filled, len(view))
            window[filled : filled + take] = view[:take]
            filled += take
            pos = take
            if filled < chunk_size:
                continue
            yield window
            filled = 0
        while len(view) - pos >= chunk_size:
            yield view[pos : pos + chunk_size]
            pos += chunk_size
        rest = len(view) - pos
        window[:rest] = view[pos:]
        filled = rest
    if filled:
        yield window[:filled]


# --- folders ------------------------------------------------------------------------------


class _DirectoryBuilder:
    """Builds UnixFS directories (flat or HAMT-sharded) bottom-up, as ``ipfs add -r``."""

    def __init__(self, profile: ImportProfile, blockstore: Blockstore | None) -> None:
        self.profile = profile
        self.store = blockstore
        self.paths: dict[str, CID] = {}

    def file(self, rel: str, node: _Node) -> _Node:
        self.paths[rel] = node.cid
        return node

    def symlink(self, rel: str, target: bytes) -> _Node:
        data = encode_unixfs(UnixFSData(DataType.SYMLINK, data=target))
        block = encode_node(PBNode(data=data))
        node = _Node(_put_node(block, self.profile.cid_version, self.store), len(block), 0)
        self.paths[rel] = node.cid
        return node

    def directory(self, rel: str, entries: Mapping[str, _Node]) -> _Node:
        links = [PBLink(n.cid, name, n.tsize) for name, n in entries.items()]
        links.sort(key=link_name_bytes)
        size = sum(n.size for n in entries.values())
        if self._estimate(links) > self.profile.hamt_threshold:
            hashed = [(murmur3_x64_64(link_name_bytes(link)), link) for link in links]
            cid, tsize = _build_shard(hashed, 0, self.profile, self.store)
        else:
            block = encode_node(PBNode(tuple(links), _DIRECTORY_DATA))
            cid = _put_node(block, self.profile.cid_version, self.store)
            tsize = len(block) + sum(link.tsize or 0 for link in links)
        if rel:
            self.paths[rel] = cid
        return _Node(cid, tsize, size)

    def _estimate(self, links: list[PBLink]) -> int:
        if self.profile.hamt_size_estimate == "links":
            return sum(len(link_name_bytes(link)) + len(link.hash.bytes) for link in links)
        return 2 + len(_DIRECTORY_DATA) + sum(encoded_link_size(link) for link in links)

    def result(self, root: _Node) -> ImportResult:
        return ImportResult(root.cid, root.size, root.tsize, MappingProxyType(self.paths))


def _build_shard(
    entries: list[tuple[bytes, PBLink]],
    depth: int,
    profile: ImportProfile,
    store: Blockstore | None,
) -> tuple[CID, int]:
    """One HAMT shard node over ``(name hash, link)`` entries whose hashes share the bits of
    the shards above it."""
    fanout = profile.hamt_fanout
    if (fanout.bit_length() - 1) * (depth + 1) > 64:
        raise ImporterError(
            f"expected murmur3 hashes to separate {len(entries)} names, found "
            f"them equal over 64 bits: {quote([link.name for _, link in entries])}"
        )
    buckets: dict[int, list[tuple[bytes, PBLink]]] = {}
    for entry in entries:
        buckets.setdefault(hamt_bucket(entry[0], depth, fanout), []).append(entry)
    width = hamt_prefix_width(fanout)
    shard_links = []
    bitfield = 0
    for index in sorted(buckets):
        bitfield |= 1 << index
        group = buckets[index]
        prefix = f"{index:0{width}X}"
        if len(group) == 1:
            link = group[0][1]
            shard_links.append(PBLink(link.hash, prefix + (link.name or ""), link.tsize))
        else:
            child, child_tsize = _build_shard(group, depth + 1, profile, store)
            shard_links.append(PBLink(child, prefix, child_tsize))
    bitmap = bitfield.to_bytes(fanout // 8, "big").lstrip(b"\x00")
    data = encode_unixfs(
        UnixFSData(DataType.HAMT_SHARD, data=bitmap, hash_type=HAMT_MURMUR3_X64_64, fanout=fanout)
    )
    block = encode_node(PBNode(tuple(shard_links), data))
    cid = _put_node(block, profile.cid_version, store)
    return cid, len(block) + sum(link.tsize or 0 for link in shard_links)


def import_directory(
    path: str | os.PathLike[str],
    *,
    profile: ImportProfile,
    blockstore: Blockstore | None = None,
    hidden: bool = False,
    wrap: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a folder as ``ipfs add -r`` does (``hidden=True`` is ``-H``, ``wrap`` is ``-w``).

    Dotfiles are skipped unless ``hidden``; empty folders are kept; symbolic links are stored as
    UnixFS symlinks (not followed). Files are streamed, one at a time; ``progress`` gets the
    bytes of all files imported so far.
    """
    root = Path(path)
    if not root.is_dir():
        raise ImporterError(f"expected a folder to import, found {quote(str(root))}")
    builder = _DirectoryBuilder(profile, blockstore)
    walker = _FsWalker(builder, hidden, progress)
    if not wrap:
        return builder.result(walker.folder(root, ""))
    name = root.resolve().name
    if not name:
        raise ImporterError(f"expected a folder with a name to wrap, found {quote(str(root))}")
    return builder.result(builder.directory("", {name: walker.folder(root, name)}))


class _FsWalker:
    def __init__(self, builder: _DirectoryBuilder, hidden: bool, progress: Progress | None):
        self.builder = builder
        self.hidden = hidden
        self.progress = progress
        self.done = 0  # bytes of the files already imported, for a cumulative progress

    def _file_progress(self) -> Progress | None:
        report, offset = self.progress, self.done
        if report is None:
            return None
        return lambda count: report(offset + count)

    def folder(self, path: Path, rel: str) -> _Node:
        entries: dict[str, _Node] = {}
        with os.scandir(path) as listing:
            items = sorted(listing, key=lambda e: os.fsencode(e.name))
        for item in items:
            if item.name.startswith(".") and not self.hidden:
                continue
            entries[item.name] = self._entry(item, f"{rel}/{item.name}" if rel else item.name)
        return self.builder.directory(rel, entries)

    def _entry(self, item: os.DirEntry[str], rel: str) -> _Node:
        builder = self.builder
        if item.is_symlink():
            return builder.symlink(rel, os.fsencode(os.readlink(item.path)))
        if item.is_dir(follow_symlinks=False):
            return self.folder(Path(item.path), rel)
        if item.is_file(follow_symlinks=False):
            with open(item.path, "rb") as stream:
                chunks = _readinto_chunks(stream, builder.profile.chunk_size)
                node = _import_chunks(chunks, builder.profile, builder.store, self._file_progress())
            self.done += node.size
            return builder.file(rel, node)
        raise ImporterError(f"expected a file, folder or symlink, found {quote(item.path)}")


def import_tree(
    tree: TreeInput,
    *,
    profile: ImportProfile,
    blockstore: Blockstore | None = None,
    hidden: bool = False,
    wrap: str | None = None,
) -> ImportResult:
    """Import an in-memory folder: ``{"a/b.txt": b"...", "empty": None, "sub": {...}}``.

    Keys are ``/``-separated relative paths; values are file bytes, ``None`` for an empty
    folder, or a nested mapping. Same rules as :func:`import_directory` (dotfiles skipped
    unless ``hidden``); ``wrap`` names a wrapping folder as ``ipfs add -w`` does.
    """
    nested = _nest(tree, "")
    builder = _DirectoryBuilder(profile, blockstore)
    if wrap is None:
        return builder.result(_import_nested(builder, nested, "", hidden))
    _check_segment(wrap, wrap)
    node = _import_nested(builder, nested, wrap, hidden)
    return builder.result(builder.directory("", {wrap: node}))


_Nested = dict[str, Union[memoryview, "_Nested"]]


def _nest(tree: TreeInput, base: str) -> _Nested:
    out: _Nested = {}
    for key, value in tree.items():
        if not isinstance(key, str):
            raise ImporterError(f"expected str paths in the tree, found {quote(key)}")
        parts = key.split("/")
        for part in parts:
            _check_segment(part, base + key)
        folder = out
        for part in parts[:-1]:
            sub = folder.setdefault(part, {})
            if not isinstance(sub, dict):
                raise ImporterError(
                    f"expected {quote(part)} to be a folder, found a file (in {quote(base + key)})"
                )
            folder = sub
        leaf = parts[-1]
        if leaf in folder and not (value is None or isinstance(value, Mapping)):
            raise ImporterError(f"expected one entry per path, found {quote(base + key)} twice")
        if value is None or isinstance(value, Mapping):
            sub = folder.setdefault(leaf, {})
            if not isinstance(sub, dict):
                raise ImporterError(f"expected {quote(base + key)} to be a folder, found a file")
            if value is not None:
                _merge(sub, _nest(value, f"{base}{key}/"), base + key)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            folder[leaf] = memoryview(value)
        else:
            raise ImporterError(
                f"expected bytes, None or a mapping for {quote(base + key)}, "
                f"found {type(value).__name__}"
            )
    return out


def _merge(into: _Nested, other: _Nested, where: str) -> None:
    for name, value in other.items():
        current = into.get(name)
        if current is None:
            into[name] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value, f"{where}/{name}")
        else:
            raise ImporterError(
                f"expected one entry per path, found {quote(where + '/' + name)} twice"
            )


def _check_segment(part: str, path: str) -> None:
    if part in ("", ".", "..") or "\x00" in part:
        raise ImporterError(
            f"expected path segments that are names, found {quote(part)} in {quote(path)}"
        )


def _import_nested(builder: _DirectoryBuilder, folder: _Nested, rel: str, hidden: bool) -> _Node:
    entries: dict[str, _Node] = {}
    for name in sorted(folder, key=lambda n: n.encode("utf-8", "surrogateescape")):
        if name.startswith(".") and not hidden:
            continue
        value = folder[name]
        child_rel = f"{rel}/{name}" if rel else name
        if isinstance(value, dict):
            entries[name] = _import_nested(builder, value, child_rel, hidden)
        else:
            chunks = _slice_chunks(value, builder.profile.chunk_size)
            entries[name] = builder.file(
                child_rel, _import_chunks(chunks, builder.profile, builder.store, None)
            )
    return builder.directory(rel, entries)
