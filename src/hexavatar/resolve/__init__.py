"""hexavatar.resolve: from an NFT reference to the bytes of its image, safely.

Modules:

- :mod:`.refs` — :class:`NftRef`, CAIP-22/29 references as in ENSIP-12 (``eip155:1/erc721:…/7``)
- :mod:`.uris` — token/metadata/image URIs classified (ipfs, gateways, ipns, ar, http, data),
  ERC-1155 ``{id}`` substitution, the image of a metadata document
- :mod:`.netguard` — which addresses may be connected to (IANA special-purpose table,
  IPv4 inside IPv6 decoded)
- :mod:`.http` — the SSRF-safe fetcher (:class:`SafeHttpClient`, :func:`fetch`)
- :mod:`.errors` — :class:`ResolveError` and its subclasses, each with a ``code``

See docs/security.md for the outbound-fetch policy.
"""

from .errors import (
    BadUrlError,
    DataUriTooLargeError,
    FetchError,
    FetchTimeoutError,
    FetchTooLargeError,
    NftRefError,
    ResolveError,
    SchemeNotAllowedError,
    SsrfBlockedError,
    TooManyRedirectsError,
    UnsupportedContentEncodingError,
    UriError,
)
from .http import AddressPolicy, FetchResult, SafeHttpClient, fetch
from .netguard import blocked_reason, embedded_ipv4, is_public_ip
from .refs import NftRef, parse_nft_ref
from .uris import (
    ArweaveUri,
    DataUri,
    HttpUri,
    IpfsUri,
    IpnsUri,
    TokenUri,
    classify_uri,
    is_cid,
    select_image,
    substitute_token_id,
)

__all__ = [
    "AddressPolicy",
    "ArweaveUri",
    "BadUrlError",
    "DataUri",
    "DataUriTooLargeError",
    "FetchError",
    "FetchResult",
    "FetchTimeoutError",
    "FetchTooLargeError",
    "HttpUri",
    "IpfsUri",
    "IpnsUri",
    "NftRef",
    "NftRefError",
    "ResolveError",
    "SafeHttpClient",
    "SchemeNotAllowedError",
    "SsrfBlockedError",
    "TokenUri",
    "TooManyRedirectsError",
    "UnsupportedContentEncodingError",
    "UriError",
    "blocked_reason",
    "classify_uri",
    "embedded_ipv4",
    "fetch",
    "is_cid",
    "is_public_ip",
    "parse_nft_ref",
    "select_image",
    "substitute_token_id",
]
