"""hexavatar.ipfs: Kubo-compatible content addressing in pure Python.

A library on its own: it imports nothing else from hexavatar. Modules:

- :mod:`.cid` — CIDs v0/v1, multihash, varints, :func:`verify_block`
- :mod:`.multibase` — base58btc, base32, base36 (and base16/base64) text forms
- :mod:`.dagpb` — strict dag-pb PBNode/PBLink and UnixFS ``Data`` codecs, HAMT hashing
- :mod:`.profiles` — :class:`ImportProfile` and the named profiles
- :mod:`.importer` — files, streams and folders to UnixFS DAGs, as ``ipfs add`` builds them
- :mod:`.blockstore` — the :class:`Blockstore` protocol, memory/filesystem/verifying stores,
  :func:`resolve_path`
- :mod:`.errors` — :class:`IpfsError` and its subclasses

See docs/ipfs.md for a guide.
"""

from .blockstore import (
    Blockstore,
    FilesystemBlockstore,
    MemoryBlockstore,
    VerifyingBlockstore,
    list_directory,
    resolve_path,
)
from .cid import (
    CID,
    DAG_CBOR,
    DAG_JSON,
    DAG_PB,
    IDENTITY,
    JSON,
    RAW,
    SHA2_256,
    compute_cid,
    verify_block,
)
from .dagpb import (
    DataType,
    PBLink,
    PBNode,
    UnixFSData,
    UnixTime,
    decode_node,
    decode_unixfs,
    encode_node,
    encode_unixfs,
)
from .errors import (
    BlockNotFound,
    BlockVerificationError,
    CidError,
    DagPbError,
    ImporterError,
    IpfsError,
    MultibaseError,
    PathNotFound,
    PathResolutionError,
    UnixFSError,
    UnsupportedHashError,
)
from .importer import ImportResult, import_bytes, import_directory, import_stream, import_tree
from .profiles import (
    CID_VERSION_1,
    PROFILES,
    UNIXFS_V0_2015,
    UNIXFS_V1_2025,
    ImportProfile,
    get_profile,
)

__all__ = [
    "CID",
    "CID_VERSION_1",
    "DAG_CBOR",
    "DAG_JSON",
    "DAG_PB",
    "IDENTITY",
    "JSON",
    "PROFILES",
    "RAW",
    "SHA2_256",
    "UNIXFS_V0_2015",
    "UNIXFS_V1_2025",
    "BlockNotFound",
    "BlockVerificationError",
    "Blockstore",
    "CidError",
    "DagPbError",
    "DataType",
    "FilesystemBlockstore",
    "ImportProfile",
    "ImportResult",
    "ImporterError",
    "IpfsError",
    "MemoryBlockstore",
    "MultibaseError",
    "PBLink",
    "PBNode",
    "PathNotFound",
    "PathResolutionError",
    "UnixFSData",
    "UnixFSError",
    "UnixTime",
    "UnsupportedHashError",
    "VerifyingBlockstore",
    "compute_cid",
    "decode_node",
    "decode_unixfs",
    "encode_node",
    "encode_unixfs",
    "get_profile",
    "import_bytes",
    "import_directory",
    "import_stream",
    "import_tree",
    "list_directory",
    "resolve_path",
    "verify_block",
]
