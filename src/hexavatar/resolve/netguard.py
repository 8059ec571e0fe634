"""Which IP addresses the service may connect to: public unicast only.

This module owns the address policy of every outbound connection: an explicit table of the
IANA special-purpose ranges (IPv4 and IPv6 registries, plus multicast, 240/4 and everything
outside IPv6 global unicast 2000::/3), and the decoding of IPv4 addresses embedded in IPv6
addresses by transition mechanisms, which are checked as well.

Why not ``ipaddress.is_global``: on CPython 3.11 it calls ``::127.0.0.1``, ``64:ff9b::7f00:1``,
``2002:7f00:1::`` and ``fec0::1`` global, and it does not look inside mapped, NAT64, 6to4 or
Teredo addresses. The table here is stricter than IANA's "globally reachable" column in a few
places on purpose (all of 192.0.0.0/24 and 2001::/23 are refused; no avatar lives there).

Pure functions, no I/O; ``hexavatar.resolve.http`` calls :func:`blocked_reason` on the address
it is about to connect to.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Final

__all__ = [
    "IPV4_SPECIAL_RANGES",
    "IPV6_SPECIAL_RANGES",
    "IPAddress",
    "SpecialRange",
    "blocked_reason",
    "embedded_ipv4",
    "is_public_ip",
    "parse_ip",
]

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True)
class SpecialRange:
    """One refused range: the network, what it is, where it is defined."""

    network: IPv4Network | IPv6Network
    name: str
    source: str


def _v4(cidr: str, name: str, source: str) -> SpecialRange:
    return SpecialRange(IPv4Network(cidr), name, source)


def _v6(cidr: str, name: str, source: str) -> SpecialRange:
    return SpecialRange(IPv6Network(cidr), name, source)


# IANA IPv4 Special-Purpose Address Registry, plus multicast and the reserved 240/4.
# Left out because IANA marks them globally reachable: 192.31.196.0/24 and 192.175.48.0/24
# (AS112), 192.52.193.0/24 (AMT).
IPV4_SPECIAL_RANGES: Final[tuple[SpecialRange, ...]] = (
    _v4("0.0.0.0/8", "'this network'", "RFC 791"),
    _v4("10.0.0.0/8", "private-use", "RFC 1918"),
    _v4("100.64.0.0/10", "shared address space (CGNAT)", "RFC 6598"),
    _v4("127.0.0.0/8", "loopback", "RFC 1122"),
    _v4("169.254.0.0/16", "link-local (cloud metadata lives here)", "RFC 3927"),
    _v4("172.16.0.0/12", "private-use", "RFC 1918"),
    _v4("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    _v4("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    _v4("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    _v4("192.168.0.0/16", "private-use", "RFC 1918"),
    _v4("198.18.0.0/15", "benchmarking", "RFC 2544"),
    _v4("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    _v4("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    _v4("224.0.0.0/4", "multicast", "RFC 5771"),
    _v4("255.255.255.255/32", "limited broadcast", "RFC 919"),
    _v4("240.0.0.0/4", "reserved", "RFC 1112"),
)

# IANA IPv6 Special-Purpose Address Registry (and deprecated ranges). Anything outside
# 2000::/3 is refused as well, except the two prefixes that carry an IPv4 address we check.
IPV6_SPECIAL_RANGES: Final[tuple[SpecialRange, ...]] = (
    _v6("::/128", "unspecified", "RFC 4291"),
    _v6("::1/128", "loopback", "RFC 4291"),
    _v6("::/96", "IPv4-compatible (deprecated)", "RFC 4291"),
    _v6("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215"),
    _v6("100::/64", "discard-only", "RFC 6666"),
    _v6("100:0:0:1::/64", "dummy prefix", "RFC 9780"),
    _v6("2001::/32", "Teredo", "RFC 4380"),
    _v6("2001:db8::/32", "documentation", "RFC 3849"),
    _v6("2001::/23", "IETF protocol assignments", "RFC 2928"),
    _v6("3fff::/20", "documentation", "RFC 9637"),
    _v6("5f00::/16", "segment routing SIDs", "RFC 9602"),
    _v6("fc00::/7", "unique local", "RFC 4193"),
    _v6("fe80::/10", "link-local", "RFC 4291"),
    _v6("fec0::/10", "site-local (deprecated)", "RFC 3879"),
    _v6("ff00::/8", "multicast", "RFC 4291"),
)

_GLOBAL_UNICAST: Final = IPv6Network("2000::/3")
_MAPPED: Final = IPv6Network("::ffff:0:0/96")
_COMPATIBLE: Final = IPv6Network("::/96")
_NAT64: Final = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR: Final = IPv6Network("2002::/16")
_TEREDO: Final = IPv6Network("2001::/32")
_LOW32: Final = 0xFFFFFFFF


def parse_ip(text: str) -> IPAddress:
    """An address from text, with an IPv6 zone (``%eth0``) dropped: zones do not change policy."""
    return ip_address(text.split("%", 1)[0])


def embedded_ipv4(addr: IPv6Address) -> tuple[tuple[str, IPv4Address], ...]:
    """Each (mechanism, IPv4 address) that ``addr`` carries inside it, if any.

    IPv4-mapped and -compatible (::ffff:a.b.c.d, ::a.b.c.d), NAT64 (64:ff9b::/96, and
    64:ff9b:1::/48 read both as /48 and as /96 per RFC 6052), 6to4 (2002:AABB:CCDD::) and
    Teredo (2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, client bits inverted).
    """
    n = int(addr)
    low = IPv4Address(n & _LOW32)
    if addr in _MAPPED:
        return (("IPv4-mapped", low),)
    if addr in _COMPATIBLE and n > 1:
        return (("IPv4-compatible", low),)
    if addr in _NAT64:
        return (("NAT64", low),)
    if addr in _NAT64_LOCAL:
        pl48 = IPv4Address(((n >> 64) & 0xFFFF) << 16 | (n >> 40) & 0xFFFF)
        return (("NAT64 local-use /48", pl48), ("NAT64 local-use /96", low))
    if addr in _SIX_TO_FOUR:
        return (("6to4", IPv4Address((n >> 80) & _LOW32)),)
    if addr in _TEREDO:
        server = IPv4Address((n >> 64) & _LOW32)
        return (("Teredo server", server), ("Teredo client", IPv4Address(~n & _LOW32)))
    return ()


def _v4_reason(addr: IPv4Address) -> str | None:
    for special in IPV4_SPECIAL_RANGES:
        if addr in special.network:
            return f"{addr} is {special.name} ({special.network}, {special.source})"
    return None


def _embedded_reason(addr: IPv6Address) -> str | None:
    for how, inner in embedded_ipv4(addr):
        reason = _v4_reason(inner)
        if reason is not None:
            return f"{addr} carries {how} {reason}"
    return None


def _v6_reason(addr: IPv6Address) -> str | None:
    if addr in _MAPPED or addr in _NAT64:
        return _embedded_reason(addr)  # these prefixes are exactly the IPv4 address they carry
    for special in IPV6_SPECIAL_RANGES:
        if addr in special.network:
            inner = ", ".join(f"{how} {v4}" for how, v4 in embedded_ipv4(addr))
            carried = f"; carries {inner}" if inner else ""
            return f"{addr} is {special.name} ({special.network}, {special.source}{carried})"
    if addr not in _GLOBAL_UNICAST:
        return f"{addr} is outside IPv6 global unicast (2000::/3)"
    return _embedded_reason(addr)


def blocked_reason(addr: IPAddress) -> str | None:
    """Why the service must not connect to ``addr``, or None when it is public unicast."""
    if isinstance(addr, IPv4Address):
        return _v4_reason(addr)
    return _v6_reason(IPv6Address(int(addr)))  # drop any zone id


def is_public_ip(addr: IPAddress) -> bool:
    """True when ``addr`` (and any IPv4 address inside it) is public unicast."""
    return blocked_reason(addr) is None
