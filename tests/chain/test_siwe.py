"""EIP-4361 parsing and verification: spec example, strict grammar, every verify check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from hexavatar.chain import siwe
from hexavatar.chain.errors import ChainError, SiweError
from hexavatar.chain.siwe import (
    SiweMessage,
    build_message,
    generate_nonce,
    parse_message,
    verify_message,
)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
DOMAIN = "avatars.example.org"
ORIGIN = "https://avatars.example.org"

# The example message of EIP-4361 (with its statement and resources), byte for byte.
SPEC_EXAMPLE = (
    "service.invalid wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ServiceOrg Terms of Service: https://service.invalid/tos\n"
    "\n"
    "URI: https://service.invalid/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)

BASE = (
    "https://avatars.example.org wants you to sign in with your Ethereum account:\n"
    "{address}\n"
    "\n"
    "\n"
    "URI: https://avatars.example.org/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: abcdefgh12345678\n"
    "Issued At: 2026-11-26T11:59:00Z"
)


@pytest.fixture(scope="module")
def account() -> Any:
    return Account.create()


def _message(account: Any, **overrides: Any) -> SiweMessage:
    fields: dict[str, Any] = {
        "scheme": "https",
        "domain": DOMAIN,
        "address": account.address,
        "statement": "Link this wallet to your Hexavatar account.",
        "uri": ORIGIN + "/wallet/link",
        "chain_id": 1,
        "nonce": "Zx8Qm2Lr9Tp4Wv7Ks",
        "issued_at": NOW - timedelta(minutes=1),
        "expiration_time": NOW + timedelta(minutes=10),
    }
    fields.update(overrides)
    return build_message(**fields)


def _sign(account: Any, text: str) -> bytes:
    return bytes(account.sign_message(encode_defunct(text=text)).signature)


def _verify(text: str, signature: str | bytes, **overrides: Any) -> SiweMessage:
    options: dict[str, Any] = {
        "domain": DOMAIN,
        "uri_origin": ORIGIN,
        "chain_ids": {1, 31337},
        "now": NOW,
    }
    options.update(overrides)
    return verify_message(text, signature, **options)


# --- parsing --------------------------------------------------------------------------------


def test_spec_example_parses_and_renders_back() -> None:
    message = parse_message(SPEC_EXAMPLE)
    assert message.scheme is None
    assert message.domain == "service.invalid"
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == (
        "I accept the ServiceOrg Terms of Service: https://service.invalid/tos"
    )
    assert message.chain_id == 1
    assert message.nonce == "32891756"
    assert message.issued_at_datetime == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )
    assert message.to_text() == SPEC_EXAMPLE


def test_message_without_statement_has_two_blank_lines() -> None:
    text = BASE.format(address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
    message = parse_message(text)
    assert message.statement is None
    assert message.scheme == "https"
    assert message.to_text() == text


def test_all_optional_fields_in_order() -> None:
    text = (
        BASE.format(address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
        + "\nExpiration Time: 2026-11-26T12:10:00.123+01:00"
        + "\nNot Before: 2026-11-26T11:00:00z"
        + "\nRequest ID: req-1:@x"
        + "\nResources:"
    )
    message = parse_message(text)
    assert message.expiration_datetime == datetime(2026, 11, 26, 11, 10, 0, 123000, tzinfo=UTC)
    assert message.not_before == "2026-11-26T11:00:00z"
    assert message.request_id == "req-1:@x"
    assert message.resources == ()
    assert message.to_text() == text


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


GOOD = BASE.format(address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (GOOD.lower().replace("wants you", "wants you"), "siwe_malformed"),  # lowercased fields
        (
            _replace(
                GOOD,
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0x" + "c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
            ),
            "siwe_bad_address",
        ),
        (
            _replace(
                GOOD,
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xc02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            ),
            "siwe_bad_address",
        ),
        (
            _replace(
                GOOD,
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc",
            ),
            "siwe_bad_address",
        ),
        (GOOD + "\nColor: blue", "siwe_unknown_field"),
        (GOOD + "\n", "siwe_malformed"),
        (GOOD + "\r", "siwe_malformed"),
        (_replace(GOOD, "Version: 1\nChain ID: 1", "Chain ID: 1\nVersion: 1"), "siwe_field_order"),
        (_replace(GOOD, "Chain ID: 1\n", "Chain ID: 1\nChain ID: 1\n"), "siwe_duplicate_field"),
        (GOOD + "\nResources:\nResources:", "siwe_duplicate_field"),
        (GOOD + "\nResources:\nNot Before: 2026-11-26T11:00:00Z", "siwe_field_order"),
        (GOOD + "\n- https://example.com/", "siwe_unknown_field"),
        (_replace(GOOD, "Nonce: abcdefgh12345678\n", ""), "siwe_malformed"),
        (_replace(GOOD, "Nonce: abcdefgh12345678", "Nonce: abc123"), "siwe_malformed"),
        (_replace(GOOD, "Nonce: abcdefgh12345678", "Nonce: abcdefgh-2345678"), "siwe_malformed"),
        (_replace(GOOD, "Version: 1", "Version: 2"), "siwe_malformed"),
        (_replace(GOOD, "Chain ID: 1", "Chain ID: one"), "siwe_malformed"),
        (_replace(GOOD, "Chain ID: 1", "Chain ID:  1"), "siwe_malformed"),
        (_replace(GOOD, "Chain ID: 1", "Chain ID: \uff11"), "siwe_malformed"),
        (_replace(GOOD, "URI: https", "URI:https"), "siwe_unknown_field"),
        (_replace(GOOD, "URI: https://avatars.example.org/login", "URI: /login"), "siwe_malformed"),
        (_replace(GOOD, "/login", "/log in"), "siwe_malformed"),
        (_replace(GOOD, "/login", "/log%zzin"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "2026-11-26 11:59:00Z"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "2026-02-30T11:59:00Z"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "2026-11-26T11:59:60Z"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "2026-11-26T11:59:00"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "2026-11-26T11:59:00+24:00"), "siwe_malformed"),
        (_replace(GOOD, "2026-11-26T11:59:00Z", "9999-12-31T23:59:00-23:00"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\nURI"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\n\n\n\nURI"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\nHello\nURI"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\nHello\nworld\n\nURI"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\nHéllo\n\nURI"), "siwe_malformed"),
        (_replace(GOOD, "\n\n\nURI", "\n\n100% sure\n\nURI"), "siwe_malformed"),
        (_replace(GOOD, " wants you", "  wants you"), "siwe_malformed"),
        (_replace(GOOD, "https://avatars", "https:/avatars"), "siwe_malformed"),
        (
            _replace(
                GOOD, "https://avatars.example.org wants", "1https://avatars.example.org wants"
            ),
            "siwe_malformed",
        ),
        (
            _replace(GOOD, "https://avatars.example.org wants", "avatars.example.org:x wants"),
            "siwe_malformed",
        ),
        (_replace(GOOD, "https://avatars.example.org wants", "[::1 wants"), "siwe_malformed"),
        (_replace(GOOD, "https://avatars.example.org wants", " wants"), "siwe_malformed"),
        (_replace(GOOD, "Ethereum account:", "Ethereum account"), "siwe_malformed"),
        ("", "siwe_malformed"),
        ("x" * 70_000, "siwe_malformed"),
        (GOOD.replace("\n", "\r\n"), "siwe_malformed"),
        (GOOD + "\nRequest ID: a b", "siwe_malformed"),
        (GOOD + "\x00", "siwe_malformed"),
    ],
)
def test_malformed_messages_are_refused(text: str, code: str) -> None:
    with pytest.raises(SiweError) as info:
        parse_message(text)
    assert info.value.code == code, str(info.value)
    assert isinstance(info.value, ChainError)
    assert isinstance(info.value, ValueError)


def test_domain_with_port_userinfo_and_ipv6_literal() -> None:
    for domain in ("localhost:8080", "user:pw@example.org:1", "[2001:db8::1]:443", "[v1.x]"):
        text = GOOD.replace("https://avatars.example.org wants", f"{domain} wants")
        assert parse_message(text).domain == domain
        assert parse_message(text).to_text() == text


def test_error_message_quotes_and_truncates_untrusted_input() -> None:
    with pytest.raises(SiweError) as info:
        parse_message(GOOD + "\nX-" + "A" * 5000 + ": 1")
    assert len(str(info.value)) < 300
    assert "X-AAAA" in str(info.value)


def test_build_message_refuses_invalid_fields(account: Any) -> None:
    with pytest.raises(SiweError):
        _message(account, statement="two\nlines")
    with pytest.raises(SiweError):
        _message(account, address=account.address.lower())
    with pytest.raises(SiweError):
        _message(account, resources=["not a uri"])
    with pytest.raises(SiweError):
        _message(account, chain_id=-1)
    with pytest.raises(ValueError):
        _message(account, issued_at=datetime(2026, 1, 1))


def test_build_message_writes_utc_milliseconds(account: Any) -> None:
    moment = datetime(2026, 11, 26, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    message = _message(account, issued_at=moment)
    assert message.issued_at == "2026-11-26T12:00:00.123Z"


def test_generate_nonce_is_alphanumeric_and_long() -> None:
    nonces = {generate_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(len(n) == 17 and n.isascii() and n.isalnum() for n in nonces)
    assert len(generate_nonce(length=32)) == 32
    with pytest.raises(ValueError):
        generate_nonce(length=8)


def test_generate_nonce_uses_the_given_rng() -> None:
    class First:
        def choice(self, seq: str, /) -> str:
            return seq[0]

    assert generate_nonce(rng=First()) == "A" * 17


# --- verification ---------------------------------------------------------------------------


def test_valid_message_from_fresh_key_verifies(account: Any) -> None:
    text = _message(account).to_text()
    signature = _sign(account, text)
    message = _verify(text, signature)
    assert message.address == account.address
    assert message.nonce == "Zx8Qm2Lr9Tp4Wv7Ks"
    assert _verify(text, "0x" + signature.hex()).address == account.address
    assert _verify(text, signature.hex()).address == account.address


def test_all_recovery_id_spellings_verify(account: Any) -> None:
    seen: set[int] = set()
    for i in range(64):  # sign until both parities (v = 27 and v = 28) have come up
        text = _message(account, nonce=f"nonce{i:04d}xyz").to_text()
        signature = _sign(account, text)
        parity = signature[64] - 27
        for v in (parity, parity + 27):
            assert _verify(text, signature[:64] + bytes([v])).address == account.address
            seen.add(v)
        if seen == {0, 1, 27, 28}:
            break
    assert seen == {0, 1, 27, 28}


def test_other_parity_recovery_id_is_a_wrong_signer(account: Any) -> None:
    text = _message(account).to_text()
    signature = bytearray(_sign(account, text))
    signature[64] ^= 1  # 27 <-> 28
    with pytest.raises(SiweError) as info:
        _verify(text, bytes(signature))
    assert info.value.code in {"siwe_wrong_signer", "siwe_bad_signature"}


@pytest.mark.parametrize(
    ("overrides", "options", "code"),
    [
        ({"domain": "evil.example"}, {}, "siwe_bad_domain"),
        ({"domain": "avatars.example.org:444"}, {}, "siwe_bad_domain"),
        ({"scheme": "http"}, {}, "siwe_bad_scheme"),
        ({"uri": "https://evil.example/wallet/link"}, {}, "siwe_bad_uri"),
        ({"uri": "http://avatars.example.org/wallet/link"}, {}, "siwe_bad_uri"),
        ({"uri": "https://avatars.example.org:8443/wallet/link"}, {}, "siwe_bad_uri"),
        ({"uri": "https://avatars.example.org:99999/"}, {}, "siwe_bad_uri"),
        ({"uri": "urn:avatars.example.org"}, {}, "siwe_bad_uri"),
        ({"uri": "https://avatars.example.org@evil.example/"}, {}, "siwe_bad_uri"),
        ({"uri": "https://evil.example#@avatars.example.org"}, {}, "siwe_bad_uri"),
        ({"domain": "evil@avatars.example.org"}, {}, "siwe_bad_domain"),
        ({"chain_id": 5}, {}, "siwe_bad_chain"),
        ({"expiration_time": NOW - timedelta(minutes=2)}, {}, "siwe_expired"),
        ({"not_before": NOW + timedelta(minutes=2)}, {}, "siwe_not_yet_valid"),
        ({"issued_at": NOW + timedelta(minutes=2)}, {}, "siwe_issued_in_future"),
        ({}, {"domain": "other.example"}, "siwe_bad_domain"),
        ({}, {"chain_ids": {31337}}, "siwe_bad_chain"),
        ({}, {"now": NOW + timedelta(minutes=12)}, "siwe_expired"),
    ],
)
def test_verify_refuses(
    account: Any, overrides: dict[str, Any], options: dict[str, Any], code: str
) -> None:
    text = _message(account, **overrides).to_text()
    with pytest.raises(SiweError) as info:
        _verify(text, _sign(account, text), **options)
    assert info.value.code == code, str(info.value)


def test_time_checks_allow_the_skew(account: Any) -> None:
    text = _message(
        account,
        issued_at=NOW + timedelta(seconds=30),
        not_before=NOW + timedelta(seconds=30),
        expiration_time=NOW - timedelta(seconds=30),
    ).to_text()
    assert _verify(text, _sign(account, text)).address == account.address
    with pytest.raises(SiweError) as info:
        _verify(text, _sign(account, text), skew=timedelta(seconds=10))
    assert info.value.code == "siwe_issued_in_future"


def test_scheme_absent_means_https(account: Any) -> None:
    text = _message(account, scheme=None).to_text()
    assert _verify(text, _sign(account, text)).scheme is None
    with pytest.raises(SiweError) as info:
        _verify(text, _sign(account, text), scheme="http")
    assert info.value.code == "siwe_bad_scheme"


def test_domain_host_compare_ignores_case(account: Any) -> None:
    text = _message(account, domain="Avatars.Example.ORG").to_text()
    assert _verify(text, _sign(account, text)).domain == "Avatars.Example.ORG"


def test_naive_now_is_refused(account: Any) -> None:
    text = _message(account).to_text()
    with pytest.raises(ValueError, match="timezone-aware"):
        _verify(text, _sign(account, text), now=datetime(2026, 11, 26, 12, 0))


def test_signature_of_another_address_is_refused(account: Any) -> None:
    text = _message(account).to_text()
    other = Account.create()
    with pytest.raises(SiweError) as info:
        _verify(text, _sign(other, text))
    assert info.value.code == "siwe_wrong_signer"
    assert other.address in str(info.value)


def test_altered_text_is_refused(account: Any) -> None:
    text = _message(account).to_text()
    signature = _sign(account, text)
    altered = text.replace("Link this wallet", "Link this purse")
    with pytest.raises(SiweError) as info:
        _verify(altered, signature)
    assert info.value.code == "siwe_wrong_signer"


def test_high_s_signature_is_refused(account: Any) -> None:
    text = _message(account).to_text()
    signature = _sign(account, text)
    r, s, v = signature[:32], int.from_bytes(signature[32:64]), signature[64]
    malleable = r + (N - s).to_bytes(32) + bytes([55 - v])  # the same signer, the other s
    assert Account.recover_message(encode_defunct(text=text), signature=malleable) == (
        account.address
    )
    with pytest.raises(SiweError) as info:
        _verify(text, malleable)
    assert info.value.code == "siwe_bad_signature"
    assert "EIP-2" in str(info.value)


@pytest.mark.parametrize("v", [2, 26, 29, 35, 255])
def test_bad_v_is_refused(account: Any, v: int) -> None:
    text = _message(account).to_text()
    signature = _sign(account, text)
    with pytest.raises(SiweError) as info:
        _verify(text, signature[:64] + bytes([v]))
    assert info.value.code == "siwe_bad_signature"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda sig: sig[:64],
        lambda sig: sig + b"\x00",
        lambda sig: b"",
        lambda sig: bytes(32) + sig[32:],  # r = 0
        lambda sig: N.to_bytes(32) + sig[32:],  # r = n
        lambda sig: sig[:32] + bytes(32) + sig[64:],  # s = 0
    ],
)
def test_malformed_signatures_are_refused(account: Any, mangle: Any) -> None:
    text = _message(account).to_text()
    with pytest.raises(SiweError) as info:
        _verify(text, mangle(_sign(account, text)))
    assert info.value.code == "siwe_bad_signature"


@pytest.mark.parametrize("signature", ["0x12z4", "0x123", "not hex at all"])
def test_signature_text_must_be_hex(account: Any, signature: str) -> None:
    text = _message(account).to_text()
    with pytest.raises(SiweError) as info:
        _verify(text, signature)
    assert info.value.code == "siwe_bad_signature"


def test_r_not_on_curve_is_a_bad_signature(account: Any) -> None:
    text = _message(account).to_text()
    signature = _sign(account, text)
    # x = 5 has no point on secp256k1 (5**3 + 7 = 132 is not a square mod p).
    bad = (5).to_bytes(32) + signature[32:]
    with pytest.raises(SiweError) as info:
        _verify(text, bad)
    assert info.value.code in {"siwe_bad_signature", "siwe_wrong_signer"}


def test_eip191_hash_matches_eth_account(account: Any) -> None:
    from eth_account.messages import _hash_eip191_message

    text = _message(account).to_text()
    assert siwe.eip191_hash(text) == _hash_eip191_message(encode_defunct(text=text))
