"""Errors of :mod:`hexavatar.ipfs`.

Every error derives from :class:`IpfsError` and also from the builtin it most resembles, so a
caller may catch either (``except ValueError`` keeps working). Messages say what was expected and
what was found; untrusted input is quoted with :func:`quote` (``repr``, truncated).
"""

from __future__ import annotations

__all__ = [
    "BlockNotFound",
    "BlockVerificationError",
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


class CidError(IpfsError, ValueError):
    """A CID, multihash, varint or multibase string is malformed or unsupported."""


class MultibaseError(CidError):
    """A multibase string has an unknown prefix or a character outside its alphabet."""


class UnsupportedHashError(CidError):
    """The multihash function of a CID is not one this library can compute."""


class BlockVerificationError(IpfsError, ValueError):
    """A block's bytes do not hash to the digest in its CID."""


class DagPbError(IpfsError, ValueError):
    """Bytes are not a valid (strict) dag-pb PBNode, or a PBNode cannot be encoded."""


class UnixFSError(IpfsError, ValueError):
    """Bytes are not a valid UnixFS ``Data`` message, or it does not fit its node."""


class ImporterError(IpfsError, ValueError):
    """Input cannot be imported (bad profile, unreadable source, unsupported entry)."""


class BlockNotFound(IpfsError, KeyError):
    """A blockstore holds no block with the asked multihash."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "block not found"


class PathResolutionError(IpfsError, ValueError):
    """A path cannot be walked through a DAG (not a directory, bad shard, ...)."""


class PathNotFound(PathResolutionError, KeyError):
    """A path segment names no entry of its directory."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "path not found"
