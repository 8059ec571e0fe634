"""Errors raised by ``hexavatar.resolve``.

One base class, :class:`ResolveError`; every subclass also inherits the builtin it resembles
(``ValueError`` for bad input, ``PermissionError`` for a refused address, ``TimeoutError`` for
the time cap), and carries a stable ``code`` that the web layer maps to an HTTP status once, at
the edge. Messages say what was expected and what was found; untrusted input is quoted with
:func:`quote`, which truncates it.
"""

from __future__ import annotations

__all__ = [
    "BadUrlError",
    "DataUriTooLargeError",
    "FetchError",
    "FetchTimeoutError",
    "FetchTooLargeError",
    "NftRefError",
    "ResolveError",
    "SchemeNotAllowedError",
    "SsrfBlockedError",
    "TooManyRedirectsError",
    "UnsupportedContentEncodingError",
    "UriError",
    "quote",
]


def quote(value: object, *, limit: int = 80) -> str:
    """``repr`` of untrusted input, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ResolveError(Exception):
    """Base class of every error raised by ``hexavatar.resolve``."""

    code: str = "resolve_error"


class SsrfBlockedError(ResolveError, PermissionError):
    """An outbound connection to a non-public address (or a name resolving to one) was refused."""

    code = "ssrf_blocked"


class BadUrlError(ResolveError, ValueError):
    """A URL to fetch is not a well-formed absolute http(s) URL."""

    code = "bad_url"


class SchemeNotAllowedError(BadUrlError):
    """A URL (or a redirect) uses a scheme the fetcher does not follow."""

    code = "url_scheme_not_allowed"


class FetchError(ResolveError, ConnectionError):
    """An outbound fetch failed (network error, refused response)."""

    code = "fetch_failed"


class FetchTooLargeError(FetchError):
    """The response body is larger than the cap."""

    code = "fetch_too_large"


class FetchTimeoutError(FetchError, TimeoutError):
    """The fetch (all hops, headers and body) took longer than the total time cap."""

    code = "fetch_timeout"


class TooManyRedirectsError(FetchError):
    """More redirects than allowed."""

    code = "fetch_too_many_redirects"


class UnsupportedContentEncodingError(FetchError):
    """The server compressed the body although we asked for ``identity``."""

    code = "fetch_bad_content_encoding"


class NftRefError(ResolveError, ValueError):
    """An NFT reference (CAIP-22/29 as in ENSIP-12) is malformed."""

    code = "bad_nft_ref"


class UriError(ResolveError, ValueError):
    """A token, metadata or image URI is malformed or of a kind we do not load."""

    code = "bad_uri"


class DataUriTooLargeError(UriError):
    """A ``data:`` URI decodes to more bytes than the cap."""

    code = "data_uri_too_large"
