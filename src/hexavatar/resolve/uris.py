"""Token, metadata and image URIs: what kind each is, and what it names.

This module owns the classification of the URIs found in ``tokenURI``/``uri`` results and in
NFT metadata into a tagged result: :class:`IpfsUri` (``ipfs://``, legacy ``ipfs://ipfs/``,
and path or subdomain gateway URLs, which name a CID just as well), :class:`IpnsUri`
(``ipns://``; mutable, so unverified), :class:`ArweaveUri` (``ar://`` → an https URL on a
configurable gateway), :class:`HttpUri` and :class:`DataUri` (decoded under a size cap). It
also owns ERC-1155 ``{id}`` substitution and the choice of the image in a metadata document.

Rules, all on the strict side (the input is written by whoever minted the token):
leading/trailing whitespace is dropped (as browsers do); otherwise a URI must be printable
ASCII (RFC 3986: non-ASCII hosts must be punycode; this refuses bidi and zero-width tricks);
only the schemes above are accepted (``javascript:``, ``file:`` and the rest are refused);
``.``/``..`` segments and encoded ``/`` or NUL in IPFS paths are refused; queries and fragments
of ipfs/ipns/ar URIs are dropped. CIDs are syntax-checked only here (multibase prefix and
alphabet); their bytes are verified against them where the content is fetched.
Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Literal
from urllib.parse import SplitResult, unquote_to_bytes, urlsplit

from hexavatar.resolve.errors import DataUriTooLargeError, UriError, quote

__all__ = [
    "DEFAULT_ARWEAVE_GATEWAY",
    "DEFAULT_MAX_DATA_BYTES",
    "ArweaveUri",
    "DataUri",
    "HttpUri",
    "IpfsUri",
    "IpnsUri",
    "TokenUri",
    "classify_uri",
    "is_cid",
    "select_image",
    "substitute_token_id",
]

DEFAULT_ARWEAVE_GATEWAY: Final = "https://arweave.net"
DEFAULT_MAX_DATA_BYTES: Final = 5 * 1024 * 1024
_MAX_URI_CHARS: Final = 8192
_MAX_TOKEN_ID: Final = 2**256 - 1

_B58 = "1-9A-HJ-NP-Za-km-z"
_CID_RES: Final = (
    re.compile(rf"Qm[{_B58}]{{44}}"),  # CIDv0: base58btc sha2-256 multihash
    re.compile(r"ba[a-z2-7]{8,200}"),  # CIDv1 base32 (version byte 0x01 -> 'a')
    re.compile(r"BA[A-Z2-7]{8,200}"),
    re.compile(rf"z[{_B58}]{{8,200}}"),  # CIDv1 base58btc
    re.compile(r"f01[0-9a-f]{8,400}"),  # CIDv1 base16
    re.compile(r"F01[0-9A-F]{8,400}"),
    re.compile(r"k[0-9a-z]{8,200}"),  # CIDv1 base36 (IPNS keys)
    re.compile(r"K[0-9A-Z]{8,200}"),
)
_DNS_NAME_RE = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_ARWEAVE_TX_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_URI_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_RE = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*")
_MEDIA_TYPE_RE = re.compile(r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+")
_SUBDOMAIN_GATEWAY_RE = re.compile(r"(?P<cid>[a-z0-9]+)\.(?P<ns>ipfs|ipns)\..+")
_PATH_GATEWAY_RE = re.compile(r"/(?P<ns>ipfs|ipns)/(?P<id>[^/]+)(?P<path>/.*)?")
_WHITESPACE = " \t\r\n\f"


# --- the tagged result ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IpfsUri:
    """Content named by a CID (and a path inside it). ``gateway`` is where it was seen, if any."""

    kind: ClassVar[Literal["ipfs"]] = "ipfs"
    cid: str
    path: str = ""
    gateway: str | None = None


@dataclass(frozen=True, kw_only=True)
class IpnsUri:
    """An IPNS name (key or DNSLink domain) and path: mutable, so never verified by CID alone."""

    kind: ClassVar[Literal["ipns"]] = "ipns"
    name: str
    path: str = ""


@dataclass(frozen=True, kw_only=True)
class ArweaveUri:
    """An Arweave transaction (and path); ``url`` is it on the configured gateway."""

    kind: ClassVar[Literal["ar"]] = "ar"
    tx_id: str
    path: str
    url: str


@dataclass(frozen=True, kw_only=True)
class HttpUri:
    """A plain http(s) URL, to be fetched with the SSRF-safe client."""

    kind: ClassVar[Literal["http"]] = "http"
    url: str


@dataclass(frozen=True, kw_only=True)
class DataUri:
    """Inline bytes with their media type (lowercased, no parameters)."""

    kind: ClassVar[Literal["data"]] = "data"
    media_type: str
    data: bytes


TokenUri = IpfsUri | IpnsUri | ArweaveUri | HttpUri | DataUri


# --- checks ---------------------------------------------------------------------------------


def is_cid(text: str) -> bool:
    """Whether ``text`` looks like a CID (multibase prefix and alphabet; not decoded)."""
    return any(pattern.fullmatch(text) for pattern in _CID_RES)


def _check_ascii(uri: str) -> None:
    for index, ch in enumerate(uri):
        if not "!" <= ch <= "~":
            raise UriError(
                f"expected a printable ASCII URI (RFC 3986), found U+{ord(ch):04X} at "
                f"position {index} of {quote(uri)}"
            )
    if _URI_CHARS_RE.fullmatch(uri) is None or _BAD_PCT_RE.search(uri):
        raise UriError(f"expected only RFC 3986 URI characters, found {quote(uri)}")


def _check_path(path: str, *, uri: str) -> str:
    if _PATH_RE.fullmatch(path) is None:
        raise UriError(f"expected a path of RFC 3986 segments, found {quote(uri)}")
    for segment in path.split("/")[1:]:
        decoded = unquote_to_bytes(segment)
        if decoded in (b".", b"..") or b"/" in decoded or b"\0" in decoded or b"\\" in decoded:
            raise UriError(
                f"expected a path without '.', '..', '/', '\\' or NUL segments, found {quote(uri)}"
            )
    return path


def _strip_query(text: str) -> str:
    return re.split(r"[?#]", text, maxsplit=1)[0]


# --- schemes --------------------------------------------------------------------------------


def _ipfs(rest: str, uri: str) -> IpfsUri:
    if not rest.startswith("//"):
        raise UriError(f"expected ipfs://<cid>[/path], found {quote(uri)}")
    body = _strip_query(rest[2:])
    if body.startswith("ipfs/"):  # the legacy ipfs://ipfs/<cid> spelling
        body = body[5:]
    cid, slash, path = body.partition("/")
    if not is_cid(cid):
        raise UriError(f"expected a CID after ipfs://, found {quote(cid or '(empty)')}")
    return IpfsUri(cid=cid, path=_check_path(slash + path, uri=uri))


def _ipns(rest: str, uri: str) -> IpnsUri:
    if not rest.startswith("//"):
        raise UriError(f"expected ipns://<name>[/path], found {quote(uri)}")
    name, slash, path = _strip_query(rest[2:]).partition("/")
    if not (is_cid(name) or _DNS_NAME_RE.fullmatch(name)):
        raise UriError(f"expected a key or a DNS name after ipns://, found {quote(name)}")
    return IpnsUri(name=name, path=_check_path(slash + path, uri=uri))


def _arweave(rest: str, uri: str, gateway: str) -> ArweaveUri:
    if not rest.startswith("//"):
        raise UriError(f"expected ar://<transaction id>[/path], found {quote(uri)}")
    tx_id, slash, path = _strip_query(rest[2:]).partition("/")
    if _ARWEAVE_TX_RE.fullmatch(tx_id) is None:
        raise UriError(f"expected a 43-character Arweave transaction ID, found {quote(tx_id)}")
    path = _check_path(slash + path, uri=uri)
    return ArweaveUri(tx_id=tx_id, path=path, url=f"{gateway.rstrip('/')}/{tx_id}{path}")


def _gateway_ref(parts: SplitResult, uri: str) -> IpfsUri | IpnsUri | None:
    """The content a path (``/ipfs/<cid>/…``) or subdomain (``<cid>.ipfs.host``) gateway names."""
    origin = f"{parts.scheme}://{parts.netloc}"
    sub = _SUBDOMAIN_GATEWAY_RE.fullmatch(parts.hostname or "")
    if sub is not None and sub["ns"] == "ipfs" and is_cid(sub["cid"]):
        return IpfsUri(cid=sub["cid"], path=_check_path(parts.path, uri=uri), gateway=origin)
    m = _PATH_GATEWAY_RE.fullmatch(parts.path)
    if m is None:
        return None
    path = _check_path(m["path"] or "", uri=uri)
    if m["ns"] == "ipfs" and is_cid(m["id"]):
        return IpfsUri(cid=m["id"], path=path, gateway=origin)
    if m["ns"] == "ipns" and (is_cid(m["id"]) or _DNS_NAME_RE.fullmatch(m["id"])):
        return IpnsUri(name=m["id"], path=path)
    return None


def _http(rest: str, uri: str) -> HttpUri | IpfsUri | IpnsUri:
    if not rest.startswith("//"):
        raise UriError(f"expected http(s)://host/…, found {quote(uri)}")
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        raise UriError(f"expected a URL without credentials, found {quote(uri)}")
    try:
        port = parts.port
    except ValueError:
        raise UriError(f"expected a port from 1 to 65535, found {quote(uri)}") from None
    if not parts.hostname or port == 0:
        raise UriError(f"expected a host name (and a non-zero port), found {quote(uri)}")
    return _gateway_ref(parts, uri) or HttpUri(url=uri)


def _data(rest: str, uri: str, max_bytes: int) -> DataUri:
    if len(rest) > 4 * max_bytes + 1024:
        raise DataUriTooLargeError(
            f"expected a data: URI of at most {max_bytes} bytes, found {len(rest)} characters"
        )
    rest = re.sub(r"[\t\n\r]", "", rest)  # as the WHATWG URL parser does
    if re.search(r"[\x00-\x1f\x7f]", rest):
        raise UriError(f"expected no control characters in a data: URI, found {quote(uri)}")
    header, comma, payload = rest.partition(",")
    if not comma:
        raise UriError(f"expected data:[<media type>][;base64],<data>, found {quote(uri)}")
    params = [p.strip() for p in header.split(";")]
    is_base64 = len(params) > 1 and params[-1].lower() == "base64"
    media_type = params[0].lower() or "text/plain"
    if _MEDIA_TYPE_RE.fullmatch(media_type) is None:
        raise UriError(f"expected a media type like image/png, found {quote(params[0])}")
    data = unquote_to_bytes(payload)
    if is_base64:
        data = _forgiving_base64(data, uri)
    if len(data) > max_bytes:
        raise DataUriTooLargeError(
            f"expected a data: URI of at most {max_bytes} bytes, found {len(data)} bytes"
        )
    return DataUri(media_type=media_type, data=data)


def _forgiving_base64(data: bytes, uri: str) -> bytes:
    """WHATWG "forgiving-base64 decode": ASCII whitespace dropped, padding optional."""
    data = re.sub(rb"[ \t\n\f\r]", b"", data)
    if len(data) % 4 == 0 and data.endswith(b"="):
        data = data.rstrip(b"=")
    if len(data) % 4 == 1 or re.fullmatch(rb"[A-Za-z0-9+/]*", data) is None:
        raise UriError(f"expected base64 data in a data: URI, found {quote(uri)}")
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise UriError(f"expected base64 data in a data: URI, found {quote(uri)}") from None


# --- entry points ---------------------------------------------------------------------------


def classify_uri(
    uri: str,
    *,
    arweave_gateway: str = DEFAULT_ARWEAVE_GATEWAY,
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES,
) -> TokenUri:
    """What ``uri`` names; raises :class:`UriError` for anything malformed or unsupported."""
    uri = uri.strip(_WHITESPACE)
    m = _SCHEME_RE.match(uri)
    if m is None:
        raise UriError(f"expected an absolute URI with a scheme, found {quote(uri)}")
    scheme, rest = m[1].lower(), uri[m.end() :]
    if scheme == "data":
        return _data(rest, uri, max_data_bytes)
    if len(uri) > _MAX_URI_CHARS:
        raise UriError(f"expected at most {_MAX_URI_CHARS} characters, found {len(uri)}")
    _check_ascii(uri)
    if scheme == "ipfs":
        return _ipfs(rest, uri)
    if scheme == "ipns":
        return _ipns(rest, uri)
    if scheme == "ar":
        return _arweave(rest, uri, arweave_gateway)
    if scheme in ("http", "https"):
        return _http(rest, uri)
    raise UriError(
        f"expected an ipfs, ipns, ar, https, http or data URI, found scheme {quote(scheme)}"
    )


def substitute_token_id(uri: str, token_id: int) -> str:
    """ERC-1155: every ``{id}`` becomes the token ID as 64 lowercase hex digits."""
    if isinstance(token_id, bool) or not 0 <= token_id <= _MAX_TOKEN_ID:
        raise UriError(f"token ID: expected 0 to 2**256-1, found {quote(token_id)}")
    return uri.replace("{id}", f"{token_id:064x}")


def select_image(
    metadata: Mapping[str, object],
    *,
    arweave_gateway: str = DEFAULT_ARWEAVE_GATEWAY,
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES,
) -> TokenUri:
    """The image of a metadata document: ``image``, else ``image_url``, else ``image_data``.

    The first of them that is a non-empty string wins (a malformed one raises; it does not
    fall through). ``image_data`` is raw SVG text (OpenSea metadata), returned as data.
    """
    for key in ("image", "image_url"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip(_WHITESPACE):
            return classify_uri(
                value, arweave_gateway=arweave_gateway, max_data_bytes=max_data_bytes
            )
    svg = metadata.get("image_data")
    if isinstance(svg, str) and svg.strip(_WHITESPACE):
        if svg.lstrip(_WHITESPACE)[:5].lower() == "data:":
            return classify_uri(svg, arweave_gateway=arweave_gateway, max_data_bytes=max_data_bytes)
        data = svg.encode()
        if len(data) > max_data_bytes:
            raise DataUriTooLargeError(
                f"image_data: expected at most {max_data_bytes} bytes, found {len(data)}"
            )
        return DataUri(media_type="image/svg+xml", data=data)
    raise UriError(
        "metadata: expected image, image_url or image_data as a non-empty string, found none"
    )
