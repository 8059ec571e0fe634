"""What the OpenAPI document at ``/openapi.json`` says beyond the route signatures: the error
responses of each operation (from the error codes it can answer, mapped to statuses by
``web/errors.py``), the image and IPFS gateway responses, tags and operation ids.

A client generated from the document, or a schema-driven tester, relies on it: every status a
route answers is listed for its operation, with the body it carries. Errors are always
``ErrorOut`` (``{"error": {"code", "message"}}``), never FastAPI's ``HTTPValidationError``:
``web/errors.py`` answers a request that fails validation with the code ``validation_error``.
tests/web/test_openapi_spec.py checks the document against the running service.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi.routing import APIRoute

from .errors import STATUS_BY_CODE
from .schemas import ErrorOut

__all__ = [
    "AVATAR_RESPONSES",
    "GATEWAY_RESPONSES",
    "IMAGE_UPLOAD_ERRORS",
    "OBJECT_RESPONSES",
    "OPENAPI_TAGS",
    "UPLOAD_TYPES",
    "Responses",
    "error_responses",
    "operation_id",
]

Responses = dict[int | str, dict[str, Any]]

UPLOAD_TYPES: Final = "image/jpeg, image/png, image/webp, image/gif"
"""The picture formats an upload or a mint takes (a multipart part's ``encoding``)."""

IMAGE_UPLOAD_ERRORS: Final = (
    "malformed_multipart",
    "missing_field",
    "empty_file",
    "file_too_large",
    "unsupported_format",
    "corrupt_image",
    "image_too_large",
)
"""The error codes of a picture sent as a multipart part (an upload or a mint)."""

_BINARY: Final = {"schema": {"type": "string", "format": "binary"}}
_LOCATION: Final = {
    "Location": {"description": "where to go", "required": True, "schema": {"type": "string"}}
}

_ERROR_HEADERS: Final[Mapping[int, dict[str, Any]]] = {
    416: {"Content-Range": {"schema": {"type": "string"}, "required": True}},
    429: {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "schema": {"type": "integer"},
            "required": True,
        }
    },
}

OPENAPI_TAGS: Final = [
    {"name": "auth", "description": "Accounts, log-in sessions and API tokens."},
    {"name": "avatars", "description": "The signed-in user's uploaded picture."},
    {"name": "users", "description": "Public profiles."},
    {"name": "images", "description": "The pictures themselves (WebP or PNG by `Accept`)."},
    {"name": "nfts", "description": "Minting pictures as ERC-721 tokens, and transfers."},
    {"name": "wallets", "description": "Read-only wallet links (Sign-In with Ethereum)."},
    {"name": "nft avatars", "description": "NFTs a linked wallet owns, shown as the avatar."},
    {"name": "ipfs", "description": "The IPFS path and trustless gateway (local blockstore)."},
    {"name": "health", "description": "Liveness and readiness."},
]


def operation_id(route: APIRoute) -> str:
    """An operation's id: its route's name (the function's, unless given), unique in the app
    (tests pin them); it does not change with the path or the method."""
    return route.name


def error_responses(*codes: str) -> Responses:
    """``responses=`` for a route that can answer these error codes: each status they map to
    (``STATUS_BY_CODE``: a code missing there is a KeyError), with the error body and the codes
    in its description."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS_BY_CODE[code], []).append(code)
    responses: Responses = {}
    for status, found in sorted(by_status.items()):
        listed = ", ".join(f"`{c}`" for c in found)
        response: dict[str, Any] = {
            "model": ErrorOut,
            "description": f"{HTTPStatus(status).phrase}; error code {listed}",
        }
        if status in _ERROR_HEADERS:
            response["headers"] = _ERROR_HEADERS[status]
        responses[status] = response
    return responses


_IMAGE_200: Final = {
    "description": "The picture: WebP when `Accept` names image/webp, else PNG (a hexagon is "
    "always PNG)",
    "content": {"image/webp": _BINARY, "image/png": _BINARY},
    "headers": {
        "ETag": {"schema": {"type": "string"}},
        "Last-Modified": {"schema": {"type": "string"}},
        "Cache-Control": {"schema": {"type": "string"}},
    },
}
_NOT_MODIFIED: Final = {"description": "Not modified (`If-None-Match` or `If-Modified-Since`)"}

AVATAR_RESPONSES: Final[Responses] = {
    200: _IMAGE_200,
    302: {
        "description": "When the service serves by redirect (`AVATAR_SERVING=redirect`): the "
        "rendition's immutable URL",
        "headers": _LOCATION,
    },
    304: _NOT_MODIFIED,
    **error_responses("invalid_size", "user_not_found", "validation_error", "object_store_error"),
}
"""The responses of ``GET /u/{username}/avatar``."""

OBJECT_RESPONSES: Final[Responses] = {
    200: {**_IMAGE_200, "description": "The rendition (immutable: cached for a year)"},
    304: _NOT_MODIFIED,
    **error_responses("not_found", "object_not_found", "validation_error", "object_store_error"),
}
"""The responses of ``GET /a/{name}``."""

GATEWAY_RESPONSES: Final[Responses] = {
    200: {
        "description": "Deserialized content (a file with a sniffed type, a directory listing "
        "as HTML or JSON, a json/dag-json/dag-cbor block), or with `?format=` / `Accept` a "
        "verified raw block or a CAR (`version=1; order=dfs; dups=n` or `dups=y`)",
        "content": {
            "application/vnd.ipld.raw": _BINARY,
            "application/vnd.ipld.car": _BINARY,
            "application/json": {"schema": {}},
            "text/html": {"schema": {"type": "string"}},
            "*/*": _BINARY,
        },
    },
    206: {
        "description": "The byte range asked for with `Range` (files and raw blocks)",
        "content": {"*/*": _BINARY},
        "headers": {"Content-Range": {"schema": {"type": "string"}, "required": True}},
    },
    301: {
        "description": "A directory asked for without a trailing `/`",
        "headers": _LOCATION,
    },
    304: {"description": "Not modified (`If-None-Match`)"},
    **error_responses(
        "invalid_gateway_request",
        "invalid_cid",
        "content_not_found",
        "not_acceptable",
        "not_a_file",
        "not_cached",
        "range_not_satisfiable",
        "invalid_dag_pb",
        "invalid_unixfs",
        "block_verification_failed",
        "blockstore_error",
    ),
}
"""The responses of ``web/gateway.py``'s routes."""
