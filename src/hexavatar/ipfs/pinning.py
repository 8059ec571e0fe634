"""Pinning: asking a Kubo node (RPC API) or an IPFS Pinning Service to keep content online.

Owns the two remote "keep this" protocols of IPFS production set-ups; hand-written because
the maintained Python clients for them are gone (py-ipfs-http-client stopped at Kubo 0.8).

- :class:`KuboRpc` speaks Kubo's RPC (``POST /api/v0/...``): ``dag/import`` of a CAR streamed
  from a local blockstore (so Kubo gets exactly the blocks — and CIDs — this service made),
  ``pin/add``, ``pin/rm``, ``pin/ls`` and ``version``.
- :class:`PinningService` speaks the IPFS Pinning Service API
  (https://ipfs.github.io/pinning-services-api-spec/): ``POST /pins``, ``GET /pins``,
  ``GET /pins/{requestid}``, ``DELETE /pins/{requestid}``, with a bearer token, and
  :meth:`PinningService.wait` polls a request until it is pinned (or failed).

Both take an ``httpx.AsyncClient`` (the caller's: timeouts, proxies, address checks) and raise
:class:`~.errors.PinningError` with what was expected and what came back.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from .car import export_car
from .cid import CID
from .errors import CidError, PinningError, quote

if TYPE_CHECKING:
    from .blockstore import Blockstore

__all__ = ["KuboRpc", "PinStatus", "PinningService", "Status"]

Status = Literal["queued", "pinning", "pinned", "failed"]
_STATUSES: Final = ("queued", "pinning", "pinned", "failed")


def _where(url: str) -> str:
    """``url`` as ``scheme://host[:port]``: its user, password, path and query can hold
    credentials (an API key in the path), and errors reach logs and users."""
    parts = httpx.URL(url)
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.host}{port}"


def _failure(exc: httpx.HTTPError) -> str:
    """How a request failed, without its text (httpx's can quote the URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"no connection ({type(exc).__name__})"
    return type(exc).__name__


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return quote(response.text, 200)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Pinning Service API
            return quote(f"{error.get('reason')}: {error.get('details', '')}", 200)
        if "Message" in body:  # Kubo RPC
            return quote(body["Message"], 200)
    return quote(body, 200)


def _check(response: httpx.Response, expected: tuple[int, ...], what: str) -> None:
    if response.status_code not in expected:
        raise PinningError(
            f"expected HTTP {'/'.join(map(str, expected))} from {what}, found "
            f"{response.status_code}: {_error_text(response)}"
        )


def _cid(value: object, what: str) -> CID:
    try:
        return CID.decode(value)  # type: ignore[arg-type]
    except CidError as exc:
        raise PinningError(f"expected a CID in {what}, found {quote(value)}: {exc}") from None


# --- Kubo RPC -----------------------------------------------------------------------------


class KuboRpc:
    """A Kubo node's RPC API at ``base_url`` (e.g. ``http://127.0.0.1:5001``)."""

    def __init__(self, base_url: str, *, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    async def _post(self, command: str, params: Sequence[tuple[str, str]] = (), **kw: Any) -> Any:
        url = f"{self.base_url}/api/v0/{command}"
        try:
            response = await self.client.post(url, params=httpx.QueryParams(list(params)), **kw)
        except httpx.HTTPError as exc:
            raise PinningError(
                f"expected Kubo RPC at {_where(self.base_url)}, found {_failure(exc)}"
            ) from None
        _check(response, (200,), f"Kubo {command}")
        return response

    async def version(self) -> str:
        """The node's version (``/api/v0/version``)."""
        body = (await self._post("version")).json()
        return str(body.get("Version", ""))

    async def import_car(self, root: CID, *, blockstore: Blockstore, pin: bool = True) -> list[CID]:
        """Stream the DAG under ``root`` (verified, from ``blockstore``) into Kubo as a CAR
        (``dag/import``); with ``pin``, Kubo pins the root. Returns the roots Kubo reports."""
        boundary = secrets.token_hex(16)
        chunks = export_car(root, blockstore=blockstore)
        response = await self._post(
            "dag/import",
            [("pin-roots", "true" if pin else "false")],
            content=_multipart(boundary, chunks),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        roots: list[CID] = []
        for line in response.text.splitlines():
            item = json.loads(line) if line.strip() else {}
            found = item.get("Root")
            if not isinstance(found, dict):
                continue
            if found.get("PinErrorMsg"):
                raise PinningError(
                    f"expected Kubo to pin {root}, found {quote(found['PinErrorMsg'])}"
                )
            roots.append(_cid((found.get("Cid") or {}).get("/"), "Kubo's dag/import answer"))
        if pin and root not in roots and root.to_v1() not in [r.to_v1() for r in roots]:
            raise PinningError(f"expected Kubo to report root {root}, found {roots}")
        return roots

    async def pin_add(self, cid: CID, *, recursive: bool = True) -> None:
        """Pin ``cid`` (Kubo fetches what it does not have from the network)."""
        await self._post("pin/add", [("arg", str(cid)), ("recursive", str(recursive).lower())])

    async def pin_rm(self, cid: CID) -> None:
        await self._post("pin/rm", [("arg", str(cid))])

    async def is_pinned(self, cid: CID) -> bool:
        """Whether ``cid`` is pinned recursively on the node."""
        url = f"{self.base_url}/api/v0/pin/ls"
        params = httpx.QueryParams([("arg", str(cid)), ("type", "recursive")])
        try:
            response = await self.client.post(url, params=params)
        except httpx.HTTPError as exc:
            raise PinningError(
                f"expected Kubo RPC at {_where(self.base_url)}, found {_failure(exc)}"
            ) from None
        if response.status_code == 500 and "not pinned" in _error_text(response):
            return False
        _check(response, (200,), "Kubo pin/ls")
        keys = response.json().get("Keys") or {}
        return any(_cid(key, "pin/ls").multihash == cid.multihash for key in keys)


async def _multipart(boundary: str, chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="dag.car"\r\n'
        "Content-Type: application/vnd.ipld.car\r\n\r\n"
    ).encode()
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)  # let other tasks run between blocks
    yield f"\r\n--{boundary}--\r\n".encode()


# --- Pinning Service API ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinStatus:
    """A pin request as the service reports it."""

    requestid: str
    status: Status
    cid: CID
    name: str | None = None
    delegates: tuple[str, ...] = ()
    info: Mapping[str, str] = field(default_factory=dict)


def _pin_status(body: object) -> PinStatus:
    if not isinstance(body, dict) or not isinstance(body.get("pin"), dict):
        raise PinningError(f"expected a PinStatus object, found {quote(body)}")
    status = body.get("status")
    if status not in _STATUSES or not isinstance(body.get("requestid"), str):
        raise PinningError(f"expected a PinStatus with requestid and status, found {quote(body)}")
    pin = body["pin"]
    return PinStatus(
        requestid=body["requestid"],
        status=status,
        cid=_cid(pin.get("cid"), "PinStatus.pin.cid"),
        name=pin.get("name"),
        delegates=tuple(str(d) for d in body.get("delegates") or ()),
        info={str(k): str(v) for k, v in (body.get("info") or {}).items()},
    )


class PinningService:
    """An IPFS Pinning Service API endpoint (``https://.../``) with a bearer ``token``."""

    def __init__(self, endpoint: str, *, token: str, client: httpx.AsyncClient) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self.client = client

    async def _request(self, method: str, path: str, expected: tuple[int, ...], **kw: Any) -> Any:
        try:
            response = await self.client.request(
                method, f"{self.endpoint}{path}", headers=self._headers, **kw
            )
        except httpx.HTTPError as exc:
            raise PinningError(
                f"expected the pinning service at {_where(self.endpoint)}, found {_failure(exc)}"
            ) from None
        _check(response, expected, f"{method} {path}")
        return response.json() if response.content else None

    async def add(
        self,
        cid: CID,
        *,
        name: str | None = None,
        origins: Sequence[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> PinStatus:
        """Ask the service to pin ``cid`` (``origins``: multiaddrs that have it)."""
        body: dict[str, Any] = {"cid": str(cid)}
        if name is not None:
            body["name"] = name
        if origins:
            body["origins"] = list(origins)
        if meta:
            body["meta"] = dict(meta)
        return _pin_status(await self._request("POST", "/pins", (200, 202), json=body))

    async def get(self, requestid: str) -> PinStatus:
        return _pin_status(await self._request("GET", f"/pins/{requestid}", (200,)))

    async def find(self, cid: CID) -> list[PinStatus]:
        """Pin requests for ``cid`` in any status."""
        params = {"cid": str(cid), "status": ",".join(_STATUSES)}
        body = await self._request("GET", "/pins", (200,), params=params)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise PinningError(f"expected a PinResults object, found {quote(body)}")
        return [_pin_status(item) for item in results]

    async def remove(self, requestid: str) -> None:
        await self._request("DELETE", f"/pins/{requestid}", (200, 202))

    async def wait(
        self,
        requestid: str,
        *,
        timeout: float,
        interval: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> PinStatus:
        """Poll until the request is ``pinned`` (returned) or ``failed`` (raised), at most
        ``timeout`` seconds of waiting (counted as the sum of ``interval`` sleeps)."""
        waited = 0.0
        while True:
            status = await self.get(requestid)
            if status.status == "pinned":
                return status
            if status.status == "failed":
                raise PinningError(
                    f"expected {status.cid} to be pinned, found status failed: {dict(status.info)}"
                )
            if waited >= timeout:
                raise PinningError(
                    f"expected {status.cid} pinned within {timeout} s, found it {status.status}"
                )
            await sleep(interval)
            waited += interval
