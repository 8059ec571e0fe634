"""The SSRF-safe fetcher, against scripted servers on 127.0.0.1 only.

Refusals are proven, not assumed: a bare listening socket on 127.0.0.1 shows that no TCP
connection reached it, and a recording connector shows that no connect to 169.254.169.254,
10.0.0.1 or ::1 was even attempted. No test sends a packet to any address but 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address

import httpcore
import pytest

from hexavatar.resolve.errors import (
    BadUrlError,
    FetchError,
    FetchTimeoutError,
    FetchTooLargeError,
    ResolveError,
    SchemeNotAllowedError,
    SsrfBlockedError,
    TooManyRedirectsError,
    UnsupportedContentEncodingError,
)
from hexavatar.resolve.http import AddressPolicy, SafeHttpClient, fetch
from tests.resolve.servers import endless, listener, redirect, respond, serve, stall

pytestmark = pytest.mark.anyio
LOOPBACK = IPv4Address("127.0.0.1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingConnector(httpcore.AsyncNetworkBackend):
    """Records every TCP connect attempt; only ever connects to 127.0.0.1."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        assert host == "127.0.0.1", f"test tried to connect to {host}"
        return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def allow(*ports: int) -> AddressPolicy:
    return AddressPolicy(unsafe_allow=frozenset((LOOPBACK, port) for port in ports))


