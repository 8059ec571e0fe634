"""The hand-written hot-path codecs of chain/tokens.py agree with the reference libraries."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from hexavatar.chain.tokens import _encode_aggregate3_owner_of, checksum_address

addresses = st.binary(min_size=20, max_size=20)
token_ids = st.integers(min_value=0, max_value=2**256 - 1)


@given(addresses)
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    assert checksum_address(raw) == to_checksum_address(raw)


@given(st.lists(st.tuples(addresses, token_ids), max_size=20))
def test_aggregate3_calldata_matches_eth_abi(calls: list[tuple[bytes, int]]) -> None:
    contracts = [to_checksum_address(a) for a, _ in calls]
    ids = [t for _, t in calls]
    owner_of = keccak(text="ownerOf(uint256)")[:4]
    expected = keccak(text="aggregate3((address,bool,bytes)[])")[:4] + encode(
        ["(address,bool,bytes)[]"],
        [
            [
                (c, True, owner_of + encode(["uint256"], [t]))
                for c, t in zip(contracts, ids, strict=True)
            ]
        ],
    )
    assert _encode_aggregate3_owner_of(contracts, ids) == expected


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=100)), max_size=20))
def test_aggregate3_results_decode_like_eth_abi(results: list[tuple[bool, bytes]]) -> None:
    from hexavatar.chain.tokens import _decode_aggregate3_results

    raw = encode(["(bool,bytes)[]"], [results])
    assert _decode_aggregate3_results(raw) == results


@given(st.binary(max_size=400))
def test_aggregate3_garbage_is_a_malformed_response_or_decodes(raw: bytes) -> None:
    from hexavatar.chain.errors import MalformedResponse
    from hexavatar.chain.tokens import _decode_aggregate3_results

    try:
        decoded = _decode_aggregate3_results(raw)
    except MalformedResponse:
        return
    assert all(isinstance(ok, bool) and isinstance(data, bytes) for ok, data in decoded)
