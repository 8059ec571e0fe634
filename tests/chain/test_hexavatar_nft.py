"""HexavatarNFT: minting, metadata CIDs, token IDs, roles, interfaces (on a real anvil)."""

from __future__ import annotations

import hashlib

import pytest
from web3 import Web3
from web3.contract import Contract

from hexavatar.chain.minter import CODEC_DAG_PB, CODEC_RAW
from hexavatar.chain.signer import Signer

from .helpers import cid_v1_uri, revert_of, transact

MINTER_ROLE = Web3.keccak(text="MINTER_ROLE")
ADMIN_ROLE = bytes(32)


def digest_of(n: int) -> bytes:
    return hashlib.sha256(f"metadata {n}".encode()).digest()


def test_mint_returns_sequential_ids_from_one(
    w3: Web3, nft: Contract, deployer: Signer, alice: Signer
) -> None:
    ids = []
    for n in range(3):
        receipt = transact(w3, deployer, nft, "mint", alice.address, digest_of(n), CODEC_RAW)
        (event,) = nft.events.Transfer().process_receipt(receipt)
        ids.append(event["args"]["tokenId"])
        assert event["args"]["from"] == "0x" + "00" * 20
        assert event["args"]["to"] == alice.address
    assert ids == [1, 2, 3]
    assert nft.functions.totalMinted().call() == 3
    assert nft.functions.balanceOf(alice.address).call() == 3


@pytest.mark.parametrize("codec", [CODEC_RAW, CODEC_DAG_PB])
def test_token_uri_is_cidv1_base32_of_digest_and_codec(
    w3: Web3, nft: Contract, deployer: Signer, alice: Signer, codec: int
) -> None:
    digest = digest_of(42)
    transact(w3, deployer, nft, "mint", alice.address, digest, codec)
    uri = nft.functions.tokenURI(1).call()
    assert uri == cid_v1_uri(digest, codec)
    assert uri.startswith("ipfs://bafkrei" if codec == CODEC_RAW else "ipfs://bafybei")
    assert nft.functions.ownerOf(1).call() == alice.address
    assert nft.functions.metadataOf(1).call() == [digest, codec]


def test_known_cid_vector(w3: Web3, nft: Contract, deployer: Signer, alice: Signer) -> None:
    # sha2-256 of the empty string as a raw-codec CIDv1: a widely published CID.
    digest = hashlib.sha256(b"").digest()
    transact(w3, deployer, nft, "mint", alice.address, digest, CODEC_RAW)
    expected = "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert nft.functions.tokenURI(1).call() == expected


def test_codecs_survive_chunk_boundaries(
    w3: Web3, nft: Contract, deployer: Signer, alice: Signer
) -> None:
    """Codec bits live beside the counter and move to storage every 192 IDs: check 1..400."""
    count = 400
    codecs = [
        CODEC_DAG_PB if (n % 3 == 0 or n in (191, 192, 383, 384)) else CODEC_RAW
        for n in range(1, count + 1)
    ]
    for n, codec in enumerate(codecs, start=1):
        transact(w3, deployer, nft, "mint", alice.address, digest_of(n), codec)
    for n, codec in enumerate(codecs, start=1):
        assert nft.functions.tokenURI(n).call() == cid_v1_uri(digest_of(n), codec), n


def test_safe_mint_to_eoa_and_same_uri(
    w3: Web3, nft: Contract, deployer: Signer, bob: Signer
) -> None:
    transact(w3, deployer, nft, "safeMint", bob.address, digest_of(1), CODEC_DAG_PB)
    assert nft.functions.ownerOf(1).call() == bob.address
    assert nft.functions.tokenURI(1).call() == cid_v1_uri(digest_of(1), CODEC_DAG_PB)


def test_unsupported_codec_reverts(nft: Contract, deployer: Signer, alice: Signer) -> None:
    reason = revert_of(nft, deployer, "mint", alice.address, digest_of(1), 0x71)
    assert reason == "UnsupportedCodec(113)"


def test_non_minter_cannot_mint(nft: Contract, alice: Signer) -> None:
    reason = revert_of(nft, alice, "mint", alice.address, digest_of(1), CODEC_RAW)
    assert reason.startswith("AccessControlUnauthorizedAccount(")
    assert alice.address.lower()[2:] in reason.lower()
    assert revert_of(nft, alice, "safeMint", alice.address, digest_of(1), CODEC_RAW).startswith(
        "AccessControlUnauthorizedAccount("
    )


def test_deployer_is_admin_and_minter(nft: Contract, deployer: Signer, alice: Signer) -> None:
    assert nft.functions.hasRole(ADMIN_ROLE, deployer.address).call()
    assert nft.functions.hasRole(MINTER_ROLE, deployer.address).call()
    assert nft.functions.MINTER_ROLE().call() == MINTER_ROLE
    assert not nft.functions.hasRole(MINTER_ROLE, alice.address).call()
    assert nft.functions.name().call() == "Hexavatar Test"
    assert nft.functions.symbol().call() == "HXT"


def test_grant_and_revoke_minter_role(
    w3: Web3, nft: Contract, deployer: Signer, alice: Signer
) -> None:
    transact(w3, deployer, nft, "grantRole", MINTER_ROLE, alice.address)
    transact(w3, alice, nft, "mint", alice.address, digest_of(1), CODEC_RAW)
    assert nft.functions.ownerOf(1).call() == alice.address
    transact(w3, deployer, nft, "revokeRole", MINTER_ROLE, alice.address)
    assert not nft.functions.hasRole(MINTER_ROLE, alice.address).call()
    reason = revert_of(nft, alice, "mint", alice.address, digest_of(2), CODEC_RAW)
    assert reason.startswith("AccessControlUnauthorizedAccount(")


def test_only_admin_grants_roles(nft: Contract, alice: Signer, bob: Signer) -> None:
    reason = revert_of(nft, alice, "grantRole", MINTER_ROLE, bob.address)
    assert reason.startswith("AccessControlUnauthorizedAccount(")


@pytest.mark.parametrize(
    ("interface_id", "expected"),
    [
        ("80ac58cd", True),  # ERC-721
        ("5b5e139f", True),  # ERC-721 Metadata
        ("01ffc9a7", True),  # ERC-165
        ("7965db0b", True),  # AccessControl
        ("d9b67a26", False),  # ERC-1155
        ("780e9d63", False),  # ERC-721 Enumerable: not implemented
        ("ffffffff", False),
    ],
)
def test_supports_interface(nft: Contract, interface_id: str, expected: bool) -> None:
    assert nft.functions.supportsInterface(bytes.fromhex(interface_id)).call() is expected


def test_missing_token_reverts(nft: Contract, deployer: Signer) -> None:
    assert revert_of(nft, deployer, "ownerOf", 1) == "ERC721NonexistentToken(1)"
    assert revert_of(nft, deployer, "tokenURI", 1) == "ERC721NonexistentToken(1)"
    assert revert_of(nft, deployer, "metadataOf", 7) == "ERC721NonexistentToken(7)"
