"""The IPFS HTTP gateway at ``/ipfs/{cid}[/{path}]``: path gateway and trustless gateway.

Owns the HTTP face of the local blockstore, per https://specs.ipfs.tech/http-gateways/
(path-gateway, trustless-gateway). It is a non-recursive gateway: it serves what the blockstore
holds and answers 404 for the rest, never fetching from elsewhere. Every byte it sends comes from
a block re-hashed against its CID first (:mod:`hexavatar.ipfs.exporter`).

Responses, chosen by ``?format=`` (which wins) or ``Accept``:

- deserialized (default): UnixFS files with a sniffed ``Content-Type`` and single ``Range``
  requests (206/416); directories redirect to a trailing ``/``, then serve ``index.html`` or a
  generated listing (HTML, or JSON when ``application/json`` is preferred); raw, json, dag-json
  and dag-cbor blocks as they are;
- ``raw`` (``application/vnd.ipld.raw``): one verified block;
- ``car`` (``application/vnd.ipld.car; version=1; order=dfs; dups=n``, or ``dups=y`` when
  asked): the blocks of the path, then of the terminal entity for ``dag-scope`` (``all``,
  ``entity``, ``block``) and optional ``entity-bytes``, depth-first; ``car-version``,
  ``car-order`` and ``car-dups`` win over the ``Accept`` parameters; ``version`` other than 1
  and ``order`` other than ``dfs``/``unk`` are 406; ``entity-bytes`` that is malformed, an
  invalid range (``from`` after ``to``) or wholly outside a file is 400;
- ``json``, ``dag-json``, ``dag-cbor``, ``cbor``: a block of that very codec as it is; asking
  for a conversion is 406 (not served here); ``ipns-record`` under ``/ipfs/`` is 400.

Every response varies on ``Accept`` and says so (``Vary: Accept``); one whose type came from
``Accept`` (or differs from it) carries ``Content-Location``, the URL naming exactly that type.

Deserialized responses carry ``Content-Security-Policy: sandbox``: the gateway shares its origin
with the web app, so uploaded HTML or SVG must never run script with the app's cookies. Errors
are raised as coded :mod:`hexavatar.ipfs.errors` classes; web/errors.py turns them into JSON.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Final, Literal
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from ..ipfs.blockstore import Blockstore, list_directory
from ..ipfs.car import encode_header, encode_section
from ..ipfs.cid import CID, DAG_CBOR, DAG_JSON, IDENTITY, JSON
from ..ipfs.dagpb import decode_node, unixfs_of
from ..ipfs.errors import (
    BlockNotFound,
    CidError,
    ContentNotFound,
    InvalidGatewayRequest,
    NotAcceptable,
    NotAFileError,
    NotCached,
    PathResolutionError,
    RangeNotSatisfiable,
    UnixFSError,
    quote,
)
from ..ipfs.exporter import (
    PathTrail,
    cat,
    decode_file_node,
    load_block,
    node_kind,
    resolve_trail,
    walk_dag,
)
from .openapi import GATEWAY_RESPONSES

__all__ = ["get_blockstore", "router", "sniff_content_type"]

router = APIRouter(tags=["ipfs"])

IMMUTABLE: Final = "public, max-age=29030400, immutable"
RAW_TYPE: Final = "application/vnd.ipld.raw"
CAR_TYPE: Final = "application/vnd.ipld.car"
CAR_RESPONSE_TYPE: Final = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
CAR_DUPS_TYPE: Final = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
DIR_INDEX_VERSION: Final = "hexavatar-1"
_SNIFF_LEN: Final = 512
IPNS_RECORD_TYPE: Final = "application/vnd.ipfs.ipns-record"
_TYPE_FORMATS: Final = {  # well-known response types and their format= names
    RAW_TYPE: "raw",
    CAR_TYPE: "car",
    "application/x-tar": "tar",
    "application/vnd.ipld.dag-json": "dag-json",
    "application/vnd.ipld.dag-cbor": "dag-cbor",
    "application/json": "json",
    "application/cbor": "cbor",
    IPNS_RECORD_TYPE: "ipns-record",
}
_FORMAT_TYPES: Final = {fmt: media_type for media_type, fmt in _TYPE_FORMATS.items()}
_FORMATS: Final = frozenset(_FORMAT_TYPES)
#: Types of codec blocks served as they are when the content already has that codec (an
#: Accept of application/json keeps meaning "deserialized, JSON listings preferred").
_CODEC_FORMATS: Final = frozenset(
    {"application/vnd.ipld.dag-json", "application/vnd.ipld.dag-cbor", "application/cbor"}
)
_UNSUPPORTED_TYPES: Final = frozenset({"application/x-tar", IPNS_RECORD_TYPE})
_CODEC_TYPES: Final = {
    JSON: "application/json",
    DAG_JSON: "application/vnd.ipld.dag-json",
    DAG_CBOR: "application/vnd.ipld.dag-cbor",
}


def get_blockstore(request: Request) -> Blockstore:
    """The blockstore of the app's service container (``app.state.services.blockstore``)."""
    blockstore: Blockstore = request.app.state.services.blockstore
    return blockstore


