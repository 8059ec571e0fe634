"""NFT avatars over HTTP: set one by reference, remove it, explain the current state, and
list the tokens of this service's contract that the linked wallets own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..storage.db import as_utc
from .deps import CurrentUser, Services, get_services
from .openapi import error_responses
from .schemas import AvatarOut, ProvenanceOut, RequestBody

__all__ = ["router"]

ServicesDep = Annotated[Services, Depends(get_services)]
router = APIRouter(prefix="/api/v1", tags=["nft avatars"])

# What setting an NFT avatar can meet: the reference, the chain (ownership, tokenURI/uri),
# the metadata and the image (fetched, verified against their CIDs, rendered).
_SET_ERRORS = (
    "unauthenticated",
    "validation_error",
    "bad_nft_ref",
    "unknown_chain",
    "not_owner",
    "token_not_found",
    "not_an_nft",
    "call_reverted",
    "call_out_of_gas",
    "contract_call_failed",
    "malformed_response",
    "response_too_large",
    "metadata_invalid",
    "bad_uri",
    "bad_url",
    "url_scheme_not_allowed",
    "data_uri_too_large",
    "ssrf_blocked",
    "content_not_found",
    "fetch_failed",
    "fetch_too_large",
    "fetch_too_many_redirects",
    "fetch_bad_content_encoding",
    "block_verification_failed",
    "fetch_timeout",
    "empty_file",
    "unsupported_format",
    "corrupt_image",
    "image_too_large",
    "svg_rejected",
    "svg_timeout",
    "chain_unavailable",
    "object_store_error",
)


class NftRefIn(RequestBody):
    ref: str = Field(
        max_length=300,
        description="eip155:<chain id>/erc721:<contract>/<token id> (or erc1155)",
        examples=["eip155:31337/erc721:0x5FbDB2315678afecb367f032d93F642f64180aa3/1"],
    )


class StepOut(BaseModel):
    step: str
    ok: bool
    detail: str
    verified: bool | None = None


class NftStateOut(BaseModel):
    status: str = Field(description="active, dropped (ownership lost) or replaced")
    provenance: ProvenanceOut
    steps: list[StepOut]
    dropped_at: datetime | None
    dropped_reason: str | None


class AvatarStatusOut(BaseModel):
    username: str
    showing: str = Field(description="nft, upload or default")
    nft: NftStateOut | None = Field(description="the latest NFT avatar, if any")


@router.put("/me/avatar/nft", response_model=AvatarOut, responses=error_responses(*_SET_ERRORS))
async def set_nft_avatar(body: NftRefIn, user: CurrentUser, services: ServicesDep) -> AvatarOut:
    """Make an NFT a linked wallet owns the avatar: ownership is checked at the latest block,
    metadata and image are resolved (IPFS bytes verified against their CIDs)."""
    nft = await run_in_threadpool(services.nft_avatars.set_avatar, user.id, body.ref)
    _, view = await run_in_threadpool(services.avatars.shown, user.username)
    assert view is not None
    return AvatarOut.of(view, nft)


@router.delete(
    "/me/avatar/nft",
    status_code=204,
    responses=error_responses("unauthenticated", "no_nft_avatar"),
)
def remove_nft_avatar(user: CurrentUser, services: ServicesDep) -> Response:
    """Stop showing the NFT; the uploaded picture (or the default) is shown again."""
    services.nft_avatars.remove(user.id)
    return Response(status_code=204)


@router.get(
    "/users/{username}/avatar/status",
    response_model=AvatarStatusOut,
    responses=error_responses("validation_error", "user_not_found"),
)
def avatar_status(username: str, services: ServicesDep) -> AvatarStatusOut:
    """What the profile shows and why: each resolution step, when ownership was last
    verified, and why an NFT avatar was dropped."""
    user, _ = services.avatars.current(username)
    _, kind = services.avatars.shown_avatar_id(user)
    latest = services.nft_avatars.latest(user.id)
    showing = kind if kind == "nft" else ("upload" if user.avatar_id else "default")
    nft = None
    if latest is not None:
        nft = NftStateOut(
            status=latest.status,
            provenance=ProvenanceOut.of(latest),
            steps=[StepOut.model_validate(s) for s in latest.steps],
            dropped_at=as_utc(latest.dropped_at) if latest.dropped_at else None,
            dropped_reason=latest.dropped_reason,
        )
    return AvatarStatusOut(username=user.username, showing=showing, nft=nft)


class OwnedTokenOut(BaseModel):
    ref: str
    chain_id: int
    contract: str
    token_id: int
    owner: str


@router.get(
    "/me/nfts",
    response_model=list[OwnedTokenOut],
    responses=error_responses(
        "unauthenticated", "contract_call_failed", "malformed_response", "chain_unavailable"
    ),
)
async def my_nfts(user: CurrentUser, services: ServicesDep) -> list[OwnedTokenOut]:
    """Tokens of this service's contract that your linked wallets own (the NFT picker)."""
    tokens = await run_in_threadpool(services.nft_avatars.owned_tokens, user.id)
    return [
        OwnedTokenOut(
            ref=t.ref, chain_id=t.chain_id, contract=t.contract, token_id=t.token_id, owner=t.owner
        )
        for t in tokens
    ]
