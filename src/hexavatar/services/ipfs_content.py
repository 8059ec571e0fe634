"""Reading IPFS content for the NFT read path: this service's own blockstore first (what we
minted), then the configured trustless gateways through the verified fetch, over the SSRF-safe
transport. Either way every byte returned was checked against its CID."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
import httpx

from ..ipfs import CID
from ..ipfs.blockstore import Blockstore, resolve_path
from ..ipfs.errors import BlockNotFound, IpfsError, PinningError
from ..ipfs.exporter import cat
from ..ipfs.fetch import FetchLimits, FetchReport, fetch_bytes
from ..ipfs.pinning import KuboRpc
from ..resolve.errors import FetchError, FetchTooLargeError
from ..resolve.http import AddressPolicy, GuardedTransport

__all__ = ["ContentReader", "kubo_pinner"]


class ContentReader:
    def __init__(
        self,
        blockstore: Blockstore,
        *,
        gateways: Sequence[str] = (),
        timeout: float = 20.0,
        policy: AddressPolicy | None = None,
        on_report: Callable[[FetchReport], None] | None = None,
    ) -> None:
        self._on_report = on_report  # e.g. metrics: called with every remote fetch's report
        self._blocks = blockstore
        self._gateways = list(gateways)
        self._timeout = timeout
        self._policy = policy or AddressPolicy()

    async def read(self, cid: str, path: str, *, max_bytes: int) -> bytes:
        root = CID.decode(cid)
        try:
            return self._local(root, path, max_bytes=max_bytes)
        except BlockNotFound:
            pass
        return await self._remote(root, path, max_bytes=max_bytes)

    def _local(self, root: CID, path: str, *, max_bytes: int) -> bytes:
        target = resolve_path(self._blocks, root, path) if path.strip("/") else root
        out = bytearray()
        for chunk in cat(target, blockstore=self._blocks):
            out += chunk
            if len(out) > max_bytes:
                raise FetchTooLargeError(f"ipfs://{root}/{path}: more than {max_bytes} bytes")
        return bytes(out)

    async def _remote(self, root: CID, path: str, *, max_bytes: int) -> bytes:
        if not self._gateways:
            raise FetchError(
                f"ipfs://{root}/{path}: not in the local blockstore and no gateways configured"
            )
        limits = FetchLimits(
            max_bytes=max_bytes, request_timeout=self._timeout, total_timeout=self._timeout * 2
        )
        transport = GuardedTransport(policy=self._policy)
        report = FetchReport()
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            try:
                return await fetch_bytes(
                    str(root), path=path, gateways=self._gateways, client=client, limits=limits,
                    blockstore=self._blocks, report=report,
                )  # fmt: skip
            except IpfsError as e:
                raise FetchError(f"ipfs://{root}/{path}: {e}") from e
            finally:
                if self._on_report is not None:
                    self._on_report(report)


def kubo_pinner(
    url: str, blockstore: Blockstore, *, timeout: float = 60.0
) -> Callable[[CID], None]:
    """A function that pushes the DAG under a CID to the Kubo node at ``url`` (``dag/import``
    of a CAR made from our blockstore, pinning its root) and checks that Kubo pinned it."""

    async def push(root: CID) -> None:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            kubo = KuboRpc(url, client=client)
            await kubo.import_car(root, blockstore=blockstore, pin=True)
            if not await kubo.is_pinned(root):
                raise PinningError(f"expected Kubo at {url} to have pinned {root}, it has not")

    return lambda root: anyio.run(push, root)
