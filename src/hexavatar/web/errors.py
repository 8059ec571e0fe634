"""Errors become HTTP here, once: every error code maps to a status and the JSON body
``{"error": {"code": ..., "message": ...}}``. Routes raise domain errors; they never build
error responses themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["STATUS_BY_CODE", "ApiError", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    # input
    "invalid_input": 422,
    "validation_error": 422,
    "invalid_username": 422,
    "invalid_password": 422,
    "invalid_size": 400,
    "malformed_multipart": 400,
    "missing_field": 400,
    # images
    "empty_file": 400,
    "unsupported_format": 415,
    "corrupt_image": 422,
    "image_too_large": 422,
    "file_too_large": 413,
    # accounts
    "username_taken": 409,
    "invalid_credentials": 401,
    "unauthenticated": 401,
    "forbidden": 403,
    "rate_limited": 429,
    # lookups
    "not_found": 404,
    "user_not_found": 404,
    "no_avatar": 404,
    "object_not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    # minting
    "invalid_address": 422,
    "invalid_name": 422,
    "idempotency_key_reused": 422,
    "mint_not_found": 404,
    "not_transferable": 409,
    "transfer_busy": 409,
    "mint_reverted": 502,
    "transaction_reverted": 502,
    "transaction_rejected": 502,
    "nonce_conflict": 502,
    # The minter's nonce_counters row vanished after this process saw it (dropped out of band):
    # our own state is broken and a retry meets the same, so it is a server fault (500), not
    # an outage that passes (503). The mint or transfer stays as it was (the transaction that
    # took the nonce rolls back).
    "nonce_counter_missing": 500,
    "chain_unavailable": 503,
    "receipt_timeout": 504,
    # wallets (Sign-In with Ethereum)
    "siwe_bad_nonce": 401,
    "siwe_bad_signature": 401,
    "siwe_wrong_signer": 401,
    "siwe_expired": 401,
    "siwe_not_yet_valid": 401,
    "siwe_issued_in_future": 401,
    "siwe_bad_domain": 401,
    "siwe_bad_scheme": 401,
    "siwe_bad_uri": 401,
    "siwe_bad_chain": 401,
    "siwe_invalid": 401,
    "siwe_malformed": 422,
    "siwe_unknown_field": 422,
    "siwe_duplicate_field": 422,
    "siwe_field_order": 422,
    "siwe_bad_address": 422,
    "wallet_taken": 409,
    "wallet_not_found": 404,
    # NFT avatars
    "not_owner": 403,
    "unknown_chain": 422,
    "not_an_nft": 422,
    "metadata_invalid": 422,
    "no_nft_avatar": 404,
    "bad_nft_ref": 422,
    "invalid_nft_ref": 422,  # the client's NFT reference does not parse, as bad_nft_ref
    "bad_uri": 422,
    "bad_url": 422,
    "url_scheme_not_allowed": 422,
    "data_uri_too_large": 422,
    "ssrf_blocked": 422,
    "fetch_failed": 502,
    "fetch_too_large": 502,
    "fetch_timeout": 504,
    "fetch_too_many_redirects": 502,
    "fetch_bad_content_encoding": 502,
    "call_reverted": 422,
    "token_not_found": 404,
    "malformed_response": 422,
    "response_too_large": 422,
    "call_out_of_gas": 422,
    "contract_call_failed": 422,
    "svg_rejected": 422,
    "svg_timeout": 422,
    # IPFS and the gateway
    "invalid_cid": 400,
    "unsupported_hash": 400,
    "invalid_gateway_request": 400,
    "content_not_found": 404,
    "block_not_found": 404,
    "path_not_found": 404,
    "path_not_resolved": 404,
    "not_a_file": 406,
    "not_cached": 412,
    "range_not_satisfiable": 416,
    "invalid_car": 400,
    "invalid_dag_pb": 422,
    "invalid_unixfs": 422,
    "import_failed": 422,
    "block_verification_failed": 502,
    "pinning_failed": 502,
    "blockstore_error": 503,
    "ipfs_error": 400,
    # back ends
    "storage_error": 503,
    "object_store_error": 503,
}


class ApiError(Exception):
    """An error raised by the web layer itself (not by a service)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_response(
    code: str,
    message: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status or STATUS_BY_CODE.get(code, 400),
        headers=headers,
    )


async def _coded(request: Request, exc: Exception) -> JSONResponse:
    code = str(getattr(exc, "code", "") or "internal_error")
    if code == "internal_error":
        return await _unexpected(request, exc)
    extra = getattr(exc, "headers", None)
    headers = dict(extra) if isinstance(extra, Mapping) else {}
    retry = getattr(exc, "retry_after", None)
    if isinstance(retry, int):
        headers["Retry-After"] = str(retry)
    return error_response(code, str(exc), headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal_error", "internal server error", status=500)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response("validation_error", "; ".join(parts) or "invalid request", status=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
        exc.status_code, "http_error"
    )
    return error_response(code, str(exc.detail), status=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI, *, coded: tuple[type[Exception], ...]) -> None:
    """Map ``coded`` exception families (each with a ``code``) and the framework's own errors."""
    for family in coded:
        app.add_exception_handler(family, _coded)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
