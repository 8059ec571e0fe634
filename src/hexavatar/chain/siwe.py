"""Sign-In with Ethereum (EIP-4361): messages, parsing, rendering and signature checks.

This module owns the SIWE message: :class:`SiweMessage` (every EIP-4361 field, validated on
construction), :func:`parse_message` (strict: the ABNF of EIP-4361, nothing more, nothing
less), :meth:`SiweMessage.to_text` (byte-exact inverse of the parser), :func:`build_message`
and :func:`generate_nonce` for clients and tests, and :func:`verify_message` /
:func:`verify_message_async` (origin, chain, time window, EIP-191 signature, EIP-1271 contract
wallets).

Why hand-written: the ``siwe`` package is unmaintained and cannot be installed beside web3 8.
Parsing is a pure function of the text; only the EIP-1271 fallback talks to a node, through the
``w3`` passed in.

Decisions where EIP-4361 leaves room, all on the strict side so that ``to_text`` reproduces
the signed bytes exactly:

* the message is printable ASCII and LF only (every production of the grammar is ASCII);
* no trailing newline, no CR;
* a statement may be absent (two empty lines between address and ``URI:``) or present and
  empty (three empty lines), as the ABNF's ``[ statement LF ]`` with ``statement =
  *( reserved / unreserved / " " )`` allows; the two are different messages (``None``/``""``);
* ``Chain ID`` is ``1*DIGIT``: leading zeros are accepted and kept (``chain_id_digits``) so
  that :meth:`SiweMessage.to_text` still gives the signed bytes; timestamps keep their exact
  text (RFC 3339; a leap second ``:60`` is refused because :class:`datetime.datetime` cannot
  hold it, and so are dates outside years 1-9999 after applying the offset);
* a message without a scheme is treated as ``https`` when checking the scheme, and a domain
  without a port as the scheme's default port (EIP-4361, ``domain``), so ``example.org`` and
  ``example.org:443`` are the same origin for ``https``.

Nonce bookkeeping (issued by us, unused, bound to the session) is the caller's job: it has the
database. :func:`verify_message` returns the parsed message so the caller can consume
``message.nonce``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from hexavatar.chain.errors import (
    ChainUnavailable,
    SiweAddressError,
    SiweChainIdError,
    SiweDomainError,
    SiweDuplicateFieldError,
    SiweError,
    SiweExpiredError,
    SiweFieldOrderError,
    SiweIssuedInFutureError,
    SiweMalformedError,
    SiweNotYetValidError,
    SiweSchemeError,
    SiweSignatureError,
    SiweSignerMismatchError,
    SiweUnknownFieldError,
    SiweUriError,
    quote,
)

if TYPE_CHECKING:
    from web3 import AsyncWeb3, Web3
    from web3.types import TxParams

__all__ = [
    "EIP1271_MAGIC_VALUE",
    "SiweMessage",
    "build_message",
    "eip191_hash",
    "format_timestamp",
    "generate_nonce",
    "parse_message",
    "parse_timestamp",
    "verify_message",
    "verify_message_async",
]

PREAMBLE_SUFFIX: Final = " wants you to sign in with your Ethereum account:"
EIP1271_MAGIC_VALUE: Final = bytes.fromhex("1626ba7e")
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_MAX_MESSAGE_CHARS: Final = 65_536
_MAX_CHAIN_ID: Final = 2**256 - 1

# --- RFC 3986 / RFC 5234 character classes used by the EIP-4361 ABNF -------------------------
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_AUTHORITY_RE = re.compile(
    rf"(?:(?P<userinfo>(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*)@)?"
    rf"(?P<host>\[[^\]]*\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
    r"(?::(?P<port>[0-9]*))?"
)
_IPVFUTURE_RE = re.compile(rf"v[0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
_URI_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*):"
    rf"(?://(?P<authority>[^/?#]*)(?:/{_PCHAR}*)*"
    rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
    rf"|{_PCHAR}+(?:/{_PCHAR}*)*"
    r")?"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"
    rf"(?:#(?:{_PCHAR}|[/?])*)?"
)
_STATEMENT_RE = re.compile(rf"[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]*")
_REQUEST_ID_RE = re.compile(rf"{_PCHAR}*")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID_RE = re.compile(r"[0-9]+")
_TIMESTAMP_RE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?"
    r"(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)
_PRINTABLE_RE = re.compile(r"[\x20-\x7e\n]*")
_NONCE_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# The fields after the statement, in their only allowed order.
_FIELD_ORDER: Final = (
    "URI",
    "Version",
    "Chain ID",
    "Nonce",
    "Issued At",
    "Expiration Time",
    "Not Before",
    "Request ID",
    "Resources",
)
_REQUIRED_FIELDS: Final = frozenset(_FIELD_ORDER[:5])
_FIELD_LINE_RE = re.compile(r"(?P<name>" + "|".join(_FIELD_ORDER[:-1]) + r"): (?P<value>.*)")


# --- grammar checks -------------------------------------------------------------------------


def _malformed(what: str, expected: str, found: object) -> SiweMalformedError:
    return SiweMalformedError(f"{what}: expected {expected}, found {quote(found)}")


def _check_authority(text: str, *, what: str, require_host: bool) -> None:
    m = _AUTHORITY_RE.fullmatch(text)
    if m is None:
        raise _malformed(what, "an RFC 3986 authority ([userinfo@]host[:port])", text)
    host = m.group("host")
    if require_host and not host:
        raise _malformed(what, "a host name", text)
    if host.startswith("["):
        inner = host[1:-1]
        if _IPVFUTURE_RE.fullmatch(inner) is None:
            try:
                IPv6Address(inner)
            except ValueError:
                raise _malformed(what, "an IPv6 literal in brackets", host) from None
            if "%" in inner:
                raise _malformed(what, "an IPv6 literal without a zone", host)


def _check_uri(text: str, *, what: str) -> None:
    """RFC 3986 ``URI``: scheme, hier-part, optional query and fragment, nothing else."""
    m = _URI_RE.fullmatch(text)
    if m is None:
        raise _malformed(what, "an RFC 3986 URI (scheme:hier-part[?query][#fragment])", text)
    authority = m.group("authority")
    if authority is not None:
        _check_authority(authority, what=what, require_host=False)


def _check_address(address: str) -> None:
    if _ADDRESS_RE.fullmatch(address) is None:
        raise SiweAddressError(f"address: expected 0x and 40 hex digits, found {quote(address)}")
    if to_checksum_address(address) != address:
        raise SiweAddressError(
            f"address: expected the EIP-55 checksummed spelling "
            f"{to_checksum_address(address)}, found {quote(address)}"
        )


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 ``date-time`` → an aware :class:`datetime` (fraction cut to microseconds)."""
    m = _TIMESTAMP_RE.fullmatch(text)
    if m is None:
        raise _malformed("timestamp", "RFC 3339 date-time like 2021-09-30T16:25:24Z", text)
    if int(m["s"]) == 60:
        raise _malformed("timestamp", "seconds 00-59 (leap seconds are not supported)", text)
    offset = timedelta(0)
    if m["sign"] is not None:
        if int(m["oh"]) > 23 or int(m["om"]) > 59:
            raise _malformed("timestamp", "a UTC offset within ±23:59", text)
        offset = timedelta(hours=int(m["oh"]), minutes=int(m["om"]))
        offset = -offset if m["sign"] == "-" else offset
    micro = int((m["frac"] or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"]),
            int(m["mi"]),
            int(m["s"]),
            micro,
            tzinfo=timezone(offset),
        )
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _malformed("timestamp", "a real calendar date and time", text) from None
    return moment


def format_timestamp(moment: datetime) -> str:
    """An aware datetime → RFC 3339 in UTC with milliseconds, as JavaScript's toISOString."""
    if moment.tzinfo is None:
        raise ValueError("timestamp: expected a timezone-aware datetime, found a naive one")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# --- the message ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SiweMessage:
    """One EIP-4361 message. Construction validates every field against the grammar.

    Timestamps are kept as their exact RFC 3339 text (so :meth:`to_text` reproduces the signed
    bytes); the ``*_datetime`` properties give them as aware datetimes.
    ``resources`` is ``None`` when the message has no ``Resources:`` line and ``()`` when it
    has the line but lists nothing; ``statement`` is ``None`` when absent and ``""`` when
    present but empty. ``chain_id_digits`` is set only when the signed text spelled the chain
    ID with leading zeros (``Chain ID: 01``); it is not part of equality.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = "1"
    scheme: str | None = None
    statement: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] | None = field(default=None)
    chain_id_digits: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.scheme is not None and _SCHEME_RE.fullmatch(self.scheme) is None:
            raise _malformed("scheme", "an RFC 3986 scheme", self.scheme)
        _check_authority(self.domain, what="domain", require_host=True)
        _check_address(self.address)
        if self.statement is not None and _STATEMENT_RE.fullmatch(self.statement) is None:
            raise _malformed(
                "statement",
                "one line of RFC 3986 reserved/unreserved characters and spaces",
                self.statement,
            )
        _check_uri(self.uri, what="URI")
        if self.version != "1":
            raise _malformed("Version", "'1'", self.version)
        if isinstance(self.chain_id, bool) or not 0 <= self.chain_id <= _MAX_CHAIN_ID:
            raise _malformed("Chain ID", "an integer from 0 to 2**256-1", self.chain_id)
        if self.chain_id_digits is not None and (
            _CHAIN_ID_RE.fullmatch(self.chain_id_digits) is None
            or len(self.chain_id_digits.lstrip("0")) > 78
            or _chain_id_value(self.chain_id_digits) != self.chain_id
        ):
            raise _malformed("Chain ID", f"the digits of {self.chain_id}", self.chain_id_digits)
        if _NONCE_RE.fullmatch(self.nonce) is None:
            raise _malformed("Nonce", "at least 8 ASCII letters or digits", self.nonce)
        self._check_timestamps()
        if self.request_id is not None and _REQUEST_ID_RE.fullmatch(self.request_id) is None:
            raise _malformed("Request ID", "RFC 3986 pchar characters", self.request_id)
        for resource in self.resources or ():
            _check_uri(resource, what="resource")

    def _check_timestamps(self) -> None:
        for text in (self.issued_at, self.expiration_time, self.not_before):
            if text is not None:
                parse_timestamp(text)

    @property
    def issued_at_datetime(self) -> datetime:
        return parse_timestamp(self.issued_at)

    @property
    def expiration_datetime(self) -> datetime | None:
        return None if self.expiration_time is None else parse_timestamp(self.expiration_time)

    @property
    def not_before_datetime(self) -> datetime | None:
        return None if self.not_before is None else parse_timestamp(self.not_before)

    def to_text(self) -> str:
        """The exact EIP-4361 text (no trailing newline); ``parse_message`` inverts it."""
        origin = self.domain if self.scheme is None else f"{self.scheme}://{self.domain}"
        lines = [origin + PREAMBLE_SUFFIX, self.address, ""]
        lines += [""] if self.statement is None else [self.statement, ""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id_digits or self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        optional = (
            ("Expiration Time", self.expiration_time),
            ("Not Before", self.not_before),
            ("Request ID", self.request_id),
        )
        lines += [f"{name}: {value}" for name, value in optional if value is not None]
        if self.resources is not None:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


# --- parsing --------------------------------------------------------------------------------


def _parse_preamble(line: str) -> tuple[str | None, str]:
    if not line.endswith(PREAMBLE_SUFFIX):
        raise _malformed("first line", f"'[scheme://]domain{PREAMBLE_SUFFIX}'", line)
    origin = line[: -len(PREAMBLE_SUFFIX)]
    scheme, sep, domain = origin.partition("://")
    return (scheme, domain) if sep else (None, origin)


def _split_header(lines: list[str]) -> tuple[str | None, int]:
    """The statement (``None`` when absent) and the index of the first field line.

    ``address LF LF [ statement LF ] LF``: two empty lines mean no statement, three mean an
    empty one; a non-empty statement is one line between two empty ones.
    """
    if len(lines) < 5 or lines[2] != "":
        raise _malformed("line 3", "an empty line after the address", lines[2:3] or "")
    if lines[3] == "":
        return ("", 5) if lines[4] == "" else (None, 4)
    if lines[4] != "":
        raise _malformed("line 5", "an empty line after the statement", lines[4])
    return lines[3], 5


def _field_name(line: str) -> tuple[str, str]:
    if line == "Resources:":
        return "Resources", ""
    m = _FIELD_LINE_RE.fullmatch(line)
    if m is None:
        if line == "":
            raise _malformed("fields", "no empty line and no trailing newline", line)
        raise SiweUnknownFieldError(
            f"fields: expected one of {', '.join(_FIELD_ORDER)} as 'Name: value', "
            f"found {quote(line)}"
        )
    return m["name"], m["value"]


def _parse_fields(lines: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...] | None]:
    values: dict[str, str] = {}
    resources: list[str] | None = None
    last = -1
    for line in lines:
        if resources is not None and line.startswith("- "):
            resources.append(line[2:])
            continue
        name, value = _field_name(line)
        index = _FIELD_ORDER.index(name)
        if name in values or (name == "Resources" and resources is not None):
            raise SiweDuplicateFieldError(f"fields: expected {name!r} at most once, found twice")
        if index < last:
            raise SiweFieldOrderError(
                f"fields: expected {name!r} before {_FIELD_ORDER[last]!r}, found it after"
            )
        last = index
        if name == "Resources":
            resources = []
        else:
            values[name] = value
    missing = [name for name in _FIELD_ORDER if name in _REQUIRED_FIELDS and name not in values]
    if missing:
        raise _malformed("fields", f"the required field {missing[0]!r}", "nothing")
    return values, None if resources is None else tuple(resources)


def _chain_id_value(digits: str) -> int:
    """``1*DIGIT`` → its value; leading zeros are dropped first (``int`` caps digit counts)."""
    return int(digits.lstrip("0") or "0")


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly; raises a :class:`SiweMalformedError` subclass."""
    if len(text) > _MAX_MESSAGE_CHARS:
        raise _malformed("message", f"at most {_MAX_MESSAGE_CHARS} characters", len(text))
    if _PRINTABLE_RE.fullmatch(text) is None:
        bad = next(ch for ch in text if not (" " <= ch <= "~" or ch == "\n"))
        raise _malformed("message", "printable ASCII and LF line ends only", bad)
    lines = text.split("\n")
    scheme, domain = _parse_preamble(lines[0])
    statement, first_field = _split_header(lines)
    values, resources = _parse_fields(lines[first_field:])
    digits = values["Chain ID"]
    if _CHAIN_ID_RE.fullmatch(digits) is None or len(digits.lstrip("0")) > 78:
        raise _malformed("Chain ID", "a decimal number (1*DIGIT) below 2**256", digits)
    chain_id = _chain_id_value(digits)
    return SiweMessage(
        scheme=scheme,
        domain=domain,
        address=lines[1],
        statement=statement,
        uri=values["URI"],
        version=values["Version"],
        chain_id=chain_id,
        chain_id_digits=None if digits == str(chain_id) else digits,
        nonce=values["Nonce"],
        issued_at=values["Issued At"],
        expiration_time=values.get("Expiration Time"),
        not_before=values.get("Not Before"),
        request_id=values.get("Request ID"),
        resources=resources,
    )


# --- building -------------------------------------------------------------------------------


class _Chooser(Protocol):
    def choice(self, seq: str, /) -> str: ...


def generate_nonce(*, rng: _Chooser = secrets, length: int = 17) -> str:
    """A fresh alphanumeric nonce (17 characters ≈ 101 bits by default)."""
    if length < 17:
        raise ValueError(f"nonce length: expected at least 17, found {length}")
    return "".join(rng.choice(_NONCE_ALPHABET) for _ in range(length))


def _timestamp_text(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_timestamp(value)


def build_message(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime | str,
    scheme: str | None = None,
    statement: str | None = None,
    expiration_time: datetime | str | None = None,
    not_before: datetime | str | None = None,
    request_id: str | None = None,
    resources: Sequence[str] | None = None,
) -> SiweMessage:
    """A validated message; datetimes are written as RFC 3339 UTC with milliseconds."""
    return SiweMessage(
        scheme=scheme,
        domain=domain,
        address=address,
        statement=statement,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=_timestamp_text(issued_at) or "",
        expiration_time=_timestamp_text(expiration_time),
        not_before=_timestamp_text(not_before),
        request_id=request_id,
        resources=None if resources is None else tuple(resources),
    )


# --- verification: the pure part -----------------------------------------------------------


def _origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in; port -1 when it is out of range."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, parts.hostname or "", -1
    return scheme, parts.hostname or "", port or _DEFAULT_PORTS.get(scheme)


def _authority_key(authority: str, scheme: str) -> tuple[str, str, int | None]:
    """(userinfo, lowercased host, port): an empty or absent port is the scheme's default."""
    m = _AUTHORITY_RE.fullmatch(authority)
    if m is None:  # only the configured domain can get here; compare it as text
        return "", authority.lower(), None
    userinfo, host, port = m["userinfo"] or "", m["host"].lower(), m["port"] or ""
    if not port:
        return userinfo, host, _DEFAULT_PORTS.get(scheme)
    significant = port.lstrip("0") or "0"
    return userinfo, host, int(significant) if len(significant) <= 5 else -1


def _check_origin(message: SiweMessage, *, domain: str, scheme: str, uri_origin: str) -> None:
    """``[scheme://]domain`` must be this origin: EIP-4361 assumes ``https`` without a scheme
    and the scheme's default port without a port, so ``example.org:443`` is ``example.org``."""
    found_scheme = (message.scheme or "https").lower()
    found = _authority_key(message.domain, found_scheme)
    expected = _authority_key(domain, scheme.lower())
    if found[:2] != expected[:2]:
        raise SiweDomainError(f"domain: expected {domain!r}, found {quote(message.domain)}")
    if found_scheme != scheme.lower():
        raise SiweSchemeError(f"scheme: expected {scheme!r}, found {quote(found_scheme)}")
    if found[2] != expected[2]:
        raise SiweDomainError(
            f"domain: expected {domain!r} (port {expected[2]}), found {quote(message.domain)}"
        )
    if _origin(message.uri) != _origin(uri_origin):
        raise SiweUriError(
            f"URI: expected a URI on the origin {uri_origin!r}, found {quote(message.uri)}"
        )


def _check_window(message: SiweMessage, *, now: datetime, skew: timedelta) -> None:
    if now.tzinfo is None:
        raise ValueError("now: expected a timezone-aware datetime, found a naive one")
    if message.issued_at_datetime > now + skew:
        raise SiweIssuedInFutureError(
            f"Issued At: expected no later than {format_timestamp(now + skew)}, "
            f"found {message.issued_at}"
        )
    expiration = message.expiration_datetime
    if expiration is not None and now >= expiration + skew:
        raise SiweExpiredError(
            f"Expiration Time: expected after {format_timestamp(now - skew)}, "
            f"found {message.expiration_time}"
        )
    not_before = message.not_before_datetime
    if not_before is not None and now < not_before - skew:
        raise SiweNotYetValidError(
            f"Not Before: expected no later than {format_timestamp(now + skew)}, "
            f"found {message.not_before}"
        )


def _signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, bytes):
        return signature
    hex_text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    if len(hex_text) % 2 or re.fullmatch(r"[0-9a-fA-F]*", hex_text) is None:
        raise SiweSignatureError(f"signature: expected 0x-prefixed hex, found {quote(signature)}")
    return bytes.fromhex(hex_text)


def _recover_eoa(text: str, raw: bytes) -> str:
    """The EIP-191 signer of ``text``; refuses wrong length, bad v, high s (EIP-2)."""
    if len(raw) != 65:
        raise SiweSignatureError(f"signature: expected 65 bytes, found {len(raw)}")
    r, s, v = int.from_bytes(raw[:32]), int.from_bytes(raw[32:64]), raw[64]
    if v not in (0, 1, 27, 28):
        raise SiweSignatureError(f"signature: expected v in 0, 1, 27, 28, found {v}")
    if not 0 < r < _SECP256K1_N:
        raise SiweSignatureError("signature: expected 0 < r < n, found r out of range")
    if not 0 < s <= _SECP256K1_N // 2:
        raise SiweSignatureError("signature: expected 0 < s <= n/2 (EIP-2), found a high s")
    standard = raw[:64] + bytes([27 + v % 27])
    return str(Account.recover_message(encode_defunct(text=text), signature=standard))


def eip191_hash(text: str) -> bytes:
    """keccak256 of the EIP-191 personal_sign envelope: what EIP-1271 wallets are asked about."""
    body = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(body)).encode() + body)


