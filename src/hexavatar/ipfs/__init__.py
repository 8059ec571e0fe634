"""hexavatar.ipfs: Kubo-compatible content addressing in pure Python.

A library on its own: it imports nothing else from hexavatar. Modules:

- :mod:`.cid` — CIDs v0/v1, multihash, varints, :func:`verify_block`
- :mod:`.multibase` — base58btc, base32, base36 (and base16/base64) text forms
- :mod:`.dagpb` — strict dag-pb PBNode/PBLink and UnixFS ``Data`` codecs
- :mod:`.errors` — :class:`IpfsError` and its subclasses

See docs/ipfs.md for a guide.
"""

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

__all__ = [
    "CID",
    "DAG_CBOR",
    "DAG_JSON",
    "DAG_PB",
    "IDENTITY",
    "JSON",
    "RAW",
    "SHA2_256",
    "BlockNotFound",
    "BlockVerificationError",
    "CidError",
    "DagPbError",
    "DataType",
    "ImporterError",
    "IpfsError",
    "MultibaseError",
    "PBLink",
    "PBNode",
    "PathNotFound",
    "PathResolutionError",
    "UnixFSData",
    "UnixFSError",
    "UnixTime",
    "UnsupportedHashError",
    "compute_cid",
    "decode_node",
    "decode_unixfs",
    "encode_node",
    "encode_unixfs",
    "verify_block",
]