BlockstoreDep = Annotated[Blockstore, Depends(get_blockstore)]


# --- negotiation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Want:
    """What to send. ``kind`` ``none`` means only ``codecs`` (served when the content's codec
    is one of them) are acceptable; ``located`` asks for a ``Content-Location`` header."""

    kind: Literal["raw", "car", "deserialized", "none"]
    located: bool = False
    json: bool = False  # application/json preferred (JSON directory listing)
    dups: bool = False  # CAR with duplicate blocks (dups=y)
    codecs: tuple[str, ...] = ()  # codec media types acceptable as the block itself


def _accept_entries(header: str) -> list[tuple[str, dict[str, str]]]:
    """Media ranges of an ``Accept`` header, by preference (q descending, then order)."""
    entries: list[tuple[float, int, str, dict[str, str]]] = []
    for index, item in enumerate(header.split(",")):
        kind, *raw_params = (part.strip() for part in item.split(";"))
        params = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if kind and q > 0:
            entries.append((-q, index, kind.lower(), params))
    return [(kind, params) for _, _, kind, params in sorted(entries)]


def _car_dups(query: Mapping[str, str], params: Mapping[str, str]) -> bool | None:
    """The ``dups`` of a CAR variant this gateway can write, or None.

    ``car-*`` query parameters win over the ``Accept`` parameters (trustless gateway spec); an
    empty value counts as absent, as the spec says of ``order``.
    """
    version = query.get("car-version") or params.get("version") or "1"
    order = query.get("car-order") or params.get("order") or "dfs"
    dups = query.get("car-dups") or params.get("dups") or "n"
    if version != "1" or order not in ("dfs", "unk") or dups not in ("y", "n"):
        return None
    return dups == "y"


def _negotiate(request: Request) -> _Want:
    fmt = request.query_params.get("format") or None  # an empty format= asks for nothing
    accept = _accept_entries(request.headers.get("accept", ""))
    if fmt is None:
        return _want_accept(request, accept)
    want = _want_format(request, fmt, accept)
    return replace(want, located=_accept_differs(request, want, fmt, accept))


def _want_accept(request: Request, accept: list[tuple[str, dict[str, str]]]) -> _Want:
    unsupported: list[str] = []
    codecs: list[str] = []
    for kind, params in accept:
        if kind == RAW_TYPE:
            return _Want("raw", located=True, codecs=tuple(codecs))
        if kind == CAR_TYPE:
            dups = _car_dups(request.query_params, params)
            if dups is not None:
                return _Want("car", located=True, dups=dups, codecs=tuple(codecs))
            unsupported.append(f"{kind} with {quote(params)}")
        elif kind in _CODEC_FORMATS:
            codecs.append(kind)
        elif kind in _UNSUPPORTED_TYPES:
            unsupported.append(kind)
        else:
            return _Want("deserialized", json=kind == "application/json", codecs=tuple(codecs))
    if codecs:
        return _Want("none", located=True, codecs=tuple(codecs))
    if IPNS_RECORD_TYPE in unsupported:
        raise InvalidGatewayRequest(
            f"expected {IPNS_RECORD_TYPE} only under /ipns/, found it asked of an /ipfs/ path"
        )
    if unsupported:
        raise NotAcceptable(
            f"expected an Accept this gateway can serve (deserialized content, {RAW_TYPE}, "
            f"{CAR_RESPONSE_TYPE}), found only {', '.join(unsupported)[:200]}"
        )
    return _Want("deserialized")


