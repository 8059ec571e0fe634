"""EIP-4361 conformance: the ABNF read exactly, and vectors from independent implementations.

Independent clients built on the EIP will sign in against the service, so this file pins what
the spec says rather than what the parser happens to do:

* ``data/siwe_spruceid_parsing.json`` and ``data/siwe_spruceid_verification.json`` are the
  parsing and verification vectors of spruceid/siwe, the reference TypeScript implementation
  (file paths and commits in each file's ``_origin``), copied verbatim. Two cases of one
  revision's negative file conform to the ABNF; they are listed there under ``valid_per_abnf``
  and must be accepted.
* ``INVALID_PARSE_SIWE`` are the invalid messages of ldthomas/parse-siwe (the parser behind
  the reference implementation's ABNF parser), ``__tests__/invalid-messages.js`` at commit
  f9f80c6f00b3dddb896bb13e5d15958ceb2bb72f.
* The rest follows single rules of the EIP: ``[ statement LF ]`` with ``statement =
  *( reserved / unreserved / " " )`` (so a statement may be empty, which is three empty lines,
  not two), ``chain-id = 1*DIGIT`` (leading zeros are grammatical), and "If the port is not
  specified, the default port for the provided scheme is assumed" for ``domain``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.chain.errors import SiweError, SiweMalformedError
from hexavatar.chain.siwe import SiweMessage, build_message, parse_message, verify_message
from hexavatar.config import Settings, load_settings
from tests.conftest import DevChain
from tests.support.keys import dev_key
from tests.web.conftest import signup

DATA = Path(__file__).parent / "data"
PARSING = json.loads((DATA / "siwe_spruceid_parsing.json").read_text())
VERIFICATION = json.loads((DATA / "siwe_spruceid_verification.json").read_text())
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
FIELDS = (
    "URI: https://example.com/login\nVersion: 1\nChain ID: 1\nNonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z"
)


def _text(head: str = "example.com", *, gap: str = "\n\n\n", fields: str = FIELDS) -> str:
    """``head`` wants you…, the address, ``gap`` (which holds any statement), the fields."""
    return f"{head} wants you to sign in with your Ethereum account:\n{ADDRESS}{gap}{fields}"


def _sign(account: Any, text: str) -> bytes:
    return bytes(account.sign_message(encode_defunct(text=text)).signature)


@pytest.fixture(scope="module")
def account() -> Any:
    return Account.create()


# --- the EIP's own examples -----------------------------------------------------------------

EIP_EXAMPLE_TAIL = (
    "\n\nI accept the ExampleOrg Terms of Service: https://example.com/tos\n\n"
    "URI: https://example.com/login\nVersion: 1\nChain ID: 1\nNonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\nResources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)


@pytest.mark.parametrize(
    ("head", "scheme", "domain"),
    [
        ("example.com", None, "example.com"),
        ("example.com:3388", None, "example.com:3388"),
        ("https://example.com", "https", "example.com"),
    ],
)
def test_the_eip_examples_parse(head: str, scheme: str | None, domain: str) -> None:
    """The three examples of EIP-4361: implicit scheme, explicit port, explicit scheme."""
    text = head + " wants you to sign in with your Ethereum account:\n" + ADDRESS + EIP_EXAMPLE_TAIL
    message = parse_message(text)
    assert (message.scheme, message.domain) == (scheme, domain)
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.resources is not None and len(message.resources) == 2
    assert message.to_text() == text


# --- spruceid/siwe parsing vectors ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARSING["positive"]))
def test_spruceid_positive_parsing_vectors(name: str) -> None:
    case = PARSING["positive"][name]
    message = parse_message(case["message"])
    fields = case["fields"]
    assert message.domain == fields["domain"]
    assert message.address == fields["address"]
    assert message.statement == fields.get("statement")
    assert message.uri == fields["uri"]
    assert message.version == fields["version"]
    assert message.chain_id == int(fields["chainId"])
    assert message.nonce == fields["nonce"]
    assert message.issued_at == fields["issuedAt"]
    assert message.resources == (None if "resources" not in fields else tuple(fields["resources"]))
    assert message.to_text() == case["message"]


NEGATIVE = [("negative", name) for name in sorted(PARSING["negative"])] + [
    ("negative_extended", name)
    for name in sorted(PARSING["negative_extended"])
    if name not in PARSING["valid_per_abnf"]
]


@pytest.mark.parametrize(("group", "name"), NEGATIVE)
def test_spruceid_negative_parsing_vectors(group: str, name: str) -> None:
    with pytest.raises(SiweMalformedError):
        parse_message(PARSING[group][name])


@pytest.mark.parametrize("name", sorted(PARSING["valid_per_abnf"]))
def test_spruceid_vectors_that_conform_to_the_abnf_are_accepted(name: str) -> None:
    """A revision of the reference suite lists these as negative, but every field conforms
    (see ``valid_per_abnf`` in the data file for why); refusing them would refuse valid
    messages of real clients."""
    text = PARSING["negative_extended"][name]
    assert parse_message(text).to_text() == text


# --- ldthomas/parse-siwe invalid messages ---------------------------------------------------


def _ldthomas(head: str, gap: str, fields: str) -> str:
    address = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    return f"{head} wants you to sign in with your Ethereum account:\n{address}{gap}{fields}"


_LD_FIELDS = (
    "URI: https://example.com/login\nVersion: 1\nChain ID: 2\nNonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z"
)
INVALID_PARSE_SIWE = {
    "invalid scheme": _ldthomas("https$$://example.com:80", "\n\nValid statement\n\n", _LD_FIELDS),
    "invalid domain": _ldthomas("example.com<80", "\n\nValid statement\n\n", _LD_FIELDS),
    "invalid address (not 42 characters)": _ldthomas(
        "https://example.com:80", "\n\nValid statement\n\n", _LD_FIELDS
    ).replace(ADDRESS, ADDRESS[:-2]),
    "invalid ERC-55 address": _ldthomas(
        "https://example.com:80", "\n\nValid statement\n\n", _LD_FIELDS
    ).replace(ADDRESS, ADDRESS[:-2] + "C2"),
    'invalid statement: " characters not allowed': _ldthomas(
        "example.com:80", '\n\ninvalid "statement"\n\n', _LD_FIELDS
    ),
    "invalid URI": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS.replace("https://example.com", "example.com")
    ),
    "invalid version": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS.replace("Version: 1", "Version: 2")
    ),
    "invalid Chain ID": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS.replace("Chain ID: 2", "Chain ID: 1FF")
    ),
    "invalid Nonce": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS.replace("32891756", "<32891756>")
    ),
    "invalid Issued At": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS.replace("30T16", "30-16")
    ),
    "invalid Expiration Time": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS + "\nExpiration Time: 2021-13-30T16:25:24Z"
    ),
    "invalid Not Before": _ldthomas(
        "example.com:80",
        "\n\n\n",
        _LD_FIELDS + "\nExpiration Time: 2021-09-30T16:25:24Z\nNot Before: 2021-09-33T16:25:24Z",
    ),
    "invalid Request ID: bad pchar #": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS + "\nRequest ID: anybut#"
    ),
    "invalid resource URI": _ldthomas(
        "example.com:80", "\n\n\n", _LD_FIELDS + "\nResources:\n- example.com"
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_PARSE_SIWE))
def test_parse_siwe_invalid_messages(name: str) -> None:
    with pytest.raises(SiweMalformedError):
        parse_message(INVALID_PARSE_SIWE[name])


def test_parse_siwe_invalid_messages_differ_from_a_valid_one_in_one_place() -> None:
    """The invalid cases above are built by editing a valid message; that message parses, so
    each refusal is about the one edited field."""
    valid = _ldthomas("example.com:80", "\n\nValid statement\n\n", _LD_FIELDS)
    assert parse_message(valid).chain_id == 2
    assert parse_message(_ldthomas("https://example.com:80", "\n\n\n", _LD_FIELDS)).scheme == (
        "https"
    )


# --- statement: absent, empty, present ------------------------------------------------------


def test_empty_statement_is_three_empty_lines() -> None:
    """``address LF LF [ statement LF ] LF`` with ``statement = *( … )``: an empty statement
    is grammatical and distinct from an absent one (ldthomas/parse-siwe writes and reads it
    this way: "these optional items can be empty as well as missing or present")."""
    absent, empty = _text(gap="\n\n\n"), _text(gap="\n\n\n\n")
    assert parse_message(absent).statement is None
    assert parse_message(empty).statement == ""
    assert parse_message(empty).to_text() == empty
    assert parse_message(absent) != parse_message(empty)


def test_built_empty_statement_renders_three_empty_lines() -> None:
    message = build_message(
        domain="example.com",
        address=ADDRESS,
        statement="",
        uri="https://example.com/login",
        chain_id=1,
        nonce="32891756",
        issued_at="2021-09-30T16:25:24Z",
    )
    assert message.to_text() == _text(gap="\n\n\n\n")


@pytest.mark.parametrize("gap", ["\n\n", "\n\n\n\n\n", "\n\nHello\n\n\n", "\n\n\nHello\n\n"])
def test_other_blank_line_counts_are_refused(gap: str) -> None:
    with pytest.raises(SiweMalformedError):
        parse_message(_text(gap=gap))


def test_statement_is_reserved_unreserved_and_space_only() -> None:
    every = "AZaz09-._~:/?#[]@!$&'()*+,;= "
    assert parse_message(_text(gap=f"\n\n{every}\n\n")).statement == every
    for bad in ('"quoted"', "100% sure", "tab\there", "caf\u00e9"):
        with pytest.raises(SiweMalformedError):
            parse_message(_text(gap=f"\n\n{bad}\n\n"))


def test_empty_request_id_and_empty_resources_are_grammatical() -> None:
    """``request-id = *pchar`` and ``resources = *( LF resource )`` may both be empty."""
    text = _text(fields=FIELDS + "\nRequest ID: \nResources:")
    message = parse_message(text)
    assert (message.request_id, message.resources) == ("", ())
    assert message.to_text() == text


# --- chain-id = 1*DIGIT ---------------------------------------------------------------------


def test_chain_id_with_leading_zeros_is_grammatical_and_kept() -> None:
    text = _text(fields=FIELDS.replace("Chain ID: 1", "Chain ID: 0001"))
    message = parse_message(text)
    assert message.chain_id == 1
    assert message.to_text() == text  # the signed bytes, not a re-spelling
    assert message == parse_message(_text())  # the same chain as "Chain ID: 1"


@pytest.mark.parametrize("chain", ["", "-1", "1.0", "0x1", "1 ", str(2**256)])
def test_chain_id_that_is_not_a_uint256_in_digits_is_refused(chain: str) -> None:
    with pytest.raises(SiweMalformedError):
        parse_message(_text(fields=FIELDS.replace("Chain ID: 1", f"Chain ID: {chain}")))


def test_chain_id_digits_must_spell_the_chain_id() -> None:
    with pytest.raises(SiweMalformedError):
        SiweMessage(
            domain="example.com",
            address=ADDRESS,
            uri="https://example.com/login",
            chain_id=2,
            chain_id_digits="01",
            nonce="32891756",
            issued_at="2021-09-30T16:25:24Z",
        )


def test_signed_message_with_leading_zero_chain_id_verifies(account: Any) -> None:
    text = (
        build_message(
            scheme="https",
            domain="avatars.example.org",
            address=account.address,
            uri="https://avatars.example.org/login",
            chain_id=1,
            nonce="Zx8Qm2Lr9Tp4Wv7Ks",
            issued_at=NOW,
        )
        .to_text()
        .replace("Chain ID: 1\n", "Chain ID: 01\n")
    )
    message = _verify(text, _sign(account, text))
    assert message.chain_id == 1


# --- the origin: https and the default port are assumed -------------------------------------


def _verify(text: str, signature: bytes, **options: Any) -> SiweMessage:
    checks: dict[str, Any] = {
        "domain": "avatars.example.org",
        "scheme": "https",
        "uri_origin": "https://avatars.example.org",
        "chain_ids": {1},
        "now": NOW,
    }
    checks.update(options)
    return verify_message(text, signature, **checks)


def _origin_message(account: Any, *, scheme: str | None, domain: str) -> str:
    return build_message(
        scheme=scheme,
        domain=domain,
        address=account.address,
        uri="https://avatars.example.org/login",
        chain_id=1,
        nonce="Zx8Qm2Lr9Tp4Wv7Ks",
        issued_at=NOW,
    ).to_text()


@pytest.mark.parametrize(
    ("scheme", "domain"),
    [
        ("https", "avatars.example.org:443"),
        (None, "avatars.example.org:443"),
        ("https", "avatars.example.org:0443"),
        ("https", "avatars.example.org:"),
        ("HTTPS", "AVATARS.example.org"),
    ],
)
def test_domain_with_the_default_port_is_this_origin(
    account: Any, scheme: str | None, domain: str
) -> None:
    """EIP-4361 on ``domain``: "If the port is not specified, the default port for the
    provided scheme is assumed (e.g., 443 for HTTPS). If scheme is not specified, HTTPS is
    assumed by default." So these all name https://avatars.example.org."""
    text = _origin_message(account, scheme=scheme, domain=domain)
    assert _verify(text, _sign(account, text)).domain == domain


