"""NFT references (CAIP-22/29 as in ENSIP-12): strict parsing and round trips."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from hexavatar.resolve.errors import NftRefError, ResolveError
from hexavatar.resolve.refs import MAX_CHAIN_ID, MAX_TOKEN_ID, NftRef, parse_nft_ref

ENSIP12_EXAMPLE = "eip155:1/erc721:0xb7F7F6C52F2e2fdb1963Eab30438024864c313F6/2430"
CONTRACT = "0xb7F7F6C52F2e2fdb1963Eab30438024864c313F6"


def test_ensip12_example() -> None:
    ref = parse_nft_ref(ENSIP12_EXAMPLE)
    assert ref == NftRef(chain_id=1, contract=CONTRACT, token_id=2430, standard="erc721")  # type: ignore[arg-type]
    assert ref.caip() == ENSIP12_EXAMPLE


def test_erc1155_and_lowercase_contract_is_checksummed() -> None:
    ref = parse_nft_ref(
        "eip155:31337/erc1155:0x495f947276749ce646f68ac8c248420045cb7b5e/"
        "8112316025873927737505937898915153732580103913704334048512380490797008551937"
    )
    assert ref.standard == "erc1155"
    assert ref.contract == "0x495f947276749Ce646f68AC8c248420045cb7b5e"
    assert ref.chain_id == 31337
    assert ref.caip().startswith("eip155:31337/erc1155:0x495f947276749Ce646f68AC8c248420045cb7b5e/")


def test_from_parts() -> None:
    ref = NftRef.from_parts(chain_id=1, contract=CONTRACT.lower(), token_id=0)
    assert ref.contract == CONTRACT
    assert ref.standard is None
    with pytest.raises(NftRefError):
        ref.caip()
    assert NftRef.from_parts(chain_id=1, contract=CONTRACT, token_id=7, standard="erc721").caip()
    with pytest.raises(NftRefError):
        NftRef(chain_id=1, contract=CONTRACT.lower(), token_id=1)  # type: ignore[arg-type]
    with pytest.raises(NftRefError):
        NftRef.from_parts(chain_id=0, contract=CONTRACT, token_id=1)
    with pytest.raises(NftRefError):
        NftRef.from_parts(chain_id=1, contract=CONTRACT, token_id=-1)
    with pytest.raises(NftRefError):
        NftRef.from_parts(chain_id=1, contract=CONTRACT, token_id=MAX_TOKEN_ID + 1)
    with pytest.raises(NftRefError):
        NftRef.from_parts(chain_id=1, contract=CONTRACT, token_id=1, standard="erc20")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        ENSIP12_EXAMPLE + " ",
        " " + ENSIP12_EXAMPLE,
        ENSIP12_EXAMPLE + "/",
        ENSIP12_EXAMPLE + "\n",
        ENSIP12_EXAMPLE.replace("/2430", "/02430"),
        ENSIP12_EXAMPLE.replace("/2430", "/0x97e"),
        ENSIP12_EXAMPLE.replace("/2430", "/-1"),
        ENSIP12_EXAMPLE.replace("/2430", "/"),
        ENSIP12_EXAMPLE.replace("/2430", "/2430.0"),
        ENSIP12_EXAMPLE.replace("/2430", "/\uff12\uff14"),  # fullwidth digits
        ENSIP12_EXAMPLE.replace("/2430", "/" + str(2**256)),
        ENSIP12_EXAMPLE.replace("/2430", "/" + "9" * 5000),
        ENSIP12_EXAMPLE.replace("eip155:1/", "eip155:01/"),
        ENSIP12_EXAMPLE.replace("eip155:1/", "eip155:0/"),
        ENSIP12_EXAMPLE.replace("eip155:1/", "eip155:/"),
        ENSIP12_EXAMPLE.replace("eip155:", "EIP155:"),
        ENSIP12_EXAMPLE.replace("eip155:", "cosmos:"),
        ENSIP12_EXAMPLE.replace("erc721", "ERC721"),
        ENSIP12_EXAMPLE.replace("erc721", "erc20"),
        ENSIP12_EXAMPLE.replace("0xb7F7", "0xB7F7"),  # mixed case, wrong checksum
        ENSIP12_EXAMPLE.replace("0xb7F7", "0xb7F"),
        ENSIP12_EXAMPLE.replace("0xb7F7", "b7F7"),
        ENSIP12_EXAMPLE.replace("0xb7F7", "0xg7F7"),
        ENSIP12_EXAMPLE.replace("/erc721:", "/erc721:/"),
        "eip155:1/erc721:0x" + "0" * 40,  # no token
        "eip155:1/erc721:0x" + "a\x00" * 20 + "/1",
        "x" * 100_000,
    ],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(NftRefError) as info:
        parse_nft_ref(text)
    assert info.value.code == "bad_nft_ref"
    assert isinstance(info.value, ValueError) and isinstance(info.value, ResolveError)
    assert len(str(info.value)) < 300


def test_all_upper_contract_is_refused() -> None:
    """The eip155 CAIP-10 profile: an all-uppercase address does not validate (see
    tests/resolve/test_refs_spec.py)."""
    upper = "0x" + CONTRACT[2:].upper()
    with pytest.raises(NftRefError):
        parse_nft_ref(ENSIP12_EXAMPLE.replace(CONTRACT, upper))


@given(
    chain_id=st.integers(min_value=1, max_value=MAX_CHAIN_ID),
    contract=st.binary(min_size=20, max_size=20),
    token_id=st.integers(min_value=0, max_value=MAX_TOKEN_ID),
    standard=st.sampled_from(["erc721", "erc1155"]),
    case=st.sampled_from(["lower", "checksum"]),
)
def test_round_trip(
    chain_id: int, contract: bytes, token_id: int, standard: str, case: str
) -> None:
    checksummed = to_checksum_address(contract)
    spelled = {
        "lower": checksummed.lower(),
        "checksum": checksummed,
    }[case]
    text = f"eip155:{chain_id}/{standard}:{spelled}/{token_id}"
    ref = parse_nft_ref(text)
    assert (ref.chain_id, ref.contract, ref.token_id, ref.standard) == (
        chain_id,
        checksummed,
        token_id,
        standard,
    )
    assert parse_nft_ref(ref.caip()) == ref


@given(st.text(max_size=200))
def test_junk_raises_only_nft_ref_errors(text: str) -> None:
    try:
        ref = parse_nft_ref(text)
    except NftRefError:
        return
    assert parse_nft_ref(ref.caip()) == ref
