"""Blockstores: where blocks live, keyed by multihash, and reading DAGs through them.

A :class:`Blockstore` keys blocks by multihash, as Kubo does: a block asked for as CIDv0 or as
CIDv1 (any codec) is the same block. Identity CIDs need no storage: ``get`` returns their inline
data and ``has`` is true. Iteration yields stored blocks as CIDv1 ``raw`` CIDs (the codec is not
stored), as Kubo's ``AllKeysChan``.

- :class:`MemoryBlockstore`: a dict, for tests and only-hash work.
- :class:`FilesystemBlockstore`: one file per block, Kubo flatfs layout (``next-to-last/2``),
  atomic writes (temporary file, fsync, ``os.replace``).
- :class:`VerifyingBlockstore`: wraps any blockstore; re-hashes every block on ``put`` and
  ``get`` against its CID (use it wherever blocks come from disk or the network).

:func:`resolve_path` and :func:`list_directory` walk UnixFS directories, flat or HAMT-sharded,
re-hashing every block they read.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from .cid import CID, DAG_PB, IDENTITY, RAW, Buffer, decode_multihash, verify_block
from .dagpb import (
    HAMT_MURMUR3_X64_64,
    DataType,
    PBLink,
    UnixFSData,
    decode_node,
    decode_unixfs,
    hamt_bucket,
    hamt_prefix_width,
    murmur3_x64_64,
)
from .errors import (
    BlockNotFound,
    BlockstoreError,
    CidError,
    DagPbError,
    PathNotFound,
    PathResolutionError,
    UnixFSError,
    quote,
)

__all__ = [
    "Blockstore",
    "FilesystemBlockstore",
    "MemoryBlockstore",
    "VerifyingBlockstore",
    "list_directory",
    "resolve_path",
]


@runtime_checkable
class Blockstore(Protocol):
    """Blocks by multihash. ``get``/``size`` raise :class:`BlockNotFound`; ``delete`` of a
    missing block does nothing; ``put`` of a block already there does nothing."""

    def put(self, cid: CID, data: Buffer) -> None: ...
    def get(self, cid: CID) -> bytes: ...
    def has(self, cid: CID) -> bool: ...
    def delete(self, cid: CID) -> None: ...
    def size(self, cid: CID) -> int: ...
    def __iter__(self) -> Iterator[CID]: ...


def _not_found(cid: CID) -> BlockNotFound:
    return BlockNotFound(f"expected a block for {cid} in the blockstore, found none")


class MemoryBlockstore:
    """A blockstore in a dict (multihash → bytes)."""

    def __init__(self) -> None:
        self._blocks: dict[bytes, bytes] = {}

    def put(self, cid: CID, data: Buffer) -> None:
        if cid.hash_code != IDENTITY and cid.multihash not in self._blocks:
            self._blocks[cid.multihash] = bytes(data)

    def get(self, cid: CID) -> bytes:
        if cid.hash_code == IDENTITY:
            return cid.digest
        try:
            return self._blocks[cid.multihash]
        except KeyError:
            raise _not_found(cid) from None

    def has(self, cid: CID) -> bool:
        return cid.hash_code == IDENTITY or cid.multihash in self._blocks

    def delete(self, cid: CID) -> None:
        self._blocks.pop(cid.multihash, None)

    def size(self, cid: CID) -> int:
        return len(self.get(cid))

    def __iter__(self) -> Iterator[CID]:
        return (CID(1, RAW, mh) for mh in list(self._blocks))

    def __len__(self) -> int:
        return len(self._blocks)


_SHARDING: Final = "/repo/flatfs/shard/v1/next-to-last/2\n"
_SUFFIX: Final = ".data"


class FilesystemBlockstore:
    """One file per block under ``root``, as Kubo's flatfs (``blocks/``) lays them out.

    A block's key is the unpadded upper-case base32 of its multihash (``CIQ…``); it lives in
    ``root/<2 characters before the last>/<key>.data``. Writes are atomic: a temporary file in
    the same folder, flushed and fsynced (unless ``sync=False``), then ``os.replace``d.
    """

    def __init__(self, root: str | os.PathLike[str], *, sync: bool = True) -> None:
        self.root = Path(root)
        self._sync = sync
        self.root.mkdir(parents=True, exist_ok=True)
        sharding = self.root / "SHARDING"
        if sharding.exists():
            found = sharding.read_text(encoding="ascii", errors="replace")
            if found.strip() != _SHARDING.strip():
                raise BlockstoreError(
                    f"expected flatfs sharding {_SHARDING.strip()!r} in {sharding}, "
                    f"found {quote(found)}"
                )
        else:
            self._write_atomic(sharding, _SHARDING.encode("ascii"))

    def _path(self, cid: CID) -> Path:
        key = base64.b32encode(cid.multihash).decode("ascii").rstrip("=")
        return self.root / key[-3:-1] / (key + _SUFFIX)

    def put(self, cid: CID, data: Buffer) -> None:
        if cid.hash_code == IDENTITY:
            return
        path = self._path(cid)
        if path.exists():
            return
        path.parent.mkdir(exist_ok=True)
        self._write_atomic(path, data)

    def _write_atomic(self, path: Path, data: Buffer) -> None:
        temp = path.with_name(f".tmp-{secrets.token_hex(8)}-{path.name}")
        try:
            with open(temp, "wb") as stream:
                stream.write(data)
                if self._sync:
                    stream.flush()
                    os.fsync(stream.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if self._sync:
            _fsync_dir(path.parent)

    def get(self, cid: CID) -> bytes:
        if cid.hash_code == IDENTITY:
            return cid.digest
        try:
            return self._path(cid).read_bytes()
        except FileNotFoundError:
            raise _not_found(cid) from None

    def has(self, cid: CID) -> bool:
        return cid.hash_code == IDENTITY or self._path(cid).exists()

    def delete(self, cid: CID) -> None:
        if cid.hash_code != IDENTITY:
            self._path(cid).unlink(missing_ok=True)

    def size(self, cid: CID) -> int:
        if cid.hash_code == IDENTITY:
            return len(cid.digest)
        try:
            return self._path(cid).stat().st_size
        except FileNotFoundError:
            raise _not_found(cid) from None

    def __iter__(self) -> Iterator[CID]:
        with os.scandir(self.root) as shards:
            folders = sorted(e.path for e in shards if e.is_dir() and len(e.name) == 2)
        for folder in folders:
            with os.scandir(folder) as files:
                names = sorted(e.name for e in files if e.name.endswith(_SUFFIX))
            for name in names:
                cid = _cid_from_key(name[: -len(_SUFFIX)])
                if cid is not None:
                    yield cid


def _cid_from_key(key: str) -> CID | None:
    try:
        multihash = base64.b32decode(key + "=" * (-len(key) % 8))
        decode_multihash(multihash)
        return CID(1, RAW, multihash)
    except (ValueError, CidError):
        return None  # not a block file (a stray or temporary file)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class VerifyingBlockstore:
    """Wraps a blockstore: every block put or got is re-hashed against its CID first.

    A bad block raises :class:`~.errors.BlockVerificationError` (on ``put``: nothing is stored).
    """

    def __init__(self, inner: Blockstore) -> None:
        self.inner = inner

    def put(self, cid: CID, data: Buffer) -> None:
        verify_block(cid, data)
        self.inner.put(cid, data)

    def get(self, cid: CID) -> bytes:
        data = self.inner.get(cid)
        verify_block(cid, data)
        return data

    def has(self, cid: CID) -> bool:
        return self.inner.has(cid)

    def delete(self, cid: CID) -> None:
        self.inner.delete(cid)

    def size(self, cid: CID) -> int:
        return self.inner.size(cid)

    def __iter__(self) -> Iterator[CID]:
        return iter(self.inner)


# --- reading UnixFS directories -----------------------------------------------------------


def _load_directory(
    blockstore: Blockstore, cid: CID, where: str
) -> tuple[list[PBLink], UnixFSData]:
    """Links and UnixFS data of the directory (or HAMT shard) block ``cid``, verified."""
    if cid.codec != DAG_PB:
        raise PathResolutionError(
            f"expected a directory at {quote(where)}, found a {cid.codec_name} block ({cid})"
        )
    block = blockstore.get(cid)
    verify_block(cid, block)
    try:
        node = decode_node(block)
        unixfs = decode_unixfs(node.data if node.data is not None else b"")
    except (DagPbError, UnixFSError) as exc:
        raise PathResolutionError(
            f"expected a UnixFS node at {quote(where)} ({cid}): {exc}"
        ) from None
    if unixfs.type not in (DataType.DIRECTORY, DataType.HAMT_SHARD):
        raise PathResolutionError(
            f"expected a directory at {quote(where)}, found a UnixFS "
            f"{unixfs.type.name.lower()} ({cid})"
        )
    return list(node.links), unixfs


def _shard_params(unixfs: UnixFSData, cid: CID) -> tuple[int, int]:
    fanout = unixfs.fanout or 0
    if unixfs.hash_type != HAMT_MURMUR3_X64_64 or fanout < 2 or fanout & (fanout - 1):
        raise PathResolutionError(
            f"expected a HAMT shard with murmur3-x64-64 and a power-of-two "
            f"fanout, found hashType {unixfs.hash_type} fanout "
            f"{unixfs.fanout} ({cid})"
        )
    return fanout, hamt_prefix_width(fanout)


def _find_in_shard(
    blockstore: Blockstore, links: list[PBLink], unixfs: UnixFSData, cid: CID, name: str, where: str
) -> CID | None:
    hashed = murmur3_x64_64(name.encode("utf-8", "surrogateescape"))
    depth = 0
    while True:
        fanout, width = _shard_params(unixfs, cid)
        try:
            bucket = hamt_bucket(hashed, depth, fanout)
        except UnixFSError as exc:
            raise PathResolutionError(f"{exc} ({cid})") from None
        prefix = f"{bucket:0{width}X}"
        link = next((lk for lk in links if (lk.name or "").startswith(prefix)), None)
        if link is None:
            return None
        if link.name != prefix:
            return link.hash if link.name == prefix + name else None
        cid = link.hash
        links, unixfs = _load_directory(blockstore, cid, where)
        if unixfs.type != DataType.HAMT_SHARD:
            raise PathResolutionError(
                f"expected a HAMT shard below {quote(where)}, found a directory ({cid})"
            )
        depth += 1


def resolve_path(blockstore: Blockstore, root: CID | str, path: str) -> CID:
    """The CID that ``root/path`` names, through flat and HAMT-sharded UnixFS directories.

    ``path`` is ``/``-separated (leading, trailing and repeated slashes are ignored; an empty
    path is the root). Every block read is re-hashed against its CID. Raises
    :class:`PathNotFound` when a name is missing, :class:`PathResolutionError` when the walk
    meets something that is not a directory, :class:`BlockNotFound` when a block is missing.
    """
    cid = CID.decode(root)
    walked = ""
    for segment in (part for part in path.split("/") if part):
        walked = f"{walked}/{segment}" if walked else segment
        links, unixfs = _load_directory(blockstore, cid, walked.rpartition("/")[0] or "/")
        if unixfs.type == DataType.HAMT_SHARD:
            found = _find_in_shard(blockstore, links, unixfs, cid, segment, walked)
        else:
            found = next((link.hash for link in links if link.name == segment), None)
        if found is None:
            raise PathNotFound(
                f"expected an entry {quote(segment)} in {quote(walked)}'s "
                f"directory {cid}, found none"
            )
        cid = found
    return cid


def list_directory(blockstore: Blockstore, cid: CID | str) -> Iterator[tuple[str, PBLink]]:
    """``(name, link)`` of every entry of a UnixFS directory, HAMT shards flattened (in shard
    order for HAMTs, block order otherwise). Every block read is re-hashed."""
    cid = CID.decode(cid)
    links, unixfs = _load_directory(blockstore, cid, str(cid))
    if unixfs.type == DataType.DIRECTORY:
        for link in links:
            yield link.name or "", link
        return
    yield from _walk_shard(blockstore, links, unixfs, cid)


def _walk_shard(
    blockstore: Blockstore, links: list[PBLink], unixfs: UnixFSData, cid: CID
) -> Iterator[tuple[str, PBLink]]:
    _, width = _shard_params(unixfs, cid)
    for link in links:
        name = link.name or ""
        if len(name) < width:
            raise PathResolutionError(
                f"expected HAMT link names of at least {width} "
                f"characters, found {quote(name)} ({cid})"
            )
        if len(name) == width:
            child_links, child = _load_directory(blockstore, link.hash, str(link.hash))
            if child.type != DataType.HAMT_SHARD:
                raise PathResolutionError(f"expected a HAMT shard, found a directory ({link.hash})")
            yield from _walk_shard(blockstore, child_links, child, link.hash)
        else:
            yield name[width:], link
