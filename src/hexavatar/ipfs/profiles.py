"""Import profiles: every setting that decides the CIDs of an import, as named frozen values.

Pass one explicitly to the importer (``import_bytes(data, profile=UNIXFS_V0_2015)``); derive a
variant with :func:`dataclasses.replace` (``replace(CID_VERSION_1, hamt_threshold=1)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from .errors import ImporterError

__all__ = [
    "CID_VERSION_1",
    "PROFILES",
    "UNIXFS_V0_2015",
    "UNIXFS_V1_2025",
    "ImportProfile",
    "SizeEstimate",
    "get_profile",
]

SizeEstimate = Literal["links", "block"]
_MAX_CHUNK_SIZE: Final = 2 * 1024 * 1024  # a block larger than this is refused by Kubo peers


@dataclass(frozen=True, slots=True)
class ImportProfile:
    """The settings of one way of turning bytes and folders into a DAG.

    - ``cid_version``: 0 (base58 ``Qm…``, dag-pb only) or 1 (base32 ``b…``).
    - ``raw_leaves``: file chunks are raw blocks (codec raw, always CIDv1) rather than dag-pb
      UnixFS File nodes.
    - ``chunk_size``: fixed-size chunker (``size-N``), bytes per leaf.
    - ``max_links``: links per internal node of the balanced file DAG.
    - ``hamt_fanout`` / ``hamt_threshold`` / ``hamt_size_estimate``: a folder whose size
      estimate is strictly greater than the threshold becomes a HAMT-sharded directory.
      ``"links"`` sums ``len(name) + len(CID bytes)`` over the entries (Kubo's default);
      ``"block"`` is the exact size of the flat dag-pb directory block (IPIP-499).
    """

    name: str
    cid_version: Literal[0, 1]
    raw_leaves: bool
    chunk_size: int
    max_links: int
    hamt_fanout: int = 256
    hamt_threshold: int = 262_144
    hamt_size_estimate: SizeEstimate = "links"

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise ImporterError(f"expected cid_version 0 or 1, found {self.cid_version!r}")
        if not 0 < self.chunk_size <= _MAX_CHUNK_SIZE:
            raise ImporterError(
                f"expected a chunk_size in 1..{_MAX_CHUNK_SIZE}, found {self.chunk_size!r}"
            )
        if self.max_links < 2:
            raise ImporterError(f"expected max_links >= 2, found {self.max_links!r}")
        fanout = self.hamt_fanout
        if fanout < 8 or fanout > 1024 or fanout & (fanout - 1):
            raise ImporterError(f"expected a power-of-two hamt_fanout in 8..1024, found {fanout!r}")
        if self.hamt_threshold < 0:
            raise ImporterError(f"expected hamt_threshold >= 0, found {self.hamt_threshold!r}")
        if self.hamt_size_estimate not in ("links", "block"):
            raise ImporterError(
                f"expected hamt_size_estimate 'links' or 'block', found {self.hamt_size_estimate!r}"
            )


#: Kubo's default ``ipfs add``: CIDv0, 256 KiB chunks, 174 links, dag-pb leaves.
UNIXFS_V0_2015: Final = ImportProfile(
    name="unixfs-v0-2015", cid_version=0, raw_leaves=False, chunk_size=262_144, max_links=174
)
#: ``ipfs add --cid-version=1``: CIDv1, raw leaves, 256 KiB chunks, 174 links.
CID_VERSION_1: Final = ImportProfile(
    name="cid-version-1", cid_version=1, raw_leaves=True, chunk_size=262_144, max_links=174
)
#: IPIP-499 ``unixfs-v1-2025``: CIDv1, raw leaves, 1 MiB chunks, 1024 links, 'block' estimate.
UNIXFS_V1_2025: Final = ImportProfile(
    name="unixfs-v1-2025",
    cid_version=1,
    raw_leaves=True,
    chunk_size=1_048_576,
    max_links=1024,
    hamt_size_estimate="block",
)

PROFILES: Final[Mapping[str, ImportProfile]] = MappingProxyType(
    {p.name: p for p in (UNIXFS_V0_2015, CID_VERSION_1, UNIXFS_V1_2025)}
)


def get_profile(name: str) -> ImportProfile:
    """The profile called ``name`` (raises :class:`ImporterError` naming the known ones)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ImporterError(
            f"expected a profile name ({', '.join(PROFILES)}), found {name!r}"
        ) from None