def _want_format(request: Request, fmt: str, accept: list[tuple[str, dict[str, str]]]) -> _Want:
    if fmt not in _FORMATS:
        raise InvalidGatewayRequest(
            f"expected format to be one of {', '.join(sorted(_FORMATS))}, found {quote(fmt)}"
        )
    if fmt == "raw":
        return _Want("raw")
    if fmt == "car":
        offered = [p for kind, p in accept if kind == CAR_TYPE] or [{}]
        variants = [_car_dups(request.query_params, params) for params in offered]
        dups = next((d for d in variants if d is not None), None)
        if dups is None:
            raise NotAcceptable(
                f"expected a CAR variant version=1, order=dfs or unk, dups=y or n, found "
                f"{quote([dict(p, **request.query_params) for p in offered])}"
            )
        return _Want("car", dups=dups)
    if fmt == "ipns-record":
        raise InvalidGatewayRequest(
            "expected format=ipns-record only under /ipns/, found it on an /ipfs/ path"
        )
    if fmt in ("json", "dag-json", "dag-cbor", "cbor"):
        return _Want("none", codecs=(_FORMAT_TYPES[fmt],))
    raise NotAcceptable(
        f"expected format raw, car, json, dag-json, dag-cbor or cbor, found {quote(fmt)}, "
        "not served here"
    )


def _accept_differs(
    request: Request, want: _Want, fmt: str, accept: list[tuple[str, dict[str, str]]]
) -> bool:
    """Whether the ``format=`` response is not what ``Accept`` (its first well-known format)
    or the URL alone names: the path gateway spec asks for ``Content-Location`` then."""
    if want.kind == "car" and want.dups and not request.query_params.get("car-dups"):
        return True  # dups=y came from Accept: the URL alone would give dups=n
    for kind, params in accept:
        named = _TYPE_FORMATS.get(kind)
        if named is None:
            continue
        if named != fmt:
            return True
        return named == "car" and _car_dups({}, params) not in (None, want.dups)
    return False


def _content_location(request: Request, fmt: str, *, dups: bool = False) -> str:
    """This URL with ``format`` (and ``car-dups=y``) in its query: the address of exactly this
    response type, so generic HTTP caches keep deserialized, CAR and block responses apart."""
    query = request.url.query
    extra = [] if request.query_params.get("format") else [f"format={fmt}"]
    if dups and not request.query_params.get("car-dups"):
        extra.append("car-dups=y")
    full = "&".join(part for part in (query, *extra) if part)
    return f"{request.url.path}?{full}"


# --- the route ----------------------------------------------------------------------------


@router.get("/ipfs/{cid}", name="ipfs_root", responses=GATEWAY_RESPONSES)
def ipfs_root(request: Request, cid: str, blockstore: BlockstoreDep) -> Response:
    """Content at ``/ipfs/{cid}`` (see the module docstring); HEAD gives the same headers."""
    return _serve(request, cid, "", blockstore)


@router.get("/ipfs/{cid}/{path:path}", name="ipfs_path", responses=GATEWAY_RESPONSES)
def ipfs_path(request: Request, cid: str, path: str, blockstore: BlockstoreDep) -> Response:
    """Content at ``/ipfs/{cid}/{path}`` (see the module docstring); HEAD gives the same headers."""
    return _serve(request, cid, path, blockstore)


router.add_api_route(
    "/ipfs/{cid}", ipfs_root, methods=["HEAD"], name="ipfs_root_head", include_in_schema=False
)
router.add_api_route(
    "/ipfs/{cid}/{path:path}",
    ipfs_path,
    methods=["HEAD"],
    name="ipfs_path_head",
    include_in_schema=False,
)


