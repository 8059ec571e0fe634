"""SSRF-safe outbound HTTP: the only way the service fetches a URL it was handed.

This module owns outbound fetching of untrusted URLs (token metadata, images, gateways):

* :class:`GuardedNetworkBackend`, an httpcore network backend whose ``connect_tcp`` resolves
  the host itself, checks EVERY resolved address against the :class:`AddressPolicy`
  (``netguard``), and then connects to the checked address literal. The address connected is
  the address checked, so DNS rebinding between check and connect is impossible; TLS SNI,
  certificate checks and the Host header keep the original host name (httpcore takes them from
  the request, not from the socket).
* :class:`GuardedTransport`, an httpx transport over a connection pool with that backend
  (proxies are never used: a proxy would make the connection for us).
* :class:`SafeHttpClient` / :func:`fetch`: GET with redirects followed by hand (each hop's URL
  re-checked: scheme, no credentials; each hop's connection re-checked by the backend), a byte
  cap enforced while streaming (a declared ``Content-Length`` over the cap is refused before
  reading), one total time cap over all hops, headers and body, and ``identity`` encoding only
  (a compressed body would make the cap meaningless: a 1 MB gzip bomb expands to 1 GB).

Why hand-written: httpx checks nothing about addresses, and a check before the request (resolve,
check, then let httpx resolve again) is open to DNS rebinding.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Final

import anyio
import httpcore
import httpx

from hexavatar.resolve.errors import (
    BadUrlError,
    FetchError,
    FetchTimeoutError,
    FetchTooLargeError,
    SchemeNotAllowedError,
    SsrfBlockedError,
    TooManyRedirectsError,
    UnsupportedContentEncodingError,
    quote,
)
from hexavatar.resolve.netguard import IPAddress, blocked_reason, parse_ip

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AddressPolicy",
    "FetchResult",
    "GuardedNetworkBackend",
    "GuardedTransport",
    "Resolver",
    "SafeHttpClient",
    "fetch",
    "system_resolver",
]

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
DEFAULT_TIMEOUT: Final = 20.0
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_MAX_URL_CHARS: Final = 8192
_USER_AGENT: Final = "hexavatar (+https://github.com/hexavatar)"

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> IP address strings``; the default is :func:`system_resolver`."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with getaddrinfo on a worker thread of the event loop (anyio)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, kw_only=True)
class AddressPolicy:
    """Which addresses may be connected to: public unicast, plus exact exceptions.

    ``unsafe_allow`` lists (address, port) pairs let through although they are not public:
    for tests against servers on 127.0.0.1, or a deliberately internal service. Nothing
    else about them is relaxed; a redirect to another port of the same address is refused.
    """

    unsafe_allow: frozenset[tuple[IPAddress, int]] = field(default_factory=frozenset)

    def check(self, addr: IPAddress, port: int, *, host: str) -> None:
        """Raise :class:`SsrfBlockedError` unless a connection to ``addr:port`` is allowed."""
        reason = blocked_reason(addr)
        if reason is None or (addr, port) in self.unsafe_allow:
            return
        raise SsrfBlockedError(
            f"expected {quote(host)} to resolve to public addresses only, found {reason}"
        )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked address: no rebinding window.

    ``connector`` makes the actual TCP connection to the address literal (default: httpcore's
    anyio backend); tests wrap it to record every connect attempt.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._connector = connector or httpcore.AnyIOBackend()

    async def _checked_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            addresses: Sequence[str] = [str(parse_ip(host))]
        except ValueError:
            with anyio.fail_after(timeout):
                try:
                    addresses = await self._resolver(host, port)
                except OSError as exc:
                    raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        parsed = [parse_ip(a) for a in addresses]
        if not parsed:
            raise httpcore.ConnectError(f"{host!r} resolved to no address")
        for addr in parsed:  # every one, before any connection
            self._policy.check(addr, port, host=host)
        return [str(addr) for addr in parsed]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self._checked_addresses(host, port, timeout):
            try:
                return await self._connector.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise SsrfBlockedError(f"expected a TCP connection, found a Unix socket {quote(path)}")

    async def sleep(self, seconds: float) -> None:
        await self._connector.sleep(seconds)


# --- httpx transport ------------------------------------------------------------------------


def _httpx_error(exc: Exception) -> type[httpx.HTTPError] | None:
    mapping: list[tuple[type[Exception], type[httpx.HTTPError]]] = [
        (httpcore.ConnectTimeout, httpx.ConnectTimeout),
        (httpcore.ReadTimeout, httpx.ReadTimeout),
        (httpcore.WriteTimeout, httpx.WriteTimeout),
        (httpcore.PoolTimeout, httpx.PoolTimeout),
        (httpcore.TimeoutException, httpx.TimeoutException),
        (httpcore.ConnectError, httpx.ConnectError),
        (httpcore.ReadError, httpx.ReadError),
        (httpcore.WriteError, httpx.WriteError),
        (httpcore.NetworkError, httpx.NetworkError),
        (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
        (httpcore.LocalProtocolError, httpx.LocalProtocolError),
        (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
        (httpcore.ProtocolError, httpx.ProtocolError),
    ]
    return next((ours for theirs, ours in mapping if isinstance(exc, theirs)), None)


@contextlib.contextmanager
def _httpcore_errors_as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = _httpx_error(exc)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpcore_errors_as_httpx():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport: a connection pool over :class:`GuardedNetworkBackend`, no proxies."""

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 20,
    ) -> None:
        backend = GuardedNetworkBackend(policy=policy, resolver=resolver, connector=connector)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpcore_errors_as_httpx():
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# --- fetching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """A fetched response: final URL after redirects, status, headers, the capped body."""

    url_final: str
    status: int
    headers: httpx.Headers
    content: bytes
    content_type: str | None  # the media type, lowercased, without parameters


