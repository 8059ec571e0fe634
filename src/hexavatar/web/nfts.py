"""The minting API: ``POST /api/v1/nfts``, ``GET /api/v1/nfts/{id}``, transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..services.minting import MintRequest, MintView
from .deps import CurrentUser, Services, get_services
from .errors import ApiError
from .multipart import read_request_form
from .openapi import IMAGE_UPLOAD_ERRORS, UPLOAD_TYPES, Responses, error_responses
from .schemas import ErrorOut, RequestBody

__all__ = ["router"]

ServicesDep = Annotated[Services, Depends(get_services)]
router = APIRouter(prefix="/api/v1", tags=["nfts"])

_MINT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image", "name"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": {"type": "string", "maxLength": 5000},
                        "attributes": {
                            "type": "string",
                            "description": "JSON array of at most 64 objects",
                        },
                        "to": {
                            "type": "string",
                            "description": "owner address (EIP-55 checksum when mixed case); "
                            "without it the service holds the token for you",
                        },
                    },
                },
                "encoding": {"image": {"contentType": UPLOAD_TYPES}},
            }
        },
    }
}


class MintError(BaseModel):
    code: str
    message: str


class MintOut(BaseModel):
    id: str
    status: str = Field(description="received, content_imported, signed, sent, confirmed, failed")
    token_id: int | None
    metadata_uri: str | None
    image_uri: str | None
    tx_hash: str | None
    contract: str | None
    chain_id: int | None
    owner: str | None
    custodial: bool
    transfer_status: str | None
    transfer_tx_hash: str | None
    error: MintError | None
    created_at: datetime

    @classmethod
    def of(cls, v: MintView) -> MintOut:
        return cls.model_validate(v, from_attributes=True)


class TransferIn(RequestBody):
    to: str = Field(max_length=64, description="the new owner's address")


_PENDING: Responses = {
    202: {"model": MintOut, "description": "Accepted, not yet confirmed: poll the mint"},
}
_FAILED: Responses = {
    502: {
        "model": MintOut | ErrorOut,
        "description": "The mint failed on the chain (the mint, with its `error`), or the node "
        "refused the transaction (error code `mint_reverted`, `transaction_reverted`, "
        "`transaction_rejected`, `nonce_conflict`)",
    },
}


def _respond(view: MintView, *, created: bool) -> JSONResponse:
    body = MintOut.of(view).model_dump(mode="json")
    if view.status == "failed":
        return JSONResponse({**body, "error": body["error"]}, status_code=502)
    status = (201 if created else 200) if view.status == "confirmed" else 202
    return JSONResponse(body, status_code=status)


@router.post(
    "/nfts",
    status_code=201,
    response_model=MintOut,
    openapi_extra=_MINT_BODY,
    responses={
        **_PENDING,
        **error_responses(
            "unauthenticated",
            "validation_error",
            *IMAGE_UPLOAD_ERRORS,
            "invalid_name",
            "invalid_input",
            "invalid_address",
            "idempotency_key_reused",
            "chain_unavailable",
        ),
        **_FAILED,
    },
)
async def mint(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Mint an image as an ERC-721 token: image and metadata go to IPFS, the contract records
    the metadata CID. 201 when confirmed, 202 while pending (poll ``GET /api/v1/nfts/{id}``)."""
    form = await read_request_form(request, max_file_bytes=services.settings.max_upload_bytes)
    image = form.file("image")
    if image is None:
        raise ApiError("missing_field", "multipart field 'image' with a file is required")
    req = MintRequest.parse(
        image=bytes(image.data),
        name=form.text("name"),
        description=form.text("description"),
        attributes=form.text("attributes"),
        to=form.text("to"),
        idempotency_key=idempotency_key,
    )
    view = await run_in_threadpool(services.minting.submit, user.id, req)
    return _respond(view, created=True)


@router.get(
    "/nfts/{mint_id}",
    response_model=MintOut,
    responses={**_PENDING, **error_responses("validation_error", "mint_not_found"), **_FAILED},
)
async def get_mint(mint_id: str, services: ServicesDep) -> JSONResponse:
    """A mint as the ledger has it now (a sent mint whose block has come is confirmed first)."""
    view = await run_in_threadpool(services.minting.refresh, mint_id)
    return _respond(view, created=False)


@router.get("/me/mints", response_model=list[MintOut], responses=error_responses("unauthenticated"))
def my_mints(user: CurrentUser, services: ServicesDep) -> list[MintOut]:
    """The signed-in user's mints, newest first."""
    return [MintOut.of(v) for v in services.minting.list_for(user.id)]


@router.post(
    "/nfts/{mint_id}/transfer",
    response_model=MintOut,
    responses=error_responses(
        "unauthenticated",
        "validation_error",
        "invalid_address",
        "mint_not_found",
        "not_transferable",
        "transfer_busy",
        "transaction_rejected",
        "nonce_conflict",
        "chain_unavailable",
    ),
)
async def transfer(
    mint_id: str, body: TransferIn, user: CurrentUser, services: ServicesDep
) -> JSONResponse:
    """Transfer a token the service holds for you to your wallet (``safeTransferFrom``)."""
    view = await run_in_threadpool(services.minting.transfer, mint_id, user_id=user.id, to=body.to)
    return _respond(view, created=False)