def _serve(request: Request, cid: str, path: str, blockstore: Blockstore) -> Response:
    root = _parse_cid(cid)
    bare_root = not path and not request.url.path.endswith("/")
    if request.headers.get("service-worker") == "script" and bare_root:
        raise InvalidGatewayRequest(
            "expected a service worker scope under /ipfs/{cid}/, found the bare content root"
        )
    want = _negotiate(request)
    if "only-if-cached" in request.headers.get("cache-control", "") and not blockstore.has(root):
        raise NotCached(f"expected {root} in this gateway's blockstore, found nothing")
    trail = _resolve(root, path, blockstore)
    codec_type = _CODEC_TYPES.get(trail.cid.codec)
    if codec_type in want.codecs:
        return _codec_response(request, trail, blockstore, want, codec_type)
    if want.kind == "none":
        raise NotAcceptable(
            f"expected content of codec {' or '.join(want.codecs)[:120]} to serve as it is, "
            f"found {trail.cid.codec_name}; conversions between codecs are not served here"
        )
    if want.kind == "raw":
        return _raw_response(request, trail, blockstore, want)
    if want.kind == "car":
        return _car_response(request, trail, path, blockstore, want)
    return _deserialized(request, trail, path, blockstore, want)


def _parse_cid(text: str) -> CID:
    try:
        return CID.decode(text)
    except CidError as exc:
        raise InvalidGatewayRequest(
            f"expected a CID after /ipfs/, found {quote(text)}: {exc}"
        ) from None


def _resolve(root: CID, path: str, blockstore: Blockstore) -> PathTrail:
    try:
        trail = resolve_trail(root, path, blockstore=blockstore)
        load_block(trail.cid, blockstore=blockstore)  # the terminal block must be here
    except (PathResolutionError, BlockNotFound) as exc:
        raise ContentNotFound(
            f"expected /ipfs/{root}/{path} in this gateway, found: {exc}"
        ) from None
    return trail


def _ipfs_headers(request: Request, trail: PathTrail, etag: str) -> dict[str, str]:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return {
        "Etag": etag,
        "Cache-Control": IMMUTABLE,
        "Vary": "Accept",
        "X-Ipfs-Path": raw_path.decode("latin-1"),
        "X-Ipfs-Roots": ",".join(str(cid) for cid in trail.roots),
    }


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _finish(
    request: Request,
    headers: dict[str, str],
    body: Iterator[bytes] | bytes,
    *,
    status: int = 200,
    media_type: str,
) -> Response:
    if _not_modified(request, headers["Etag"]):
        return _not_modified_response(headers)
    if request.method == "HEAD":
        if isinstance(body, bytes):
            headers.setdefault("Content-Length", str(len(body)))
        response = Response(status_code=status, headers=headers, media_type=media_type)
        if "Content-Length" not in headers:
            del response.headers["content-length"]  # a stream's length is unknown: say nothing
        return response
    if isinstance(body, bytes):
        return Response(body, status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media_type)


def _not_modified_response(headers: dict[str, str]) -> Response:
    """A 304 with the validator and caching headers of the 200, but no body-describing ones (a
    Content-Length of the unsent body would make the server wait for bytes that never come)."""
    kept = {k: v for k, v in headers.items() if k not in ("Content-Length", "Content-Range")}
    return Response(status_code=304, headers=kept)


def _disposition(request: Request, default: str | None, *, attachment: bool) -> str | None:
    name = request.query_params.get("filename") or default
    if request.query_params.get("download") == "true":
        attachment = True
    if name is None:
        return "attachment" if attachment else None
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    value = f'{"attachment" if attachment else "inline"}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{url_quote(name, safe='')}"
    return value


# --- raw and CAR --------------------------------------------------------------------------


def _raw_response(
    request: Request, trail: PathTrail, blockstore: Blockstore, want: _Want
) -> Response:
    block = load_block(trail.cid, blockstore=blockstore)
    headers = _ipfs_headers(request, trail, f'"{trail.cid}.raw"')
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Content-Disposition"] = (
        _disposition(request, f"{trail.cid}.bin", attachment=True) or "attachment"
    )
    if want.located:
        headers["Content-Location"] = _content_location(request, "raw")
    headers["Accept-Ranges"] = "bytes"
    status, offset, length = _apply_range(request, headers, len(block))
    body = block[offset : offset + length]
    return _finish(request, headers, body, status=status, media_type=RAW_TYPE)