def _is_magic(result: bytes) -> bool:
    # As OpenZeppelin's SignatureChecker: at least 32 bytes, first word == bytes32(magic).
    return len(result) >= 32 and result[:32] == EIP1271_MAGIC_VALUE.ljust(32, b"\0")


def _eoa_outcome(text: str, raw: bytes, address: str) -> SiweError | None:
    """None when ``raw`` is ``address``'s EIP-191 signature, else the error to raise."""
    try:
        signer = _recover_eoa(text, raw)
    except SiweSignatureError as exc:
        return exc
    except Exception as exc:  # eth_keys refuses points off the curve
        return SiweSignatureError(f"signature: expected a recoverable signature ({exc})")
    if signer == address:
        return None
    return SiweSignerMismatchError(f"signature: expected a signature by {address}, found {signer}")


# --- verification: entry points -------------------------------------------------------------


def _prepare(
    text: str,
    signature: str | bytes,
    checks: tuple[str, str, str, Collection[int], datetime, timedelta],
) -> tuple[SiweMessage, bytes, SiweError | None]:
    domain, scheme, uri_origin, chain_ids, now, skew = checks
    message = parse_message(text)
    _check_origin(message, domain=domain, scheme=scheme, uri_origin=uri_origin)
    if message.chain_id not in chain_ids:
        raise SiweChainIdError(
            f"Chain ID: expected one of {sorted(chain_ids)}, found {message.chain_id}"
        )
    _check_window(message, now=now, skew=skew)
    raw = _signature_bytes(signature)
    return message, raw, _eoa_outcome(text, raw, message.address)