def _check_url(url: str | httpx.URL, allowed_schemes: Sequence[str]) -> httpx.URL:
    if len(str(url)) > _MAX_URL_CHARS:
        raise BadUrlError(f"expected a URL of at most {_MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise BadUrlError(f"expected an absolute URL, found {quote(str(url))} ({exc})") from None
    if parsed.scheme not in allowed_schemes:
        raise SchemeNotAllowedError(
            f"expected a URL with scheme {' or '.join(allowed_schemes)}, found {quote(str(url))}"
        )
    if not parsed.host:
        raise BadUrlError(f"expected a URL with a host, found {quote(str(url))}")
    if parsed.userinfo:
        raise BadUrlError(f"expected a URL without credentials, found {quote(str(url))}")
    return parsed


def _media_type(headers: httpx.Headers) -> str | None:
    value = headers.get("content-type")
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedContentEncodingError(
            f"expected an identity-encoded body, found Content-Encoding {quote(encoding)}"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLargeError(
            f"expected at most {max_bytes} bytes, found Content-Length {int(declared)}"
        )
    body = bytearray()
    async for chunk in response.aiter_raw():
        if len(body) + len(chunk) > max_bytes:
            raise FetchTooLargeError(
                f"expected at most {max_bytes} bytes, found more (body cut off at the cap)"
            )
        body += chunk
    return bytes(body)


class SafeHttpClient:
    """An async HTTP client that can only reach public addresses; use as ``async with``.

    Build one per application (in the lifespan) and pass it down; tests build one with an
    ``AddressPolicy(unsafe_allow=...)`` for their 127.0.0.1 servers.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy | None = None,
        resolver: Resolver = system_resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
        user_agent: str = _USER_AGENT,
    ) -> None:
        transport = GuardedTransport(
            policy=policy or AddressPolicy(), resolver=resolver, connector=connector, verify=verify
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": user_agent, "accept-encoding": "identity"},
        )

    async def __aenter__(self) -> SafeHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout_total: float = DEFAULT_TIMEOUT,
        max_redirects: int = 3,
        allowed_schemes: Sequence[str] = ("https", "http"),
        headers: dict[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url``; see the module docstring for every check. Non-2xx is returned as is."""
        if not set(allowed_schemes) <= {"http", "https"}:
            raise ValueError(f"allowed_schemes: expected http/https, found {allowed_schemes}")
        try:
            with anyio.fail_after(timeout_total):
                return await self._follow(
                    _check_url(url, allowed_schemes),
                    max_bytes=max_bytes,
                    timeout=timeout_total,
                    max_redirects=max_redirects,
                    allowed_schemes=allowed_schemes,
                    headers=headers or {},
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            if isinstance(exc, FetchTimeoutError):
                raise
            raise FetchTimeoutError(
                f"expected {quote(url)} within {timeout_total} s, found it still running"
            ) from None
        except httpx.InvalidURL as exc:  # httpx parses a redirect's Location itself
            raise BadUrlError(f"expected a valid redirect URL from {quote(url)}: {exc}") from None
        except httpx.HTTPError as exc:
            raise FetchError(
                f"expected a response from {quote(url)}, found {type(exc).__name__}: {exc}"
            ) from exc

    async def _follow(
        self,
        url: httpx.URL,
        *,
        max_bytes: int,
        timeout: float,
        max_redirects: int,
        allowed_schemes: Sequence[str],
        headers: dict[str, str],
    ) -> FetchResult:
        for followed in range(max_redirects + 1):
            async with self._client.stream("GET", url, headers=headers, timeout=timeout) as resp:
                location = resp.headers.get("location")
                if resp.status_code not in _REDIRECT_STATUSES or location is None:
                    content = await _read_capped(resp, max_bytes)
                    return FetchResult(
                        str(url), resp.status_code, resp.headers, content, _media_type(resp.headers)
                    )
            if followed == max_redirects:
                break
            try:
                target = url.join(location)
            except (httpx.InvalidURL, ValueError) as exc:
                raise BadUrlError(f"expected a redirect URL, found {quote(location)}") from exc
            url = _check_url(target, allowed_schemes)
        raise TooManyRedirectsError(
            f"expected at most {max_redirects} redirects, found more (last to {quote(str(url))})"
        )


async def fetch(
    url: str,
    *,
    client: SafeHttpClient | None = None,
    policy: AddressPolicy | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_total: float = DEFAULT_TIMEOUT,
    max_redirects: int = 3,
    allowed_schemes: Sequence[str] = ("https", "http"),
) -> FetchResult:
    """Fetch with ``client``, or with a one-off :class:`SafeHttpClient` built from ``policy``."""
    if client is not None and policy is not None:
        raise ValueError("policy: expected None when a client is given (it has its own)")
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(SafeHttpClient(policy=policy))
        return await client.fetch(
            url,
            max_bytes=max_bytes,
            timeout_total=timeout_total,
            max_redirects=max_redirects,
            allowed_schemes=allowed_schemes,
        )
    raise AssertionError("unreachable")  # pragma: no cover
