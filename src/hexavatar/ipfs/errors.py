"""Errors of :mod:`hexavatar.ipfs`.

Every error derives from :class:`IpfsError` and also from the builtin it most resembles, so a
caller may catch either (``except ValueError`` keeps working). Messages say what was expected and
what was found; untrusted input is quoted with :func:`quote` (``repr``, truncated).
"""

from __future__ import annotations

__all__ = [
    "BlockNotFound",
    "BlockVerificationError",
    "BlockstoreError",
    "CidError",
    "DagPbError",
    "ImporterError",
    "IpfsError",
    "MultibaseError",
    "PathNotFound",
    "PathResolutionError",
    "UnixFSError",
    "UnsupportedHashError",
    "quote",
]

_QUOTE_LIMIT = 80


def quote(value: object, limit: int = _QUOTE_LIMIT) -> str:
    """Return ``repr(value)`` cut to about ``limit`` characters, for error messages."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class IpfsError(Exception):
    """Base class of every error raised by :mod:`hexavatar.ipfs`."""

    code = "ipfs_error"


class CidError(IpfsError, ValueError):
    """A CID, multihash, varint or multibase string is malformed or unsupported."""

    code = "invalid_cid"


class MultibaseError(CidError):
    """A multibase string has an unknown prefix or a character outside its alphabet."""

    code = "invalid_cid"


class UnsupportedHashError(CidError):
    """The multihash function of a CID is not one this library can compute."""

    code = "unsupported_hash"


class BlockVerificationError(IpfsError, ValueError):
    """A block's bytes do not hash to the digest in its CID."""

    code = "block_verification_failed"


class DagPbError(IpfsError, ValueError):
    """Bytes are not a valid (strict) dag-pb PBNode, or a PBNode cannot be encoded."""

    code = "invalid_dag_pb"


class UnixFSError(IpfsError, ValueError):
    """Bytes are not a valid UnixFS ``Data`` message, or it does not fit its node."""

    code = "invalid_unixfs"


class ImporterError(IpfsError, ValueError):
    """Input cannot be imported (bad profile, unreadable source, unsupported entry)."""

    code = "import_failed"


class BlockstoreError(IpfsError, OSError):
    """A blockstore cannot be used as it is (e.g. a folder laid out for another sharding)."""

    code = "blockstore_error"


class BlockNotFound(IpfsError, KeyError):
    """A blockstore holds no block with the asked multihash."""

    code = "block_not_found"

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "block not found"


class PathResolutionError(IpfsError, ValueError):
    """A path cannot be walked through a DAG (not a directory, bad shard, ...)."""

    code = "path_not_resolved"


class PathNotFound(PathResolutionError, KeyError):
    """A path segment names no entry of its directory."""

    code = "path_not_found"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "path not found"


# --- exporter, CAR, gateway and verified fetch --------------------------------------------
# Each class below carries the ``code`` the web layer maps to an HTTP status.


class CarError(IpfsError, ValueError):
    """A CAR stream is malformed, truncated, over a size cap, or holds a block failing its CID."""

    code = "invalid_car"


class NotAFileError(IpfsError, ValueError):
    """Bytes were asked of a DAG node that is not a UnixFS file (a directory, a symlink, ...)."""

    code = "not_a_file"


class RangeNotSatisfiable(IpfsError, ValueError):
    """A byte range lies wholly outside the content; ``size`` is the content's length."""

    code = "range_not_satisfiable"

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size

    @property
    def headers(self) -> dict[str, str]:
        """Headers an HTTP 416 response carries (RFC 9110 section 15.5.17)."""
        return {"Content-Range": f"bytes */{self.size}"}


class InvalidGatewayRequest(IpfsError, ValueError):
    """A gateway request is malformed: bad CID, bad query parameter, unsupported combination."""

    code = "invalid_gateway_request"


class ContentNotFound(IpfsError, LookupError):
    """Content asked of the gateway is not here: a missing block or a missing path segment."""

    code = "content_not_found"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "content not found"


class NotAcceptable(IpfsError, ValueError):
    """The gateway cannot produce a response in any format the request accepts."""

    code = "not_acceptable"

    @property
    def headers(self) -> dict[str, str]:
        """Headers an HTTP 406 response carries: it depends on ``Accept`` (RFC 9110 12.5.5),
        so a cache must not answer another ``Accept`` with it."""
        return {"Vary": "Accept"}


class FetchError(IpfsError, ConnectionError):
    """Verified fetch failed on every gateway (``report`` says which failed why)."""

    code = "fetch_failed"

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


__all__ += [
    "CarError",
    "ContentNotFound",
    "FetchError",
    "InvalidGatewayRequest",
    "NotAFileError",
    "NotAcceptable",
    "RangeNotSatisfiable",
]


class NotCached(IpfsError, LookupError):
    """``Cache-Control: only-if-cached`` asked for content whose root block is not here."""

    code = "not_cached"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not cached"


__all__ += ["NotCached"]


class PinningError(IpfsError, ConnectionError):
    """A Kubo node or a pinning service refused, failed or answered something unexpected."""

    code = "pinning_failed"


__all__ += ["PinningError"]


class CarBlockMismatch(CarError):
    """A CAR section's block does not hash to the CID in front of it (tampered or corrupt)."""

    code = "invalid_car"


__all__ += ["CarBlockMismatch"]
