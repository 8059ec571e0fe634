"""Multibase: the text encodings of binary CIDs (pure functions, no I/O).

Supported: base58btc (``z``), base32 lower/upper (``b``/``B``, RFC 4648, no padding),
base36 lower/upper (``k``/``K``), base16 lower/upper (``f``/``F``), base64 (``m``) and
base64url (``u``), both without padding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final, Literal

from .errors import MultibaseError, quote

__all__ = [
    "BASE_PREFIXES",
    "Base",
    "base32_decode",
    "base32_encode",
    "base36_decode",
    "base36_encode",
    "base58_decode",
    "base58_encode",
    "decode",
    "encode",
]

Base = Literal[
    "base58btc",
    "base32",
    "base32upper",
    "base36",
    "base36upper",
    "base16",
    "base16upper",
    "base64",
    "base64url",
]

BASE_PREFIXES: Final[dict[str, str]] = {
    "base58btc": "z",
    "base32": "b",
    "base32upper": "B",
    "base36": "k",
    "base36upper": "K",
    "base16": "f",
    "base16upper": "F",
    "base64": "m",
    "base64url": "u",
}
_PREFIX_TO_BASE: Final[dict[str, str]] = {p: b for b, p in BASE_PREFIXES.items()}

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final[dict[str, int]] = {c: i for i, c in enumerate(_B58_ALPHABET)}
_B36_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_B36_CHARS: Final = frozenset(_B36_ALPHABET)
_B32_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz234567")
_B16_CHARS: Final = frozenset("0123456789abcdef")


def _leading_zeros(data: bytes) -> int:
    return len(data) - len(data.lstrip(b"\x00"))


def base58_encode(data: bytes) -> str:
    """base58btc of ``data`` (no prefix); each leading zero byte becomes ``1``."""
    num = int.from_bytes(data, "big")
    out: list[str] = []
    append = out.append
    alphabet = _B58_ALPHABET
    while num:
        num, rem = divmod(num, 58)
        append(alphabet[rem])
    out.append("1" * _leading_zeros(data))
    out.reverse()
    return "".join(out)


def base58_decode(text: str) -> bytes:
    """Bytes of a base58btc string (no prefix)."""
    num = 0
    index = _B58_INDEX
    for pos, char in enumerate(text):
        value = index.get(char)
        if value is None:
            raise MultibaseError(
                f"expected a base58btc character, found {char!r} at position {pos} of {quote(text)}"
            )
        num = num * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * zeros + body


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, without padding (no prefix)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def base32_decode(text: str) -> bytes:
    """Bytes of a lower-case, unpadded RFC 4648 base32 string (no prefix)."""
    if not _B32_CHARS.issuperset(text):
        bad = next(c for c in text if c not in _B32_CHARS)
        raise MultibaseError(
            f"expected a lower-case base32 character, found {bad!r} in {quote(text)}"
        )
    if len(text) % 8 in (1, 3, 6):
        raise MultibaseError(f"expected a base32 length, found {len(text)} characters")
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except binascii.Error as exc:
        raise MultibaseError(f"expected base32, found {quote(text)}: {exc}") from None


def base36_encode(data: bytes) -> str:
    """base36 lower case (no prefix); each leading zero byte becomes ``0``."""
    num = int.from_bytes(data, "big")
    out: list[str] = []
    while num:
        num, rem = divmod(num, 36)
        out.append(_B36_ALPHABET[rem])
    out.append("0" * _leading_zeros(data))
    out.reverse()
    return "".join(out)


def base36_decode(text: str) -> bytes:
    """Bytes of a lower-case base36 string (no prefix)."""
    if not _B36_CHARS.issuperset(text):
        bad = next(c for c in text if c not in _B36_CHARS)
        raise MultibaseError(
            f"expected a lower-case base36 character, found {bad!r} in {quote(text)}"
        )
    zeros = len(text) - len(text.lstrip("0"))
    num = int(text, 36) if text else 0
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * zeros + body


def _base16_decode(text: str) -> bytes:
    if not _B16_CHARS.issuperset(text) or len(text) % 2:
        raise MultibaseError(f"expected lower-case base16 of even length, found {quote(text)}")
    return bytes.fromhex(text)


def _base64_decode(text: str, *, url: bool) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        if url:
            return base64.b64decode(padded, altchars=b"-_", validate=True)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MultibaseError(f"expected base64, found {quote(text)}: {exc}") from None


def encode(data: bytes, base: Base) -> str:
    """``data`` as multibase text: the base's prefix character, then the encoding."""
    if base == "base32":
        return "b" + base32_encode(data)
    if base == "base58btc":
        return "z" + base58_encode(data)
    if base == "base36":
        return "k" + base36_encode(data)
    if base == "base32upper":
        return "B" + base32_encode(data).upper()
    if base == "base36upper":
        return "K" + base36_encode(data).upper()
    if base == "base16":
        return "f" + data.hex()
    if base == "base16upper":
        return "F" + data.hex().upper()
    if base == "base64":
        return "m" + base64.b64encode(data).decode("ascii").rstrip("=")
    if base == "base64url":
        return "u" + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    raise MultibaseError(f"expected one of {sorted(BASE_PREFIXES)}, found base {quote(base)}")


def decode(text: str) -> tuple[str, bytes]:
    """``(base name, bytes)`` of multibase text; raises :class:`MultibaseError`."""
    if not text:
        raise MultibaseError("expected multibase text, found an empty string")
    prefix, body = text[0], text[1:]
    base = _PREFIX_TO_BASE.get(prefix)
    if base is None:
        raise MultibaseError(
            f"expected a multibase prefix ({''.join(_PREFIX_TO_BASE)}), found {prefix!r} "
            f"in {quote(text)}"
        )
    return base, _decode_body(base, body)


def _decode_body(base: str, body: str) -> bytes:
    if base == "base32":
        return base32_decode(body)
    if base == "base58btc":
        return base58_decode(body)
    if base == "base36":
        return base36_decode(body)
    if base == "base32upper":
        return base32_decode(_lower_only_if_upper(body, base))
    if base == "base36upper":
        return base36_decode(_lower_only_if_upper(body, base))
    if base == "base16":
        return _base16_decode(body)
    if base == "base16upper":
        return _base16_decode(_lower_only_if_upper(body, base))
    return _base64_decode(body, url=base == "base64url")


def _lower_only_if_upper(body: str, base: str) -> str:
    if body != body.upper():
        raise MultibaseError(f"expected upper case for {base}, found {quote(body)}")
    return body.lower()
