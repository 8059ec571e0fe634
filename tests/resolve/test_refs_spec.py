"""NFT references and avatar URIs against their specs: CAIP-2/10/19/22/29, ENSIP-12, ERC-1155.

Clients written against these specs send the service their examples, so the examples are here
verbatim, with the rules they rest on:

* CAIP-2: ``chain_id = namespace ":" reference``, ``reference = [-_a-zA-Z0-9]{1,32}``; the
  eip155 profile makes the reference the EIP-155 chain ID in base 10, so at most 32 digits.
* CAIP-19: ``asset_namespace = [-a-z0-9]{3,8}``, ``token_id = [-.%a-zA-Z0-9]{1,78}``; CAIP-22
  and CAIP-29 make the reference the contract address and the token ID the ERC-721/1155 ID.
* The eip155 CAIP-10 profile: accept checksum case and legacy lowercase addresses; an
  all-uppercase one "will not validate in EIP155-conformant systems" (its test cases).
* ENSIP-12: ``https``, ``ipfs`` and ``data`` avatar URIs and NFT references; its examples
  for BAYC token 0.
* ERC-1155 metadata: ``{id}`` becomes the ID as lowercase hex, zero-padded to 64 characters;
  the example of the EIP (token 314592 → ``…04cce0``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.config import load_settings
from hexavatar.resolve.errors import NftRefError
from hexavatar.resolve.refs import MAX_CHAIN_ID, MAX_TOKEN_ID, NftRef, parse_nft_ref
from hexavatar.resolve.uris import (
    ArweaveUri,
    DataUri,
    IpfsUri,
    classify_uri,
    substitute_token_id,
)
from tests.conftest import DevChain
from tests.web.conftest import signup

KITTY = "0x06012c8cf97BEaD5deAe237070F9587f8E7A266d"


# --- the specs' own examples ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "chain_id", "standard", "contract", "token_id"),
    [
        # CAIP-19 and CAIP-22 test cases, and the eip155 CAIP-19 profile's
        (f"eip155:1/erc721:{KITTY}/771769", 1, "erc721", KITTY, 771769),
        (
            "eip155:1/erc721:0x5180db8f5c931aae63c74266b211f580155ecac8/4663",
            1,
            "erc721",
            "0x5180db8F5c931aaE63c74266b211F580155ecac8",
            4663,
        ),
        # CAIP-29 test case
        (
            "eip155:1/erc1155:0x28959Cf125ccB051E70711D0924a62FB28EAF186/0",
            1,
            "erc1155",
            "0x28959Cf125ccB051E70711D0924a62FB28EAF186",
            0,
        ),
        # ENSIP-12: BAYC token 0, contract in lowercase
        (
            "eip155:1/erc721:0xbc4ca0eda7647a8ab7c2061c2e118a18a936f13d/0",
            1,
            "erc721",
            "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D",
            0,
        ),
    ],
)
def test_spec_examples(
    text: str, chain_id: int, standard: str, contract: str, token_id: int
) -> None:
    ref = parse_nft_ref(text)
    assert (ref.chain_id, ref.standard, ref.contract, ref.token_id) == (
        chain_id,
        standard,
        contract,
        token_id,
    )
    assert parse_nft_ref(ref.caip()) == ref
    assert ref.caip() == text.replace(text.split(":")[2].split("/")[0], contract)


# --- CAIP-2: the chain reference ------------------------------------------------------------


def test_chain_reference_is_at_most_32_digits() -> None:
    longest = "9" * 32
    ref = parse_nft_ref(f"eip155:{longest}/erc721:{KITTY}/1")
    assert ref.chain_id == MAX_CHAIN_ID == int(longest)
    with pytest.raises(NftRefError, match="32 digits"):
        parse_nft_ref(f"eip155:1{longest}/erc721:{KITTY}/1")


def test_a_reference_too_long_for_caip2_cannot_be_built() -> None:
    """``caip()`` must only ever write valid CAIP-2, so the dataclass refuses it too."""
    with pytest.raises(NftRefError):
        NftRef(chain_id=MAX_CHAIN_ID + 1, contract=KITTY, token_id=1, standard="erc721")  # type: ignore[arg-type]


@pytest.mark.parametrize("chain", ["0", "01", "", "1a", "-1", "mainnet", "0x1"])
def test_eip155_reference_is_a_positive_decimal_chain_id(chain: str) -> None:
    with pytest.raises(NftRefError):
        parse_nft_ref(f"eip155:{chain}/erc721:{KITTY}/1")


# --- CAIP-19: namespaces --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"EIP155:1/erc721:{KITTY}/1",  # CAIP ids are case-sensitive; namespaces lowercase
        f"eip155:1/ERC721:{KITTY}/1",
        f"eip155:1/erc20:{KITTY}/1",  # fungible, not an NFT namespace
        f"eip155:1/slip44:{KITTY}/1",
        f"eip155:1/erc721:{KITTY}",  # an asset type, not an asset ID
        f"eip155:1/erc721:{KITTY}/1/2",
        f"cosmos:cosmoshub-3/erc721:{KITTY}/1",
    ],
)
def test_only_eip155_erc721_and_erc1155_asset_ids(text: str) -> None:
    with pytest.raises(NftRefError):
        parse_nft_ref(text)


# --- addresses (eip155 CAIP-10 profile, EIP-55) ---------------------------------------------


def test_checksum_and_legacy_lowercase_contracts_are_accepted() -> None:
    lower = parse_nft_ref(f"eip155:137/erc721:{KITTY.lower()}/1")
    checksum = parse_nft_ref(f"eip155:137/erc721:{KITTY}/1")
    assert lower == checksum and lower.contract == KITTY


@pytest.mark.parametrize(
    "contract",
    [
        # the eip155 CAIP-10 profile's "will not validate in EIP155-conformant systems"
        "0x0495766CD136138FC492DD499B8DC87A92D6685B",
        "0x" + KITTY[2:].upper(),
        KITTY[:-1] + "D",  # mixed case, one letter flipped: a failed EIP-55 checksum
        "0X" + KITTY[2:],
        KITTY[2:],
        KITTY + "00",
    ],
)
def test_contracts_that_fail_eip55_are_refused(contract: str) -> None:
    with pytest.raises(NftRefError):
        parse_nft_ref(f"eip155:137/erc721:{contract}/1")


def test_the_profile_checksum_example_is_accepted() -> None:
    ref = parse_nft_ref("eip155:137/erc1155:0x0495766cD136138Fc492Dd499B8DC87A92D6685b/1")
    assert ref.contract == "0x0495766cD136138Fc492Dd499B8DC87A92D6685b"


# --- token IDs: decimal uint256 -------------------------------------------------------------


def test_token_id_spans_uint256_in_78_digits() -> None:
    text = f"eip155:1/erc1155:{KITTY}/{MAX_TOKEN_ID}"
    assert len(str(MAX_TOKEN_ID)) == 78
    assert parse_nft_ref(text).token_id == 2**256 - 1
    with pytest.raises(NftRefError):
        parse_nft_ref(f"eip155:1/erc1155:{KITTY}/{MAX_TOKEN_ID + 1}")


@pytest.mark.parametrize("token", ["0x1", "1e3", "1.0", "+1", "-1", "007", "", "%31"])
def test_token_id_is_canonical_decimal(token: str) -> None:
    with pytest.raises(NftRefError):
        parse_nft_ref(f"eip155:1/erc721:{KITTY}/{token}")


# --- ERC-1155 {id} substitution -------------------------------------------------------------


def test_erc1155_id_substitution_matches_the_eip_example() -> None:
    """ERC-1155: "token ID 314592/0x4CCE0" → "…/000…0004cce0.json" (lowercase, 64 digits)."""
    uri = substitute_token_id("https://token-cdn-domain/{id}.json", 314592)
    assert uri == (
        "https://token-cdn-domain/"
        "000000000000000000000000000000000000000000000000000000000004cce0.json"
    )


def test_erc1155_id_substitution_is_every_occurrence_and_nothing_else() -> None:
    uri = substitute_token_id("ipfs://x/{id}/{ID}/{id}", 0xABCDEF)
    assert uri == f"ipfs://x/{0xABCDEF:064x}/{{ID}}/{0xABCDEF:064x}"
    assert substitute_token_id("https://a.example/{id}", MAX_TOKEN_ID).endswith("f" * 64)


# --- ENSIP-12 avatar URIs -------------------------------------------------------------------

BAYC_0 = "QmRRPWG96cmgTn2qSzjwr2qvfNEuhunv6FNeMFGa9bx6mQ"


def test_ensip12_examples_name_the_same_cid() -> None:
    native = classify_uri(f"ipfs://{BAYC_0}")
    gateway = classify_uri(f"https://ipfs.io/ipfs/{BAYC_0}")
    assert isinstance(native, IpfsUri) and isinstance(gateway, IpfsUri)
    assert native.cid == gateway.cid == BAYC_0
    assert gateway.gateway == "https://ipfs.io"


@pytest.mark.parametrize(
    "uri",
    [f"ipfs://ipfs/{BAYC_0}/a.png", f"IPFS://{BAYC_0}/a.png", f"ipfs://{BAYC_0}/a.png?x=1#y"],
)
def test_ipfs_spellings(uri: str) -> None:
    assert classify_uri(uri) == IpfsUri(cid=BAYC_0, path="/a.png")


def test_data_and_arweave_uris() -> None:
    assert classify_uri("data:image/svg+xml;base64,PHN2Zy8+") == DataUri(
        media_type="image/svg+xml", data=b"<svg/>"
    )
    tx = "a" * 43
    found = classify_uri(f"ar://{tx}/1.png")
    assert isinstance(found, ArweaveUri) and found.url == f"https://arweave.net/{tx}/1.png"


# --- over HTTP: the NFT avatar route applies the same rules ---------------------------------


@pytest.fixture
def client(storage_config: dict[str, str], dev_chain: DevChain) -> Iterator[TestClient]:
    settings = load_settings(
        **storage_config, **dev_chain.settings(), public_url="http://testserver"
    )
    with TestClient(create_app(settings)) as c:
        signup(c)
        yield c


@pytest.mark.parametrize(
    "ref",
    [
        "eip155:" + "1" * 33 + f"/erc721:{KITTY}/1",
        "eip155:31337/erc721:0x0495766CD136138FC492DD499B8DC87A92D6685B/1",
    ],
)
def test_route_refuses_what_caip_refuses(client: TestClient, ref: str) -> None:
    r = client.put("/api/v1/me/avatar/nft", json={"ref": ref})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_nft_ref"