def _codec_response(
    request: Request, trail: PathTrail, blockstore: Blockstore, want: _Want, media_type: str
) -> Response:
    """A json, dag-json or dag-cbor block asked for in its own codec: the block as it is (the
    path gateway spec); converting between codecs is not served here."""
    block = load_block(trail.cid, blockstore=blockstore)
    fmt = _TYPE_FORMATS[media_type]
    headers = _ipfs_headers(request, trail, f'"{trail.cid}.{fmt}"')
    headers["X-Content-Type-Options"] = "nosniff"
    if want.located or not request.query_params.get("format"):  # chosen by Accept
        headers["Content-Location"] = _content_location(request, fmt)
    return _finish(request, headers, block, media_type=media_type)


_ENTITY_BYTES: Final = re.compile(r"(-?[0-9]{1,19}):(-?[0-9]{1,19}|\*)")


def _parse_entity_bytes(text: str) -> tuple[int, int | None]:
    """``(from, to)`` of ``entity-bytes`` (``to`` None for ``*``); 400 unless both are integers
    in RFC 9110 form and, of the same sign, ``from`` is not after ``to`` (an invalid range)."""
    match = _ENTITY_BYTES.fullmatch(text)
    if match is None:
        raise InvalidGatewayRequest(
            f"expected entity-bytes as from:to (integers, to may be *), found {quote(text)}"
        )
    first, last = int(match[1]), None if match[2] == "*" else int(match[2])
    if last is not None and (first < 0) == (last < 0) and first > last:
        raise InvalidGatewayRequest(
            f"expected entity-bytes with from not after to, found {quote(text)}"
        )
    return first, last


def _entity_range(
    text: str | None, trail: PathTrail, blockstore: Blockstore
) -> tuple[str, tuple[int, int] | None]:
    """``(dag-scope, byte range)`` for ``entity-bytes``; a non-file entity ignores it."""
    if text is None:
        return "entity", None
    first, last = _parse_entity_bytes(text)
    block = load_block(trail.cid, blockstore=blockstore)
    try:
        if node_kind(trail.cid, block) != "file":
            return "entity", None  # not a byte array: entity-bytes is ignored, as specified
    except UnixFSError:
        return "entity", None
    size = decode_file_node(trail.cid, block).size
    start = first if first >= 0 else max(size + first, 0)
    stop = size if last is None else (last + 1 if last >= 0 else size + last + 1)
    if size and (start >= size or stop <= 0):
        raise InvalidGatewayRequest(
            f"expected entity-bytes within the entity's {size} bytes, found {quote(text)}"
        )
    if stop <= start:
        return "block", None  # a zero-length range: the root block says why (spec)
    return "entity", (start, min(stop, size))


def _car_response(
    request: Request, trail: PathTrail, path: str, blockstore: Blockstore, want: _Want
) -> Response:
    query = request.query_params
    scope = query.get("dag-scope", "entity" if "entity-bytes" in query else "all")
    if scope not in ("all", "entity", "block"):
        raise InvalidGatewayRequest(
            f"expected dag-scope all, entity or block, found {quote(scope)}"
        )
    entity_range = None
    if scope == "entity":
        scope, entity_range = _entity_range(query.get("entity-bytes"), trail, blockstore)
    root = trail.roots[0]
    media_type = CAR_DUPS_TYPE if want.dups else CAR_RESPONSE_TYPE
    key = f"{path}\n{scope}\n{entity_range}\n{media_type}".encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    headers = _ipfs_headers(request, trail, f'W/"{root}.car.{digest}"')
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Accept-Ranges"] = "none"
    headers["Content-Disposition"] = (
        _disposition(request, f"{root}.car", attachment=True) or "attachment"
    )
    if want.located:
        headers["Content-Location"] = _content_location(request, "car", dups=want.dups)

    def body() -> Iterator[bytes]:
        yield encode_header([root])
        seen: set[bytes] = set()
        for cid in trail.blocks:
            if cid.bytes not in seen and cid.hash_code != IDENTITY:
                seen.add(cid.bytes)
                yield encode_section(cid, load_block(cid, blockstore=blockstore))
        walk = walk_dag(
            trail.cid,
            blockstore=blockstore,
            scope=scope,
            entity_bytes=entity_range,
            skip=seen,
            dups=want.dups,
        )
        for cid, block in walk:
            yield encode_section(cid, block)

    return _finish(request, headers, body(), media_type=media_type)


