"""Property tests for the EIP-4361 parser: round trips, canonical form, no crash on junk."""

from __future__ import annotations

from datetime import UTC, datetime

from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexavatar.chain.errors import SiweError
from hexavatar.chain.siwe import SiweMessage, parse_message

UNRESERVED = "ABCXYZabcxyz0189-._~"
SUB_DELIMS = "!$&'()*+,;="
PCT = st.sampled_from(["%20", "%2F", "%aF", "%00"])


def _chars(alphabet: str, *, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def _pct_text(alphabet: str, *, min_size: int = 0) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(list(alphabet)), PCT)
    return st.lists(pieces, min_size=min_size, max_size=10).map("".join)


schemes = st.from_regex(r"[A-Za-z][A-Za-z0-9+\-.]{0,6}", fullmatch=True)
hosts = st.one_of(
    _pct_text(UNRESERVED + SUB_DELIMS, min_size=1),
    st.sampled_from(["[::1]", "[2001:db8::8]", "[v7.a:b]", "127.0.0.1"]),
)
ports = st.one_of(st.none(), st.from_regex(r"[0-9]{0,5}", fullmatch=True))
userinfos = st.one_of(st.none(), _pct_text(UNRESERVED + SUB_DELIMS + ":"))


@st.composite
def authorities(draw: st.DrawFn) -> str:
    userinfo, host, port = draw(userinfos), draw(hosts), draw(ports)
    return (
        ("" if userinfo is None else userinfo + "@") + host + ("" if port is None else ":" + port)
    )


segments = _pct_text(UNRESERVED + SUB_DELIMS + ":@")


@st.composite
def uris(draw: st.DrawFn) -> str:
    scheme = draw(schemes)
    path = "/".join(draw(st.lists(segments, max_size=4)))
    kind = draw(st.sampled_from(["authority", "absolute", "rootless", "empty"]))
    if kind == "authority":
        hier = "//" + draw(authorities()) + ("/" + path if path else "")
    elif kind == "absolute":
        first = draw(_pct_text(UNRESERVED + ":@", min_size=1))
        hier = "/" + first + ("/" + path if path else "")
    elif kind == "rootless":
        hier = draw(_pct_text(UNRESERVED + "@", min_size=1)) + ("/" + path if path else "")
    else:
        hier = ""
    query = draw(st.one_of(st.none(), _pct_text(UNRESERVED + "/?:@")))
    fragment = draw(st.one_of(st.none(), _pct_text(UNRESERVED + "/?:@")))
    return (
        f"{scheme}:{hier}"
        + ("" if query is None else "?" + query)
        + ("" if fragment is None else "#" + fragment)
    )


addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
statements = st.text(UNRESERVED + SUB_DELIMS + ":/?#[]@ ", min_size=1, max_size=40)
nonces = st.from_regex(r"[A-Za-z0-9]{8,24}", fullmatch=True)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1)))
    text = moment.strftime("%Y-%m-%d") + draw(st.sampled_from("Tt")) + moment.strftime("%H:%M:%S")
    frac = draw(st.one_of(st.none(), st.from_regex(r"[0-9]{1,9}", fullmatch=True)))
    zone = draw(
        st.one_of(
            st.sampled_from(["Z", "z", "+00:00", "-00:00"]),
            st.from_regex(r"[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]", fullmatch=True),
        )
    )
    return text + ("" if frac is None else "." + frac) + zone


@st.composite
def messages(draw: st.DrawFn) -> SiweMessage:
    optional = st.one_of
    return SiweMessage(
        scheme=draw(optional(st.none(), schemes)),
        domain=draw(authorities().filter(lambda a: not a.split("@")[-1].startswith(":"))),
        address=draw(addresses),
        statement=draw(optional(st.none(), statements)),
        uri=draw(uris()),
        chain_id=draw(st.integers(min_value=0, max_value=2**256 - 1)),
        nonce=draw(nonces),
        issued_at=draw(timestamps()),
        expiration_time=draw(optional(st.none(), timestamps())),
        not_before=draw(optional(st.none(), timestamps())),
        request_id=draw(optional(st.none(), _pct_text(UNRESERVED + SUB_DELIMS + ":@"))),
        resources=draw(optional(st.none(), st.lists(uris(), max_size=3).map(tuple))),
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_round_trip(message: SiweMessage) -> None:
    text = message.to_text()
    assert not text.endswith("\n")
    parsed = parse_message(text)
    assert parsed == message
    assert parsed.to_text() == text
    assert parsed.issued_at_datetime.tzinfo is not None
    assert parsed.issued_at_datetime.astimezone(UTC).year >= 1969


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(messages()).to_text()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        i = draw(st.integers(min_value=0, max_value=len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = draw(st.sampled_from([*"\n :-/0aZ\r\x00é", "Chain ID: 1\n", "\n\n"]))
        if op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + ch + text[i + 1 :]
    return text


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_every_accepted_text_is_canonical(text: str) -> None:
    """Whatever the parser accepts, it renders back byte for byte: one text per message."""
    try:
        message = parse_message(text)
    except SiweError:
        return
    assert message.to_text() == text


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_junk_raises_only_siwe_errors(text: str) -> None:
    try:
        message = parse_message(text)
    except SiweError:
        return
    assert message.to_text() == text