def test_configured_default_port_matches_a_domain_without_one(account: Any) -> None:
    text = _origin_message(account, scheme="https", domain="avatars.example.org")
    message = _verify(text, _sign(account, text), domain="avatars.example.org:443")
    assert message.domain == "avatars.example.org"
    text = _origin_message(account, scheme="http", domain="avatars.example.org:80")
    assert _verify(text, _sign(account, text), scheme="http").scheme == "http"


@pytest.mark.parametrize(
    ("scheme", "domain", "code"),
    [
        ("https", "avatars.example.org:80", "siwe_bad_domain"),
        ("https", "avatars.example.org:8443", "siwe_bad_domain"),
        (None, "avatars.example.org:4430", "siwe_bad_domain"),
        ("https", "avatars.example.org:" + "4" * 6000, "siwe_bad_domain"),
        ("http", "avatars.example.org:443", "siwe_bad_scheme"),
        ("http", "avatars.example.org", "siwe_bad_scheme"),
    ],
)
def test_other_ports_and_schemes_are_other_origins(
    account: Any, scheme: str | None, domain: str, code: str
) -> None:
    text = _origin_message(account, scheme=scheme, domain=domain)
    with pytest.raises(SiweError) as info:
        _verify(text, _sign(account, text))
    assert info.value.code == code, str(info.value)