# --- deserialized -------------------------------------------------------------------------


def _deserialized(
    request: Request, trail: PathTrail, path: str, blockstore: Blockstore, want: _Want
) -> Response:
    block = load_block(trail.cid, blockstore=blockstore)
    try:
        kind = node_kind(trail.cid, block)
    except UnixFSError as exc:
        raise NotAcceptable(
            f"expected a UnixFS node to deserialize at {trail.cid}, found: {exc}; "
            "ask for ?format=raw or ?format=car"
        ) from None
    if kind == "file":
        name = path.rstrip("/").rpartition("/")[2] or None
        return _file_response(request, trail, trail.cid, name, blockstore)
    if kind in ("directory", "hamt"):
        return _directory_response(request, trail, path, blockstore, want)
    if kind == "symlink":
        headers = _ipfs_headers(request, trail, f'"{trail.cid}"')
        target = unixfs_of(decode_node(block)).data or b""
        return _finish(request, headers, target, media_type="inode/symlink")
    media_type = _CODEC_TYPES.get(trail.cid.codec)
    if media_type is None:
        raise NotAcceptable(
            f"expected UnixFS, json, dag-json or dag-cbor content to deserialize, found "
            f"{trail.cid.codec_name}; ask for ?format=raw or ?format=car"
        )
    headers = _ipfs_headers(request, trail, f'"{trail.cid}"')
    headers["X-Content-Type-Options"] = "nosniff"
    return _finish(request, headers, block, media_type=media_type)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range; None to serve everything (RFC 9110)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, sep, last_text = header[6:].strip().partition("-")
    if (
        not sep
        or not (first_text.isdigit() or first_text == "")
        or not (last_text.isdigit() or last_text == "")
    ):
        return None
    if first_text == "":
        if last_text == "":
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(
                f"expected a non-empty suffix range of a non-empty file, found {quote(header)}",
                size=size,
            )
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    if last_text and int(last_text) < first:
        return None  # invalid: ignored, as RFC 9110 says
    if first >= size:
        raise RangeNotSatisfiable(
            f"expected a range starting below the file's {size} bytes, found {quote(header)}",
            size=size,
        )
    return first, last


def _apply_range(request: Request, headers: dict[str, str], size: int) -> tuple[int, int, int]:
    """``(status, offset, length)`` for the request's ``Range`` (honouring ``If-Range``);
    sets ``Content-Range`` and ``Content-Length``."""
    if_range = request.headers.get("if-range")
    wanted = None if if_range not in (None, headers["Etag"]) else request.headers.get("range")
    span = _parse_range(wanted, size)
    status, offset, length = 200, 0, size
    if span is not None:
        status, offset, length = 206, span[0], span[1] - span[0] + 1
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    headers["Content-Length"] = str(length)
    return status, offset, length


