"""CIDs (v0 and v1), multihash and unsigned varints: pure functions over bytes, no I/O.

A :class:`CID` is immutable and hashable; two CIDs are equal when their binary forms are equal
(so a CIDv0 and the CIDv1 of the same block differ: compare ``.multihash`` for "same block").

Hot-path notes: the binary form is built once, at construction; ``str()`` is computed once and
cached; :func:`verify_block` and :func:`compute_cid` hash the caller's buffer without copying it.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from . import multibase
from .errors import BlockVerificationError, CidError, UnsupportedHashError, quote

if TYPE_CHECKING:
    from .multibase import Base

__all__ = [
    "BLAKE2B_256",
    "CID",
    "DAG_CBOR",
    "DAG_JSON",
    "DAG_PB",
    "IDENTITY",
    "JSON",
    "LIBP2P_KEY",
    "MAX_DIGEST_LENGTH",
    "MAX_IDENTITY_LENGTH",
    "RAW",
    "SHA2_256",
    "SHA2_512",
    "SHA3_256",
    "SHA3_512",
    "Buffer",
    "compute_cid",
    "compute_multihash",
    "decode_multihash",
    "decode_varint",
    "encode_multihash",
    "encode_varint",
    "verify_block",
]

Buffer = bytes | bytearray | memoryview

# Multicodecs (content types).
DAG_PB: Final = 0x70
RAW: Final = 0x55
DAG_CBOR: Final = 0x71
DAG_JSON: Final = 0x0129
JSON: Final = 0x0200
LIBP2P_KEY: Final = 0x72

# Multihash function codes.
IDENTITY: Final = 0x00
SHA2_256: Final = 0x12
SHA2_512: Final = 0x13
SHA3_512: Final = 0x14
SHA3_256: Final = 0x16
BLAKE2B_256: Final = 0xB220

#: Largest inline (identity) digest accepted, as Kubo's default ``verifcid`` limit.
MAX_IDENTITY_LENGTH: Final = 128
#: Largest digest of any multihash accepted when decoding (guards against huge inputs).
MAX_DIGEST_LENGTH: Final = 128
_MAX_VARINT_BYTES: Final = 9  # multiformats unsigned-varint: at most 63 bits
_MAX_CID_TEXT: Final = 512  # far above any valid CID; keeps base58 decoding bounded

_CODEC_NAMES: Final[dict[int, str]] = {
    DAG_PB: "dag-pb",
    RAW: "raw",
    DAG_CBOR: "dag-cbor",
    DAG_JSON: "dag-json",
    JSON: "json",
    LIBP2P_KEY: "libp2p-key",
}
_HASH_NAMES: Final[dict[int, str]] = {
    IDENTITY: "identity",
    SHA2_256: "sha2-256",
    SHA2_512: "sha2-512",
    SHA3_256: "sha3-256",
    SHA3_512: "sha3-512",
    BLAKE2B_256: "blake2b-256",
}
_HASHERS: Final[dict[int, Callable[[], Any]]] = {
    SHA2_256: hashlib.sha256,
    SHA2_512: hashlib.sha512,
    SHA3_256: hashlib.sha3_256,
    SHA3_512: hashlib.sha3_512,
    BLAKE2B_256: lambda: hashlib.blake2b(digest_size=32),
}
_HASH_LENGTHS: Final[dict[int, int]] = {
    SHA2_256: 32,
    SHA2_512: 64,
    SHA3_256: 32,
    SHA3_512: 64,
    BLAKE2B_256: 32,
}
_SMALL_VARINTS: Final = tuple(bytes((i,)) for i in range(0x80))
_SHA256_PREFIX: Final = b"\x12\x20"
_V1_PREFIXES: dict[int, bytes] = {}


# --- varint -------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint of ``value`` (0 <= value < 2**63)."""
    if 0 <= value < 0x80:
        return _SMALL_VARINTS[value]
    if value < 0 or value >= 1 << 63:
        raise CidError(f"expected a varint value in [0, 2**63), found {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: Buffer, offset: int = 0) -> tuple[int, int]:
    """``(value, next offset)`` of the minimal unsigned varint at ``buf[offset:]``."""
    try:
        byte = buf[offset]
    except IndexError:
        raise CidError(f"expected a varint at byte {offset}, found the end of input") from None
    if byte < 0x80:
        return byte, offset + 1
    value = byte & 0x7F
    shift = 7
    pos = offset + 1
    end = len(buf)
    while True:
        if pos >= end:
            raise CidError(f"expected a varint at byte {offset}, found a truncated one")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if pos - offset >= _MAX_VARINT_BYTES:
            raise CidError(f"expected a varint of at most 9 bytes at byte {offset}")
    if byte == 0:
        raise CidError(f"expected a minimal varint at byte {offset}, found trailing zero bytes")
    return value, pos


# --- multihash ----------------------------------------------------------------------------


def encode_multihash(code: int, digest: Buffer) -> bytes:
    """The multihash ``code || len(digest) || digest``."""
    if code == SHA2_256 and len(digest) == 32:
        return _SHA256_PREFIX + digest
    return encode_varint(code) + encode_varint(len(digest)) + bytes(digest)


def decode_multihash(multihash: Buffer) -> tuple[int, bytes]:
    """``(hash code, digest)`` of a multihash; its length must be exactly right."""
    code, pos = decode_varint(multihash)
    length, pos = decode_varint(multihash, pos)
    if len(multihash) - pos != length:
        raise CidError(
            f"expected a multihash digest of {length} bytes, found {len(multihash) - pos}"
        )
    _check_digest(code, length)
    return code, bytes(multihash[pos:])


def _check_digest(code: int, length: int) -> None:
    limit = MAX_IDENTITY_LENGTH if code == IDENTITY else MAX_DIGEST_LENGTH
    if length > limit:
        raise CidError(
            f"expected a {_hash_name(code)} digest of at most {limit} bytes, found {length}"
        )
    expected = _HASH_LENGTHS.get(code)
    if expected is not None and length != expected:
        raise CidError(f"expected a {_HASH_NAMES[code]} digest of {expected} bytes, found {length}")


def compute_multihash(data: Buffer, code: int = SHA2_256) -> bytes:
    """Hash ``data`` (not copied) and return the multihash."""
    if code == SHA2_256:
        return _SHA256_PREFIX + hashlib.sha256(data).digest()
    if code == IDENTITY:
        return encode_multihash(IDENTITY, data)
    return encode_multihash(code, _hasher(code)(data))


def _hasher(code: int) -> Callable[[Buffer], bytes]:
    factory = _HASHERS.get(code)
    if factory is None:
        raise UnsupportedHashError(
            f"expected a hash function this library computes "
            f"({', '.join(_HASH_NAMES[c] for c in _HASHERS)}), found {_hash_name(code)}"
        )

    def digest(data: Buffer) -> bytes:
        h = factory()
        h.update(data)
        return bytes(h.digest())

    return digest


def _hash_name(code: int) -> str:
    return _HASH_NAMES.get(code, f"multihash 0x{code:x}")


def _codec_name(code: int) -> str:
    return _CODEC_NAMES.get(code, f"0x{code:x}")


# --- CID ----------------------------------------------------------------------------------


class CID:
    """A content identifier: ``version`` (0 or 1), ``codec`` (multicodec) and ``multihash``.

    Build one with :meth:`decode` (text or binary), :func:`compute_cid` (hash a block),
    :meth:`identity` (inline data) or the constructor ``CID(version, codec, multihash)``.
    """

    __slots__ = ("_bytes", "_codec", "_hash_code", "_multihash", "_str", "_version")

    _version: int
    _codec: int
    _multihash: bytes
    _hash_code: int
    _bytes: bytes
    _str: str | None

    def __init__(self, version: int, codec: int, multihash: Buffer) -> None:
        multihash = bytes(multihash)
        if len(multihash) == 34 and multihash[:2] == _SHA256_PREFIX:
            hash_code = SHA2_256
        else:
            hash_code, _ = decode_multihash(multihash)
        if version == 0:
            if codec != DAG_PB or hash_code != SHA2_256:
                raise CidError(
                    "expected CIDv0 to be dag-pb with a sha2-256 digest, found "
                    f"{_codec_name(codec)} with {_hash_name(hash_code)}"
                )
            binary = multihash
        elif version == 1:
            if codec < 0 or codec >= 1 << 63:
                raise CidError(f"expected a multicodec code, found {codec}")
            prefix = _V1_PREFIXES.get(codec)
            if prefix is None:
                prefix = b"\x01" + encode_varint(codec)
            binary = prefix + multihash
        else:
            raise CidError(f"expected CID version 0 or 1, found {quote(version)}")
        self._init(version, codec, multihash, hash_code, binary)

    def _init(self, version: int, codec: int, mh: bytes, hash_code: int, binary: bytes) -> None:
        setter = object.__setattr__
        setter(self, "_version", version)
        setter(self, "_codec", codec)
        setter(self, "_multihash", mh)
        setter(self, "_hash_code", hash_code)
        setter(self, "_bytes", binary)
        setter(self, "_str", None)

    @classmethod
    def _trusted(cls, version: int, codec: int, mh: bytes, hash_code: int, binary: bytes) -> CID:
        cid = object.__new__(cls)
        cid._init(version, codec, mh, hash_code, binary)
        return cid

    # -- constructors --

    @classmethod
    def decode(cls, value: str | Buffer | CID) -> CID:
        """Parse a CID from its text (``Qm…``, multibase ``b…``/``z…``/``k…``) or binary form."""
        if isinstance(value, CID):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_bytes(value)
        raise CidError(f"expected a CID as str or bytes, found {type(value).__name__}")

    @classmethod
    def from_string(cls, text: str) -> CID:
        """Parse CID text: bare base58btc ``Qm…`` (v0) or a multibase string (v1)."""
        if not isinstance(text, str):
            raise CidError(f"expected CID text, found {type(text).__name__}")
        if len(text) > _MAX_CID_TEXT:
            raise CidError(
                f"expected CID text of at most {_MAX_CID_TEXT} characters, "
                f"found {len(text)}: {quote(text)}"
            )
        if len(text) == 46 and text.startswith("Qm"):
            try:
                binary = multibase.base58_decode(text)
            except CidError as exc:
                raise CidError(f"expected a base58btc CIDv0, found {quote(text)}: {exc}") from None
            cid = cls.from_bytes(binary)
            object.__setattr__(cid, "_str", text)
            return cid
        if not text:
            raise CidError("expected a CID, found an empty string")
        try:
            base, binary = multibase.decode(text)
        except CidError as exc:
            raise CidError(f"expected a CID, found {quote(text)}: {exc}") from None
        try:
            cid = cls.from_bytes(binary)
        except CidError as exc:
            raise CidError(f"expected a CID, found {quote(text)}: {exc}") from None
        if cid._version == 0:
            raise CidError(
                f"expected a CIDv0 as bare base58btc (Qm…), found it in {base}: {quote(text)}"
            )
        return cid

    @classmethod
    def from_bytes(cls, data: Buffer) -> CID:
        """Parse a binary CID; every byte of ``data`` must belong to it."""
        cid, end = cls.read(data)
        if end != len(data):
            raise CidError(
                f"expected a binary CID, found {len(data) - end} trailing bytes "
                f"after one in {quote(bytes(data))}"
            )
        return cid

    @classmethod
    def read(cls, data: Buffer, offset: int = 0) -> tuple[CID, int]:
        """``(cid, next offset)`` of the binary CID at ``data[offset:]`` (for CAR sections)."""
        if len(data) - offset >= 34 and data[offset] == 0x12 and data[offset + 1] == 0x20:
            mh = bytes(data[offset : offset + 34])
            return cls._trusted(0, DAG_PB, mh, SHA2_256, mh), offset + 34
        version, pos = decode_varint(data, offset)
        if version == 0x12:
            raise CidError(
                f"expected a CIDv0 of 34 bytes, found {len(data) - offset}: "
                f"{quote(bytes(data[offset:]))}"
            )
        if version != 1:
            raise CidError(
                f"expected CID version 1 (or a CIDv0 0x12 0x20 …), found version "
                f"{version} in {quote(bytes(data[offset:]))}"
            )
        codec, pos = decode_varint(data, pos)
        mh_start = pos
        code, pos = decode_varint(data, pos)
        length, pos = decode_varint(data, pos)
        end = pos + length
        if end > len(data):
            raise CidError(f"expected a digest of {length} bytes, found {len(data) - pos}")
        _check_digest(code, length)
        mh = bytes(data[mh_start:end])
        return cls._trusted(1, codec, mh, code, bytes(data[offset:end])), end

    @classmethod
    def from_digest(
        cls, digest: Buffer, *, version: int = 1, codec: int = RAW, hash_code: int = SHA2_256
    ) -> CID:
        """The CID of a block whose ``hash_code`` digest is ``digest`` (already computed)."""
        if hash_code == SHA2_256 and len(digest) == 32:
            mh = _SHA256_PREFIX + digest
            if version == 1:
                prefix = _V1_PREFIXES.get(codec)
                if prefix is not None:
                    return cls._trusted(1, codec, mh, SHA2_256, prefix + mh)
            elif version == 0 and codec == DAG_PB:
                return cls._trusted(0, DAG_PB, mh, SHA2_256, mh)
        return cls(version, codec, encode_multihash(hash_code, digest))

    @classmethod
    def identity(
        cls, data: Buffer, *, codec: int = RAW, max_length: int = MAX_IDENTITY_LENGTH
    ) -> CID:
        """A CIDv1 that carries ``data`` inline (identity multihash)."""
        if len(data) > max_length:
            raise CidError(
                f"expected at most {max_length} bytes of inline data for an "
                f"identity CID, found {len(data)}"
            )
        return cls(1, codec, encode_multihash(IDENTITY, data))

    # -- fields --

    @property
    def version(self) -> int:
        return self._version

    @property
    def codec(self) -> int:
        """Multicodec code of the content (``DAG_PB``, ``RAW``, ...)."""
        return self._codec

    @property
    def codec_name(self) -> str:
        return _codec_name(self._codec)

    @property
    def multihash(self) -> bytes:
        """The full multihash (code, length, digest): the key of the block in a blockstore."""
        return self._multihash

    @property
    def hash_code(self) -> int:
        return self._hash_code

    @property
    def digest(self) -> bytes:
        """The raw digest (for identity CIDs: the inline data)."""
        return decode_multihash(self._multihash)[1]

    @property
    def bytes(self) -> bytes:
        """The binary form of the CID."""
        return self._bytes

    @property
    def is_identity(self) -> bool:
        return self._hash_code == IDENTITY

    # -- conversions --

    def to_v1(self) -> CID:
        if self._version == 1:
            return self
        return CID(1, self._codec, self._multihash)

    def to_v0(self) -> CID:
        if self._version == 0:
            return self
        if self._codec != DAG_PB or self._hash_code != SHA2_256:
            raise CidError(
                "expected a dag-pb CID with a sha2-256 digest to convert to CIDv0, found "
                f"{_codec_name(self._codec)} with {_hash_name(self._hash_code)} ({self})"
            )
        return CID(0, DAG_PB, self._multihash)

    def encode(self, base: Base | None = None) -> str:
        """Text form: CIDv0 as bare base58btc, CIDv1 in ``base`` (default base32)."""
        if base is None:
            return str(self)
        if self._version == 0:
            if base != "base58btc":
                raise CidError(f"expected base58btc for a CIDv0, found {base}; use to_v1()")
            return str(self)
        return multibase.encode(self._bytes, base)

    def __str__(self) -> str:
        text = self._str
        if text is None:
            if self._version == 0:
                text = multibase.base58_encode(self._bytes)
            else:
                text = "b" + multibase.base32_encode(self._bytes)
            object.__setattr__(self, "_str", text)
        return text

    def __repr__(self) -> str:
        return f"CID({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CID):
            return self._bytes == other._bytes
        return NotImplemented

    def __lt__(self, other: CID) -> bool:
        if isinstance(other, CID):
            return self._bytes < other._bytes
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"CID is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"CID is immutable (cannot delete {name})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (CID.from_bytes, (self._bytes,))

    def __bytes__(self) -> builtins.bytes:
        return self._bytes


for _codec in (DAG_PB, RAW, DAG_CBOR, DAG_JSON, JSON, LIBP2P_KEY):
    _V1_PREFIXES[_codec] = b"\x01" + encode_varint(_codec)


def compute_cid(
    data: Buffer, *, version: int = 1, codec: int = RAW, hash_code: int = SHA2_256
) -> CID:
    """Hash a block (``data`` is not copied) and return its CID."""
    if hash_code == SHA2_256:
        return CID.from_digest(
            hashlib.sha256(data).digest(), version=version, codec=codec, hash_code=SHA2_256
        )
    return CID(version, codec, compute_multihash(data, hash_code))


def verify_block(cid: CID | str | Buffer, data: Buffer) -> None:
    """Re-hash ``data`` with ``cid``'s hash function; raise unless it gives ``cid``'s digest.

    Raises :class:`BlockVerificationError` on a mismatch and :class:`UnsupportedHashError` when
    the hash function is unknown (a block that cannot be checked is never accepted).
    """
    if not isinstance(cid, CID):
        cid = CID.decode(cid)
    code = cid.hash_code
    if code == SHA2_256:
        ok = hashlib.sha256(data).digest() == cid.multihash[2:]
    elif code == IDENTITY:
        ok = cid.digest == data
    else:
        ok = _hasher(code)(data) == cid.digest
    if not ok:
        raise BlockVerificationError(
            f"expected a block whose {_hash_name(code)} is the digest of {cid}, found "
            f"{len(data)} bytes that hash to something else"
        )
