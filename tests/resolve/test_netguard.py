"""The outbound address policy: every special-purpose range refused, IPv4 inside IPv6 decoded."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexavatar.resolve.netguard import (
    IPV4_SPECIAL_RANGES,
    IPV6_SPECIAL_RANGES,
    IPAddress,
    SpecialRange,
    blocked_reason,
    embedded_ipv4,
    is_public_ip,
    parse_ip,
)

BLOCKED = [
    # IPv4
    "0.0.0.0",
    "0.255.255.255",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.255",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.0",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "250.1.2.3",
    "255.255.255.255",
    # IPv6
    "::",
    "::1",
    "::127.0.0.1",
    "::10.0.0.1",
    "::8.8.8.8",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::0a00:1",
    "64:ff9b:1::1",
    "64:ff9b:1:808:8:808::",
    "100::1",
    "100:0:0:1::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:1::1",
    "2001:2::1",
    "2001:3::1",
    "2001:20::1",
    "2001:db8::1",
    "2001:db8:ffff::1",
    "2002:7f00:1::",
    "2002:a00:1::1",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "febf::1",
    "fec0::1",
    "feff::1",
    "ff02::1",
    "ff05::1:3",
    "::ffff:0:808:808",
    "1::1",
    "1000::1",
    "4000::1",
    "8000::1",
    "e000::1",
    "64:ff9a::1",
    "2002::",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "9.9.9.9",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "192.31.196.1",
    "192.169.0.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "2620:4f:8000::1",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:200::1",
]


@pytest.mark.parametrize("text", BLOCKED)
def test_blocked(text: str) -> None:
    addr = parse_ip(text)
    assert not is_public_ip(addr)
    reason = blocked_reason(addr)
    assert reason is not None and str(addr) in reason


@pytest.mark.parametrize("text", PUBLIC)
def test_public(text: str) -> None:
    assert is_public_ip(parse_ip(text)), blocked_reason(parse_ip(text))


@pytest.mark.parametrize("text", ["::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "fec0::1"])
def test_cpython_311_is_global_traps_are_blocked(text: str) -> None:
    assert not is_public_ip(ip_address(text))


def test_reasons_name_the_embedded_address() -> None:
    assert "127.0.0.1" in (blocked_reason(ip_address("::ffff:7f00:1")) or "")
    assert "loopback" in (blocked_reason(ip_address("64:ff9b::7f00:1")) or "")
    assert "6to4" in (blocked_reason(ip_address("2002:a9fe:a9fe::")) or "")
    assert "169.254.169.254" in (blocked_reason(ip_address("2002:a9fe:a9fe::")) or "")


def test_zone_ids_do_not_change_policy() -> None:
    assert not is_public_ip(parse_ip("fe80::1%eth0"))
    assert not is_public_ip(ip_address("fe80::1%1"))
    assert is_public_ip(ip_address("2001:4860:4860::8888%3"))


def test_embedded_ipv4_decoding() -> None:
    def v4(text: str) -> tuple[tuple[str, IPv4Address], ...]:
        return embedded_ipv4(IPv6Address(text))

    assert v4("::ffff:1.2.3.4") == (("IPv4-mapped", IPv4Address("1.2.3.4")),)
    assert v4("::1.2.3.4") == (("IPv4-compatible", IPv4Address("1.2.3.4")),)
    assert v4("64:ff9b::1.2.3.4") == (("NAT64", IPv4Address("1.2.3.4")),)
    assert v4("2002:102:304::5") == (("6to4", IPv4Address("1.2.3.4")),)
    # RFC 6052 PL=48: 192.0.2.33 -> 64:ff9b:1:c000:2:2100::
    assert v4("64:ff9b:1:c000:2:2100::")[0] == ("NAT64 local-use /48", IPv4Address("192.0.2.33"))
    # RFC 4380 example: server 65.54.227.120, client 192.0.2.45.
    teredo = v4("2001:0000:4136:e378:8000:63bf:3fff:fdd2")
    assert teredo == (
        ("Teredo server", IPv4Address("65.54.227.120")),
        ("Teredo client", IPv4Address("192.0.2.45")),
    )
    assert v4("2606:4700::1") == ()
    assert v4("::1") == ()


# --- properties -----------------------------------------------------------------------------

v4_addresses = st.integers(min_value=0, max_value=2**32 - 1).map(IPv4Address)
v6_addresses = st.integers(min_value=0, max_value=2**128 - 1).map(IPv6Address)


@st.composite
def inside(draw: st.DrawFn, ranges: tuple[SpecialRange, ...]) -> IPAddress:
    special = draw(st.sampled_from(ranges))
    network = special.network
    offset = draw(st.integers(min_value=0, max_value=network.num_addresses - 1))
    return network.network_address + offset


@pytest.mark.parametrize(
    "special", IPV4_SPECIAL_RANGES + IPV6_SPECIAL_RANGES, ids=lambda r: str(r.network)
)
@settings(max_examples=200)
@given(data=st.data())
def test_any_address_in_each_special_range_is_refused(
    special: SpecialRange, data: st.DataObject
) -> None:
    addr = data.draw(inside((special,)))
    assert not is_public_ip(addr)
    if isinstance(addr, IPv4Address):  # and the same address written as IPv4-mapped IPv6
        assert not is_public_ip(IPv6Address((0xFFFF << 32) | int(addr)))


@settings(max_examples=1000)
@given(v4_addresses)
def test_ipv4_in_every_wrapper_gets_the_same_answer(addr: IPv4Address) -> None:
    n = int(addr)
    mapped = IPv6Address((0xFFFF << 32) | n)
    nat64 = IPv6Address((0x64FF9B << 96) | n)
    six_to_four = IPv6Address((0x2002 << 112) | (n << 80) | 1)
    assert is_public_ip(mapped) == is_public_ip(addr)
    assert is_public_ip(nat64) == is_public_ip(addr)
    assert is_public_ip(six_to_four) == is_public_ip(addr)


@settings(max_examples=1000)
@given(v4_addresses)
def test_ipv4_never_looser_than_cpython(addr: IPv4Address) -> None:
    if is_public_ip(addr):
        assert addr.is_global and not addr.is_multicast


@settings(max_examples=3000)
@given(st.one_of(v6_addresses, inside(IPV6_SPECIAL_RANGES)))
def test_ipv6_never_looser_than_cpython(addr: IPv6Address) -> None:
    if is_public_ip(addr) and embedded_ipv4(addr) == ():
        assert addr.is_global and not addr.is_multicast


@settings(max_examples=1000)
@given(v6_addresses)
def test_public_ipv6_is_global_unicast_or_carries_public_ipv4(addr: IPv6Address) -> None:
    if is_public_ip(addr):
        assert int(addr) >> 125 == 1 or all(is_public_ip(v4) for _, v4 in embedded_ipv4(addr))