def verify_message(
    text: str,
    signature: str | bytes,
    *,
    domain: str,
    scheme: str = "https",
    uri_origin: str,
    chain_ids: Collection[int],
    now: datetime,
    skew: timedelta = timedelta(seconds=60),
    w3: Web3 | None = None,
) -> SiweMessage:
    """Check ``text`` and ``signature`` for this service; return the message or raise.

    Checks, in order: grammar, domain, scheme, URI origin, chain ID, time window (with
    ``skew``), then the EIP-191 signature. If that signature is not the address's and ``w3``
    is given, the address is asked as an EIP-1271 contract wallet (CCIP-Read off); a node that
    is down, too slow or answers garbage is :class:`ChainUnavailable` (the signature was not
    judged). The caller still has to check and consume ``message.nonce``.
    """
    checks = (domain, scheme, uri_origin, chain_ids, now, skew)
    message, raw, problem = _prepare(text, signature, checks)
    if problem is None:
        return message
    if w3 is not None:
        call = _eip1271_call(text, message.address, raw)
        try:
            result = bytes(w3.eth.call(call, "latest", ccip_read_enabled=False))
        except _call_refusals():
            raise problem from None
        except _node_failures() as exc:
            raise _unavailable(message.chain_id, exc) from None
        if _is_magic(result):
            return message
    raise problem