class FakeDns:
    """A resolver answering from a table, recording every question."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.questions: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.questions.append(host)
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return self.table[host]


# --- happy path -----------------------------------------------------------------------------


async def test_fetches_a_small_body() -> None:
    ok = respond("200 OK", {"Content-Type": "image/PNG; charset=x"}, b"\x89PNG...")
    with serve(ok) as server:
        result = await fetch(server.url + "/a.png", policy=allow(server.port))
    assert result.status == 200
    assert result.content == b"\x89PNG..."
    assert result.content_type == "image/png"
    assert result.url_final == server.url + "/a.png"
    head = server.requests[0].lower()
    assert b"accept-encoding: identity" in head
    assert b"user-agent: hexavatar" in head


async def test_follows_redirects_within_the_limit() -> None:
    ok = respond("200 OK", {}, b"done")
    with (
        serve(ok) as final,
        serve(redirect(final.url + "/end", "301 Moved")) as hop2,
        serve(redirect(hop2.url + "/two")) as hop1,
        serve(redirect(hop1.url + "/one", "307 Temporary")) as start,
    ):
        policy = allow(start.port, hop1.port, hop2.port, final.port)
        result = await fetch(start.url, policy=policy)
    assert result.content == b"done"
    assert result.url_final == final.url + "/end"


async def test_relative_redirect_is_resolved() -> None:
    def script(server, request, conn):  # type: ignore[no-untyped-def]
        if request.startswith(b"GET /start"):
            redirect("/images/x.png")(server, request, conn)
        else:
            respond("200 OK", {}, request.split(b" ")[1])(server, request, conn)

    with serve(script) as server:
        result = await fetch(server.url + "/start", policy=allow(server.port))
    assert result.content == b"/images/x.png"


async def test_non_2xx_is_returned_not_raised() -> None:
    with serve(respond("404 Not Found", {}, b"nope")) as server:
        result = await fetch(server.url, policy=allow(server.port))
    assert (result.status, result.content) == (404, b"nope")


# --- refused addresses: proven by sockets and connect records --------------------------------


async def test_redirect_to_another_loopback_port_makes_no_connection() -> None:
    with listener() as (port, pending), serve(redirect(f"http://127.0.0.1:{port}/")) as start:
        connector = RecordingConnector()
        async with SafeHttpClient(policy=allow(start.port), connector=connector) as client:
            with pytest.raises(SsrfBlockedError) as info:
                await client.fetch(start.url)
        assert pending() == 0
    assert connector.attempts == [("127.0.0.1", start.port)]
    assert info.value.code == "ssrf_blocked"
    assert "loopback" in str(info.value)


@pytest.mark.parametrize(
    ("target", "blocked_host"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
    ],
)
async def test_redirect_to_private_address_is_refused_before_connect(
    target: str, blocked_host: str
) -> None:
    connector = RecordingConnector()
    dns = FakeDns({})
    with serve(redirect(target)) as start:
        async with SafeHttpClient(
            policy=allow(start.port), connector=connector, resolver=dns
        ) as client:
            with pytest.raises(SsrfBlockedError) as info:
                await client.fetch(start.url)
    assert connector.attempts == [("127.0.0.1", start.port)]
    assert dns.questions == []  # IP literals are never looked up
    assert blocked_host in str(info.value)


@pytest.mark.parametrize("host", ["0x7f.1", "2130706433", "017700000001", "127.1"])
async def test_inet_aton_spellings_resolve_to_loopback_and_are_refused(host: str) -> None:
    connector = RecordingConnector()
    async with SafeHttpClient(connector=connector) as client:
        with pytest.raises(SsrfBlockedError, match=r"127\.0\.0\.1"):
            await client.fetch(f"http://{host}/")
    assert connector.attempts == []


async def test_localhost_is_refused_under_the_default_policy() -> None:
    connector = RecordingConnector()
    with listener() as (port, pending):
        async with SafeHttpClient(connector=connector) as client:
            with pytest.raises(SsrfBlockedError):
                await client.fetch(f"http://localhost:{port}/")
        with pytest.raises(SsrfBlockedError):
            await fetch(f"http://127.0.0.1:{port}/")
        assert pending() == 0
    assert connector.attempts == []


async def test_every_resolved_address_is_checked_before_any_connect() -> None:
    connector = RecordingConnector()
    with serve(respond("200 OK", {}, b"x")) as server:
        dns = FakeDns({"mixed.test": ["127.0.0.1", "10.0.0.1"]})
        async with SafeHttpClient(
            policy=allow(server.port), connector=connector, resolver=dns
        ) as client:
            with pytest.raises(SsrfBlockedError, match=r"10\.0\.0\.1"):
                await client.fetch(f"http://mixed.test:{server.port}/")
    assert connector.attempts == []
    assert server.requests == []


async def test_connects_to_the_checked_address_not_a_rebound_one() -> None:
    answers = [["127.0.0.1"], ["10.0.0.1"]]

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return answers.pop(0) if answers else ["10.0.0.1"]

    connector = RecordingConnector()
    with serve(respond("200 OK", {}, b"first")) as server:
        async with SafeHttpClient(
            policy=allow(server.port), connector=connector, resolver=rebinding
        ) as client:
            result = await client.fetch(f"http://rebind.test:{server.port}/")
    assert result.content == b"first"
    assert connector.attempts == [("127.0.0.1", server.port)]
    assert f"host: rebind.test:{server.port}".encode() in server.requests[0].lower()


async def test_unresolvable_host_is_a_fetch_error() -> None:
    async with SafeHttpClient(resolver=FakeDns({})) as client:
        with pytest.raises(FetchError) as info:
            await client.fetch("http://nowhere.test/")
    assert info.value.code == "fetch_failed"


# --- caps -----------------------------------------------------------------------------------


async def test_endless_body_is_cut_at_the_cap() -> None:
    with serve(endless()) as server:
        started = time.monotonic()
        with pytest.raises(FetchTooLargeError) as info:
            await fetch(server.url, policy=allow(server.port), max_bytes=1_000_000)
        elapsed = time.monotonic() - started
        time.sleep(0.2)
    assert info.value.code == "fetch_too_large"
    assert "1000000" in str(info.value)
    assert server.sent[0] < 64 * 1024 * 1024  # far from the 1 GiB the server would send
    assert elapsed < 10


async def test_declared_1gb_body_is_refused_before_reading() -> None:
    with serve(endless(declared=2**30)) as server:
        with pytest.raises(FetchTooLargeError, match="Content-Length 1073741824"):
            await fetch(server.url, policy=allow(server.port), max_bytes=1_000_000)
        time.sleep(0.2)
    assert server.sent[0] < 64 * 1024 * 1024


async def test_body_exactly_at_the_cap_is_accepted() -> None:
    with serve(respond("200 OK", {}, b"a" * 1000)) as server:
        result = await fetch(server.url, policy=allow(server.port), max_bytes=1000)
    assert len(result.content) == 1000


async def test_stalled_server_fails_within_the_time_cap() -> None:
    with serve(stall()) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError) as info:
            await fetch(server.url, policy=allow(server.port), timeout_total=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert info.value.code == "fetch_timeout"
    assert isinstance(info.value, TimeoutError)


async def test_compressed_body_is_refused() -> None:
    gz = respond("200 OK", {"Content-Encoding": "gzip"}, b"\x1f\x8b junk")
    with serve(gz) as server, pytest.raises(UnsupportedContentEncodingError):
        await fetch(server.url, policy=allow(server.port))


async def test_too_many_redirects() -> None:
    def loop(server, request, conn):  # type: ignore[no-untyped-def]
        n = int(request.split(b" ")[1].strip(b"/") or b"0")
        redirect(f"/{n + 1}")(server, request, conn)

    with serve(loop) as server:
        with pytest.raises(TooManyRedirectsError) as info:
            await fetch(server.url + "/0", policy=allow(server.port))
        assert len(server.requests) == 4  # the first request and 3 redirects
        with pytest.raises(TooManyRedirectsError):
            await fetch(server.url + "/0", policy=allow(server.port), max_redirects=0)
    assert info.value.code == "fetch_too_many_redirects"


# --- URLs and schemes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.com/", "data:,x"]
)
async def test_bad_scheme_is_refused(url: str) -> None:
    connector = RecordingConnector()
    async with SafeHttpClient(connector=connector) as client:
        with pytest.raises(SchemeNotAllowedError) as info:
            await client.fetch(url)
    assert connector.attempts == []
    assert info.value.code == "url_scheme_not_allowed"


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "javascript:alert(1)"]
)
async def test_redirect_to_bad_scheme_is_refused(location: str) -> None:
    with serve(redirect(location)) as server, pytest.raises(BadUrlError):
        await fetch(server.url, policy=allow(server.port))


async def test_allowed_schemes_apply_to_every_hop() -> None:
    with listener() as (port, pending):
        with serve(redirect(f"https://127.0.0.1:{port}/")) as server:
            policy = allow(server.port, port)
            with pytest.raises(SchemeNotAllowedError):
                await fetch(server.url, policy=policy, allowed_schemes=("http",))
            with pytest.raises(SchemeNotAllowedError):
                await fetch(server.url, policy=policy, allowed_schemes=("https",))
        assert pending() == 0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "url", ["http://user:pw@example.com/", "not a url", "http:///nohost", "https://" + "a" * 9000]
)
async def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(BadUrlError) as info:
        await fetch(url, policy=AddressPolicy())
    assert isinstance(info.value, ResolveError)


async def test_client_and_policy_are_exclusive() -> None:
    async with SafeHttpClient() as client:
        with pytest.raises(ValueError):
            await fetch("https://example.com/", client=client, policy=AddressPolicy())


# --- TLS keeps the host name ----------------------------------------------------------------


def _tls_pair(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.pem").write_bytes(cert_pem)
        (Path(tmp) / "k.pem").write_bytes(key_pem)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(Path(tmp) / "c.pem", Path(tmp) / "k.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


async def test_tls_uses_the_host_name_for_sni_and_certificate() -> None:
    server_ctx, client_ctx = _tls_pair("avatar.test")
    connector = RecordingConnector()
    with serve(respond("200 OK", {}, b"secure"), tls=server_ctx) as server:
        dns = FakeDns({"avatar.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        async with SafeHttpClient(
            policy=allow(server.port), resolver=dns, connector=connector, verify=client_ctx
        ) as client:
            result = await client.fetch(f"https://avatar.test:{server.port}/")
            with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await client.fetch(f"https://other.test:{server.port}/")
    assert result.content == b"secure"
    assert server.sni[0] == "avatar.test"
    assert connector.attempts[0] == ("127.0.0.1", server.port)
