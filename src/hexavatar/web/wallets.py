"""Wallet links over HTTP: SIWE nonces, linking and unlinking addresses (read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from .deps import CurrentUser, Services, auth_token, get_services
from .openapi import error_responses
from .schemas import RequestBody

__all__ = ["router"]

ServicesDep = Annotated[Services, Depends(get_services)]
TokenDep = Annotated[str, Depends(auth_token)]
router = APIRouter(prefix="/api/v1", tags=["wallets"], responses=error_responses("unauthenticated"))
_LINK_ERRORS = (
    "validation_error",  # the body
    "siwe_malformed", "siwe_unknown_field", "siwe_duplicate_field", "siwe_field_order",
    "siwe_bad_address",  # the message's syntax (422)
    "siwe_bad_nonce", "siwe_bad_signature", "siwe_wrong_signer", "siwe_expired",
    "siwe_not_yet_valid", "siwe_issued_in_future", "siwe_bad_domain", "siwe_bad_scheme",
    "siwe_bad_uri", "siwe_bad_chain", "siwe_invalid",  # what it says, and who signed (401)
    "wallet_taken",  # linked to another account (409)
    "chain_unavailable",  # a contract wallet's EIP-1271 check could not reach its chain (503)
)  # fmt: skip


class NonceOut(BaseModel):
    nonce: str
    issued_at: datetime
    expires_at: datetime
    scheme: str = Field(
        description="the SIWE scheme: the message starts '<scheme>://<domain> wants you to sign"
        " in' (EIP-4361 reads a message without one as https)"
    )
    domain: str = Field(description="the SIWE domain to sign for")
    uri: str = Field(description="the SIWE URI to sign for")
    chain_ids: list[int]


class LinkIn(RequestBody):
    message: str = Field(max_length=4096, description="the EIP-4361 message, exactly as signed")
    signature: str = Field(max_length=2048, description="0x-hex personal_sign signature")


class WalletOut(BaseModel):
    address: str
    chain_id: int
    signer_kind: str = Field(description="eoa, or eip1271 for a contract wallet")
    linked_at: datetime


@router.get("/auth/siwe/nonce", response_model=NonceOut)
def siwe_nonce(user: CurrentUser, token: TokenDep, services: ServicesDep) -> NonceOut:
    """A single-use nonce for a Sign-In with Ethereum message, bound to this session,
    valid for 10 minutes."""
    v = services.wallets.issue_nonce(user.id, session_token=token)
    return NonceOut(
        nonce=v.nonce,
        issued_at=v.issued_at,
        expires_at=v.expires_at,
        scheme=urlsplit(v.uri).scheme,
        domain=v.domain,
        uri=v.uri,
        chain_ids=v.chain_ids,
    )


@router.post(
    "/me/wallets",
    status_code=201,
    response_model=WalletOut,
    responses=error_responses(*_LINK_ERRORS),
)
def link_wallet(
    body: LinkIn, user: CurrentUser, token: TokenDep, services: ServicesDep
) -> WalletOut:
    """Link the address that signed the SIWE message (the wallet stays read-only)."""
    v = services.wallets.link(
        user.id, session_token=token, message=body.message, signature=body.signature
    )
    return WalletOut(
        address=v.address, chain_id=v.chain_id, signer_kind=v.signer_kind, linked_at=v.linked_at
    )


@router.get("/me/wallets", response_model=list[WalletOut])
def list_wallets(user: CurrentUser, services: ServicesDep) -> list[WalletOut]:
    return [
        WalletOut(
            address=v.address, chain_id=v.chain_id, signer_kind=v.signer_kind, linked_at=v.linked_at
        )
        for v in services.wallets.list_for(user.id)
    ]


@router.delete(
    "/me/wallets/{address}",
    status_code=204,
    responses=error_responses("wallet_not_found", "validation_error"),
)
def unlink_wallet(address: str, user: CurrentUser, services: ServicesDep) -> Response:
    services.wallets.unlink(user.id, address)
    if services.chain is not None:
        services.nft_avatars.recheck_user(user.id)  # the NFT may have been in that wallet
    return Response(status_code=204)
