"""NFT reference → contract → metadata → image, recording each step and what was verified.

The read path of the seed: read ``tokenURI`` (ERC-721) or ``uri`` (ERC-1155, ``{id}`` replaced)
from the contract at a pinned block, load the metadata from the URI it names, then the image
from the metadata's ``image``/``image_url``/``image_data``. IPFS content goes through an
:class:`IpfsReader` that only returns bytes verified against their CID; other schemes go
through the SSRF-safe client and are marked unverified. Chain reads are web3's synchronous
calls: run :func:`resolve_nft` on a worker thread's event loop, not on the web server's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from web3 import Web3

from ..chain.tokens import Standard, detect_standard, token_uri, uri
from .errors import FetchError, ResolveError, UriError, quote
from .http import SafeHttpClient
from .refs import NftRef
from .uris import (
    ArweaveUri,
    DataUri,
    HttpUri,
    IpfsUri,
    IpnsUri,
    TokenUri,
    classify_uri,
    select_image,
    substitute_token_id,
)

__all__ = [
    "Fetched",
    "IpfsReader",
    "NotAnNft",
    "Resolution",
    "ResolveLimits",
    "Step",
    "fetch_token_uri",
    "resolve_nft",
]

Source = Literal["ipfs", "ipns", "ar", "http", "data"]


class NotAnNft(ResolveError, LookupError):
    code = "not_an_nft"


class MetadataInvalid(ResolveError, ValueError):
    code = "metadata_invalid"


class IpfsReader(Protocol):
    """Bytes of ``cid/path``, every one verified against its CID, at most ``max_bytes``."""

    async def read(self, cid: str, path: str, *, max_bytes: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ResolveLimits:
    max_metadata_bytes: int = 1024 * 1024
    max_image_bytes: int = 10 * 1024 * 1024
    timeout: float = 20.0
    ipns_gateway: str = "https://ipfs.io"


@dataclass(frozen=True, slots=True)
class Step:
    step: str
    ok: bool
    detail: str
    verified: bool | None = None

    def as_dict(self) -> dict[str, object]:
        return {"step": self.step, "ok": self.ok, "detail": self.detail, "verified": self.verified}


@dataclass(frozen=True, slots=True)
class Fetched:
    uri: str
    source: Source
    data: bytes
    media_type: str | None
    cid: str | None  # the IPFS CID (and path) the bytes were verified against
    verified: bool


@dataclass(slots=True)
class Resolution:
    ref: NftRef
    standard: Standard
    block: int
    token_uri: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_source: Fetched | None = None
    image: Fetched | None = None
    steps: list[Step] = field(default_factory=list)


def _ipfs_label(u: IpfsUri) -> str:
    return f"{u.cid}/{u.path}" if u.path else u.cid


async def fetch_token_uri(
    target: TokenUri,
    *,
    original: str,
    http: SafeHttpClient,
    ipfs: IpfsReader,
    max_bytes: int,
    limits: ResolveLimits,
) -> Fetched:
    """The bytes ``target`` names; IPFS verified, everything else marked unverified."""
    if isinstance(target, DataUri):
        if len(target.data) > max_bytes:
            raise FetchError(f"data: URI of {len(target.data)} bytes is over {max_bytes}")
        return Fetched(original, "data", target.data, target.media_type, None, False)
    if isinstance(target, IpfsUri):
        data = await ipfs.read(target.cid, target.path, max_bytes=max_bytes)
        return Fetched(original, "ipfs", data, None, _ipfs_label(target), True)
    if isinstance(target, IpnsUri):
        url = f"{limits.ipns_gateway}/ipns/{target.name}/{target.path}".rstrip("/")
        return await _http(url, "ipns", original, http, max_bytes, limits)
    if isinstance(target, ArweaveUri):
        return await _http(target.url, "ar", original, http, max_bytes, limits)
    assert isinstance(target, HttpUri)
    return await _http(target.url, "http", original, http, max_bytes, limits)


async def _http(
    url: str,
    source: Source,
    original: str,
    http: SafeHttpClient,
    max_bytes: int,
    limits: ResolveLimits,
) -> Fetched:
    result = await http.fetch(url, max_bytes=max_bytes, timeout_total=limits.timeout)
    if not 200 <= result.status < 300:
        raise FetchError(f"expected 2xx from {quote(url)}, found HTTP {result.status}")
    return Fetched(original, source, result.content, result.content_type, None, False)


def _read_contract(w3: Web3, ref: NftRef, *, block: int, steps: list[Step]) -> tuple[Standard, str]:
    standard = detect_standard(w3, ref.contract, block=block)
    if standard is None:
        raise NotAnNft(f"{ref.contract} does not declare ERC-721 or ERC-1155 (ERC-165)")
    if ref.standard is not None and ref.standard != standard:
        raise NotAnNft(f"the reference says {ref.standard}, the contract is {standard}")
    steps.append(Step("standard", True, f"{standard} (ERC-165) at block {block}"))
    if standard == "erc721":
        raw = token_uri(w3, ref.contract, ref.token_id, block=block)
        steps.append(Step("token_uri", True, f"tokenURI({ref.token_id}) = {quote(raw, limit=200)}"))
        return standard, raw
    raw = substitute_token_id(uri(w3, ref.contract, ref.token_id, block=block), ref.token_id)
    steps.append(
        Step("token_uri", True, f"uri({ref.token_id}) with {{id}} = {quote(raw, limit=200)}")
    )
    return standard, raw


def _metadata(fetched: Fetched, *, standard: Standard, token_id: int) -> dict[str, Any]:
    try:
        doc = json.loads(fetched.data)
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataInvalid(f"metadata from {quote(fetched.uri)} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise MetadataInvalid(f"metadata: expected a JSON object, found {type(doc).__name__}")
    if standard == "erc1155":
        for key in ("image", "image_url"):
            if isinstance(doc.get(key), str):
                doc[key] = substitute_token_id(doc[key], token_id)
    return doc


async def resolve_nft(
    ref: NftRef,
    *,
    w3: Web3,
    http: SafeHttpClient,
    ipfs: IpfsReader,
    block: int,
    limits: ResolveLimits = ResolveLimits(),
    steps: list[Step] | None = None,
) -> Resolution:
    """Resolve ``ref`` at ``block`` to its metadata and image bytes. Raises a ResolveError (or
    a chain/IPFS error) at the first step that fails; ``steps`` records the way there."""
    steps = [] if steps is None else steps
    standard, raw_uri = _read_contract(w3, ref, block=block, steps=steps)
    res = Resolution(ref=ref, standard=standard, block=block, token_uri=raw_uri, steps=steps)
    meta_target = classify_uri(raw_uri, max_data_bytes=limits.max_metadata_bytes)
    res.metadata_source = await fetch_token_uri(
        meta_target, original=raw_uri, http=http, ipfs=ipfs,
        max_bytes=limits.max_metadata_bytes, limits=limits,
    )  # fmt: skip
    steps.append(_fetched_step("metadata", res.metadata_source))
    res.metadata = _metadata(res.metadata_source, standard=standard, token_id=ref.token_id)
    image_target = select_image(res.metadata, max_data_bytes=limits.max_image_bytes)
    image_uri = _image_uri_text(res.metadata, image_target)
    res.image = await fetch_token_uri(
        image_target, original=image_uri, http=http, ipfs=ipfs,
        max_bytes=limits.max_image_bytes, limits=limits,
    )  # fmt: skip
    steps.append(_fetched_step("image", res.image))
    return res


def _image_uri_text(metadata: dict[str, Any], target: TokenUri) -> str:
    for key in ("image", "image_url"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if isinstance(target, DataUri):
        return f"data:{target.media_type} (image_data, {len(target.data)} bytes)"
    raise UriError("metadata: no image")


def _fetched_step(name: str, f: Fetched) -> Step:
    where = f"ipfs://{f.cid}" if f.cid else quote(f.uri, limit=200)
    how = "verified against its CID" if f.verified else f"not verifiable ({f.source})"
    return Step(name, True, f"{len(f.data)} bytes from {where}, {how}", f.verified)