def _file_response(
    request: Request, trail: PathTrail, cid: CID, name: str | None, blockstore: Blockstore
) -> Response:
    size = decode_file_node(cid, load_block(cid, blockstore=blockstore)).size
    headers = _ipfs_headers(request, trail, f'"{cid}"')
    if _not_modified(request, headers["Etag"]):
        return _not_modified_response(headers)
    head = b"".join(cat(cid, blockstore=blockstore, length=_SNIFF_LEN))
    media_type = sniff_content_type(head, request.query_params.get("filename") or name)
    headers.update(
        {
            "Accept-Ranges": "bytes",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
    )
    disposition = _disposition(request, None, attachment=False)
    if disposition:
        headers["Content-Disposition"] = disposition
    status, offset, length = _apply_range(request, headers, size)
    body = cat(cid, blockstore=blockstore, offset=offset, length=length)
    return _finish(request, headers, body, status=status, media_type=media_type)


def _directory_response(
    request: Request, trail: PathTrail, path: str, blockstore: Blockstore, want: _Want
) -> Response:
    if not request.url.path.endswith("/"):
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(
            request.url.path + "/" + query, status_code=301, headers={"Vary": "Accept"}
        )
    entries = sorted(
        (name, link.hash, link.tsize) for name, link in list_directory(blockstore, trail.cid)
    )
    index = next((cid for name, cid, _ in entries if name == "index.html"), None)
    if index is not None and not want.json:
        try:
            return _file_response(request, trail, index, "index.html", blockstore)
        except NotAFileError:
            pass  # index.html is a folder (or a symlink): list the folder instead
    if want.json:
        headers = _ipfs_headers(
            request, trail, f'"DirIndexJSON-{DIR_INDEX_VERSION}_CID-{trail.cid}"'
        )
        body = json.dumps(
            {
                "cid": str(trail.cid),
                "path": request.url.path,
                "entries": [
                    {"name": name, "cid": str(cid), "size": tsize} for name, cid, tsize in entries
                ],
            }
        ).encode()
        return _finish(request, headers, body, media_type="application/json")
    headers = _ipfs_headers(request, trail, f'"DirIndex-{DIR_INDEX_VERSION}_CID-{trail.cid}"')
    headers["Content-Security-Policy"] = "sandbox"
    page = _listing_html(request.url.path, trail.cid, entries, has_parent=bool(path.strip("/")))
    return _finish(request, headers, page.encode(), media_type="text/html; charset=utf-8")


def _listing_html(
    url_path: str, cid: CID, entries: list[tuple[str, CID, int | None]], *, has_parent: bool
) -> str:
    rows = ['<tr><td><a href="../">..</a></td><td></td><td></td></tr>'] if has_parent else []
    for name, child, tsize in entries:
        href = url_quote(name, safe="")
        rows.append(
            f'<tr><td><a href="{href}">{html.escape(name)}</a></td>'
            f"<td><code>{child}</code></td><td>{'' if tsize is None else tsize}</td></tr>"
        )
    title = html.escape(url_path)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>Index of {title}</h1><p><code>{cid}</code></p>"
        "<table><tr><th>Name</th><th>CID</th><th>DAG size</th></tr>"
        f"{''.join(rows)}</table></body></html>"
    )


# --- content type sniffing ----------------------------------------------------------------

_BY_EXTENSION: Final = {
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "ico": "image/vnd.microsoft.icon",
    "pdf": "application/pdf",
    "wasm": "application/wasm",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "car": CAR_TYPE,
}
_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\x00asm", "application/wasm"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
)
_HTML_STARTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")


def sniff_content_type(head: bytes, name: str | None = None) -> str:
    """A ``Content-Type`` from a file name's extension, else from its first bytes.

    Recognises PNG, JPEG, GIF, WebP, AVIF, PDF, WebAssembly, gzip, zip, SVG, HTML, JSON and
    UTF-8 text; anything else is ``application/octet-stream``.
    """
    if name and "." in name:
        by_name = _BY_EXTENSION.get(name.rpartition(".")[2].lower())
        if by_name:
            return by_name
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3 or len(head) < _SNIFF_LEN:
            return "application/octet-stream"
        text = head[: exc.start].decode("utf-8")  # a character cut at the sniff window
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return "application/octet-stream"
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    xml_start = stripped.startswith(("<svg", "<?xml", "<!--", "<!doctype svg"))
    if xml_start and "<svg" in stripped:
        return "image/svg+xml"
    if stripped.encode().startswith(_HTML_STARTS):
        return "text/html; charset=utf-8"
    if stripped[:1] in ("{", "[") and _json_like(text, whole=len(head) < _SNIFF_LEN):
        return "application/json"
    return "text/plain; charset=utf-8"


def _json_like(text: str, *, whole: bool) -> bool:
    if not whole:
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