# --- spruceid/siwe verification vectors -----------------------------------------------------


def _vector_message(case: dict[str, Any]) -> SiweMessage:
    return SiweMessage(
        domain=case["domain"],
        address=case["address"],
        statement=case.get("statement"),
        uri=case["uri"],
        version=case["version"],
        chain_id=case["chainId"],
        nonce=case["nonce"],
        issued_at=case["issuedAt"],
        expiration_time=case.get("expirationTime"),
        not_before=case.get("notBefore"),
    )


def _verify_vector(case: dict[str, Any], *, now: datetime = NOW) -> SiweMessage:
    text = _vector_message(case).to_text()
    return verify_message(
        text,
        case["signature"],
        domain=case.get("domainBinding", case["domain"]),
        uri_origin=case["uri"],
        chain_ids={case["chainId"]},
        now=datetime.fromisoformat(case["time"]) if "time" in case else now,
    )


@pytest.mark.parametrize(
    "name",
    ["example message", "not yet valid", "recovery byte starting at 0 tally_example"],
)
def test_spruceid_positive_verification_vectors(name: str) -> None:
    """Signatures made by real wallets over the reference implementation's rendering: the
    text we render from the same fields must be the text they signed (EIP-191)."""
    case = VERIFICATION["positive"][name]
    assert _verify_vector(case).address == case["address"]


