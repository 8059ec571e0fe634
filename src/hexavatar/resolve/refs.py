"""NFT references: ``eip155:<chain>/erc721:<contract>/<token id>`` and the ERC-1155 form.

This module owns :class:`NftRef` and its text form, the CAIP-22 (ERC-721) and CAIP-29
(ERC-1155) asset IDs that ENSIP-12 avatar records and ``hexavatar nft show REF`` use.
Parsing is strict: a decimal chain ID without leading zeros and of at most 32 digits (a
CAIP-2 ``reference`` is ``[-_a-zA-Z0-9]{1,32}``; the eip155 profile makes it the EIP-155 chain
ID in base 10), a 40-hex-digit contract (all lowercase, the legacy spelling, or a valid EIP-55
spelling; stored checksummed), a decimal token ID up to 2**256-1 (no leading zeros), nothing
else. An all-uppercase contract is refused: the eip155 CAIP-10 profile lists
``0x0495766CD136138FC492DD499B8DC87A92D6685B`` as one that "will not validate in
EIP155-conformant systems" (it is neither legacy lowercase nor a checksum). Pure functions, no
I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, cast

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from hexavatar.resolve.errors import NftRefError, quote

__all__ = ["MAX_CHAIN_ID", "MAX_TOKEN_ID", "NftRef", "Standard", "parse_nft_ref"]

Standard = Literal["erc721", "erc1155"]
MAX_TOKEN_ID: Final = 2**256 - 1
MAX_CHAIN_ID: Final = 10**32 - 1  # CAIP-2: a reference has at most 32 characters
_MAX_REF_CHARS: Final = 256
_REF_RE = re.compile(
    r"eip155:(?P<chain>[0-9]+)/(?P<standard>[a-z0-9]+):(?P<contract>[^/]*)/(?P<token>[^/]*)"
)
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]*")
_CONTRACT_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_STANDARDS: Final = ("erc721", "erc1155")


def _checksummed(contract: str) -> ChecksumAddress:
    if _CONTRACT_RE.fullmatch(contract) is None:
        raise NftRefError(f"contract: expected 0x and 40 hex digits, found {quote(contract)}")
    checksummed = to_checksum_address(contract)
    if contract != contract.lower() and contract != checksummed:
        raise NftRefError(
            f"contract: expected the EIP-55 spelling {checksummed} (or all lowercase), "
            f"found {quote(contract)}"
        )
    return checksummed


def _decimal(text: str, *, what: str, maximum: int) -> int:
    if len(text) > len(str(maximum)):
        raise NftRefError(
            f"{what}: expected at most {len(str(maximum))} digits, found {len(text)} characters"
        )
    if _DECIMAL_RE.fullmatch(text) is None:
        raise NftRefError(
            f"{what}: expected a decimal number without leading zeros, found {quote(text)}"
        )
    value = int(text)
    if value > maximum:
        raise NftRefError(f"{what}: expected at most {maximum}, found {quote(text)}")
    return value


@dataclass(frozen=True, kw_only=True)
class NftRef:
    """One token: chain, contract, token ID and (when known) its standard."""

    chain_id: int
    contract: ChecksumAddress
    token_id: int
    standard: Standard | None = None

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not 0 < self.chain_id <= MAX_CHAIN_ID:
            raise NftRefError(
                f"chain ID: expected 1 to 10**32-1 (CAIP-2), found {quote(self.chain_id)}"
            )
        if not isinstance(self.contract, str) or self.contract != _checksummed(self.contract):
            raise NftRefError(
                f"contract: expected a checksummed address, found {quote(self.contract)}"
            )
        if isinstance(self.token_id, bool) or not 0 <= self.token_id <= MAX_TOKEN_ID:
            raise NftRefError(f"token ID: expected 0 to 2**256-1, found {quote(self.token_id)}")
        if self.standard is not None and self.standard not in _STANDARDS:
            raise NftRefError(f"standard: expected erc721 or erc1155, found {quote(self.standard)}")

    @classmethod
    def from_parts(
        cls, *, chain_id: int, contract: str, token_id: int, standard: Standard | None = None
    ) -> NftRef:
        """A reference from its parts; ``contract`` in any accepted spelling."""
        return cls(
            chain_id=chain_id,
            contract=_checksummed(contract),
            token_id=token_id,
            standard=standard,
        )

    def caip(self) -> str:
        """The CAIP-22/29 text, e.g. ``eip155:1/erc721:0xb7F7…13F6/2430``."""
        if self.standard is None:
            raise NftRefError("standard: expected erc721 or erc1155 to write a CAIP ID, found None")
        return f"eip155:{self.chain_id}/{self.standard}:{self.contract}/{self.token_id}"


def parse_nft_ref(text: str) -> NftRef:
    """Parse ``eip155:<chain>/erc721|erc1155:<contract>/<token id>`` strictly."""
    if len(text) > _MAX_REF_CHARS:
        raise NftRefError(f"expected at most {_MAX_REF_CHARS} characters, found {len(text)}")
    m = _REF_RE.fullmatch(text)
    if m is None:
        raise NftRefError(
            "expected eip155:<chain id>/erc721:<contract>/<token id> (or erc1155), "
            f"found {quote(text)}"
        )
    if m["standard"] not in _STANDARDS:
        raise NftRefError(
            f"asset namespace: expected erc721 or erc1155, found {quote(m['standard'])}"
        )
    return NftRef(
        chain_id=_decimal(m["chain"], what="chain ID", maximum=MAX_CHAIN_ID),
        contract=_checksummed(m["contract"]),
        token_id=_decimal(m["token"], what="token ID", maximum=MAX_TOKEN_ID),
        standard=cast(Standard, m["standard"]),
    )