async def verify_message_async(
    text: str,
    signature: str | bytes,
    *,
    domain: str,
    scheme: str = "https",
    uri_origin: str,
    chain_ids: Collection[int],
    now: datetime,
    skew: timedelta = timedelta(seconds=60),
    w3: AsyncWeb3[Any] | None = None,
) -> SiweMessage:
    """:func:`verify_message` with an ``AsyncWeb3`` for the EIP-1271 fallback."""
    checks = (domain, scheme, uri_origin, chain_ids, now, skew)
    message, raw, problem = _prepare(text, signature, checks)
    if problem is None:
        return message
    if w3 is not None:
        call = _eip1271_call(text, message.address, raw)
        try:
            result = bytes(await w3.eth.call(call, "latest", ccip_read_enabled=False))
        except _call_refusals():
            raise problem from None
        except _node_failures(asynchronous=True) as exc:
            raise _unavailable(message.chain_id, exc) from None
        if _is_magic(result):
            return message
    raise problem


def _eip1271_call(text: str, address: str, raw: bytes) -> TxParams:
    """``isValidSignature(bytes32 hash, bytes signature)`` on ``address``."""
    from eth_abi.abi import encode

    data = EIP1271_MAGIC_VALUE + encode(["bytes32", "bytes"], [eip191_hash(text), raw])
    return {"to": to_checksum_address(address), "data": data}


def _call_refusals() -> tuple[type[Exception], ...]:
    """A revert (OffchainLookup included) or an RPC error answer: not a valid signature."""
    from web3.exceptions import ContractLogicError, Web3RPCError

    return (ContractLogicError, Web3RPCError)


def _node_failures(*, asynchronous: bool = False) -> tuple[type[Exception], ...]:
    """A node that is down, too slow or answers garbage (caught after :func:`_call_refusals`);
    the async provider's transport adds aiohttp's errors."""
    from .rpc import NODE_FAILURES

    if not asynchronous:
        return NODE_FAILURES
    from aiohttp import ClientError

    return (*NODE_FAILURES, ClientError)


def _unavailable(chain_id: int, exc: Exception) -> ChainUnavailable:
    from .rpc import describe_failure

    return ChainUnavailable(
        f"chain {chain_id} is unavailable: expected its node to answer the wallet's EIP-1271 "
        f"isValidSignature call, it {describe_failure(exc)}; try again later"
    )