def test_spruceid_expired_vector_meets_our_issued_at_check() -> None:
    """The vector verifies at 2020-01-05, before its own Issued At (2022-01-05, itself after
    its Expiration Time); the reference implementation does not look at Issued At, this
    service refuses a message issued in the future (the EIP leaves that check to the relying
    party). The rendering and signature are still the wallet's: EIP-191 recovers the address."""
    case = VERIFICATION["positive"]["expired message"]
    with pytest.raises(SiweError) as info:
        _verify_vector(case)
    assert info.value.code == "siwe_issued_in_future"
    text = _vector_message(case).to_text()
    signer = Account.recover_message(encode_defunct(text=text), signature=case["signature"])
    assert signer == case["address"]


_NEGATIVE_CODES = {
    "expired message": {"siwe_expired"},
    "domain binding": {"siwe_bad_domain"},
    "custom time": {"siwe_expired"},
    "malformed signature": {"siwe_bad_signature"},
    "wrong signature": {"siwe_wrong_signer", "siwe_bad_signature"},
    "not yet valid": {"siwe_not_yet_valid"},
}


@pytest.mark.parametrize("name", sorted(_NEGATIVE_CODES))
def test_spruceid_negative_verification_vectors(name: str) -> None:
    case = VERIFICATION["negative"][name]
    with pytest.raises(SiweError) as info:
        _verify_vector(case, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert info.value.code in _NEGATIVE_CODES[name], str(info.value)


def test_spruceid_custom_nonce_vector_leaves_the_nonce_to_the_caller() -> None:
    """The nonce is bound by the caller (services/wallets.py consumes it in one UPDATE, see
    tests/web/test_wallets.py); ``verify_message`` returns the signed nonce to compare."""
    case = VERIFICATION["negative"]["custom nonce"]
    message = _verify_vector(case)
    assert message.nonce == case["nonce"] != case["matchNonce"]


# --- over HTTP: the wallet link route accepts every valid spelling --------------------------

KEY = dev_key(5)


@pytest.fixture
def client(storage_config: dict[str, str], dev_chain: DevChain) -> Iterator[TestClient]:
    settings: Settings = load_settings(
        **storage_config, **dev_chain.settings(), public_url="http://testserver"
    )
    with TestClient(create_app(settings)) as c:
        signup(c)
        yield c


def test_wallet_link_accepts_empty_statement_default_port_and_leading_zeros(
    client: TestClient,
) -> None:
    """A client that writes an empty statement, the scheme's default port and a zero-padded
    chain ID sends a valid EIP-4361 message; the link route takes it."""
    info = client.get("/api/v1/auth/siwe/nonce").json()
    text = (
        build_message(
            scheme="http",
            domain=info["domain"] + ":80",
            address=Account.from_key(KEY).address,
            statement="",
            uri=info["uri"] + "/settings/wallets",
            chain_id=31337,
            nonce=info["nonce"],
            issued_at=datetime.now(UTC) - timedelta(seconds=5),
        )
        .to_text()
        .replace("Chain ID: 31337", "Chain ID: 031337")
    )
    assert "\n\n\n\nURI: " in text
    signature = "0x" + Account.sign_message(encode_defunct(text=text), KEY).signature.hex()
    r = client.post("/api/v1/me/wallets", json={"message": text, "signature": signature})
    assert r.status_code == 201, r.text
    assert r.json()["address"] == Account.from_key(KEY).address
    assert r.json()["chain_id"] == 31337
