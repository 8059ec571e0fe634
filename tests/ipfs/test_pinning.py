"""Pinning clients against local servers on 127.0.0.1 that speak Kubo's RPC and the Pinning
Service API (the Kubo stand-in reads the uploaded CAR with the real, strict CAR reader)."""

from __future__ import annotations

import asyncio
import io
import itertools
import random
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.car import CarReader
from hexavatar.ipfs.cid import CID, RAW, compute_cid
from hexavatar.ipfs.errors import BlockVerificationError, CarError, PinningError
from hexavatar.ipfs.importer import import_bytes
from hexavatar.ipfs.pinning import KuboRpc, PinningService
from hexavatar.ipfs.profiles import CID_VERSION_1
from tests.support.services import free_port

from .test_gateway_support import serve

T = TypeVar("T")
TOKEN = "secret-token"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class FakeKubo:
    blocks: MemoryBlockstore = field(default_factory=MemoryBlockstore)
    pins: set[bytes] = field(default_factory=set)

    def app(self) -> FastAPI:
        app = FastAPI()

        def error(message: str) -> JSONResponse:
            return JSONResponse({"Message": message, "Code": 0, "Type": "error"}, 500)

        @app.post("/api/v0/version")
        def version() -> dict[str, str]:
            return {"Version": "0.43.1"}

        @app.post("/api/v0/dag/import")
        async def dag_import(request: Request) -> Response:
            async with request.form() as form:
                upload = form["file"]
                assert not isinstance(upload, str)
                car = await upload.read()
            try:
                reader = CarReader(io.BytesIO(car))
                for block in reader:
                    self.blocks.put(block.cid, block.data)
            except CarError as exc:
                return error(str(exc))
            if request.query_params.get("pin-roots") == "true":
                self.pins.update(root.multihash for root in reader.roots)
            lines = [
                f'{{"Root": {{"Cid": {{"/": "{root}"}}, "PinErrorMsg": ""}}}}'
                for root in reader.roots
            ]
            return Response("\n".join(lines) + "\n", media_type="application/json")

        @app.post("/api/v0/pin/add")
        def pin_add(arg: str) -> Response:
            cid = CID.decode(arg)
            if not self.blocks.has(cid):
                return error(f"block {arg} not found")
            self.pins.add(cid.multihash)
            return JSONResponse({"Pins": [arg]})

        @app.post("/api/v0/pin/rm")
        def pin_rm(arg: str) -> Response:
            cid = CID.decode(arg)
            if cid.multihash not in self.pins:
                return error("not pinned or pinned indirectly")
            self.pins.discard(cid.multihash)
            return JSONResponse({"Pins": [arg]})

        @app.post("/api/v0/pin/ls")
        def pin_ls(arg: str) -> Response:
            if CID.decode(arg).multihash not in self.pins:
                return error(f"path '{arg}' is not pinned")
            return JSONResponse({"Keys": {arg: {"Type": "recursive"}}})

        return app


@dataclass
class FakePinningService:
    pins: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                body = {"error": {"reason": "UNAUTHORIZED", "details": "bad token"}}
                return JSONResponse(body, 401)
            response: Response = await call_next(request)
            return response

        @app.post("/pins", status_code=202)
        async def add(request: Request) -> dict[str, Any]:
            body = await request.json()
            requestid = f"req-{next(self.ids)}"
            self.pins[requestid] = {
                "requestid": requestid,
                "status": "queued",
                "created": "2026-11-26T00:00:00Z",
                "pin": body,
                "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/QmFake"],
            }
            return self.pins[requestid]

        @app.get("/pins/{requestid}")
        def get(requestid: str) -> Response:
            if requestid not in self.pins:
                return JSONResponse({"error": {"reason": "NOT_FOUND"}}, 404)
            pin = self.pins[requestid]
            self.polls[requestid] = self.polls.get(requestid, 0) + 1
            if pin["pin"].get("name") == "doomed":
                pin["status"], pin["info"] = "failed", {"reason": "no providers"}
            elif pin["pin"].get("name") != "stuck":
                pin["status"] = ("queued", "pinning", "pinned")[min(self.polls[requestid], 2)]
            return JSONResponse(pin)

        @app.get("/pins")
        def find(cid: str, status: str = "pinned") -> dict[str, Any]:
            results = [p for p in self.pins.values() if p["pin"]["cid"] == cid]
            return {"count": len(results), "results": results}

        @app.delete("/pins/{requestid}", status_code=202)
        def remove(requestid: str) -> Response:
            if self.pins.pop(requestid, None) is None:
                return JSONResponse({"error": {"reason": "NOT_FOUND"}}, 404)
            return Response(status_code=202)

        return app


@pytest.fixture
def content() -> tuple[MemoryBlockstore, CID, bytes]:
    store = MemoryBlockstore()
    data = random.Random(40).randbytes(700_000)
    return store, import_bytes(data, profile=CID_VERSION_1, blockstore=store).cid, data


def test_a_car_import_into_kubo_pins_exactly_our_dag(
    content: tuple[MemoryBlockstore, CID, bytes],
) -> None:
    store, root, _ = content
    kubo = FakeKubo()

    async def go(base: str) -> None:
        async with httpx.AsyncClient() as client:
            rpc = KuboRpc(base, client=client)
            assert await rpc.version() == "0.43.1"
            assert await rpc.import_car(root, blockstore=store) == [root]
            assert await rpc.is_pinned(root)
            await rpc.pin_rm(root)
            assert not await rpc.is_pinned(root)
            await rpc.pin_add(root)
            assert await rpc.is_pinned(root)

    with serve(kubo.app()) as base:
        run(go(base))
    assert len(kubo.blocks) == len(store) == 4
    assert all(kubo.blocks.get(cid) == store.get(cid) for cid in store)


def test_kubo_errors_are_reported(content: tuple[MemoryBlockstore, CID, bytes]) -> None:
    store, root, data = content
    absent = compute_cid(b"absent", codec=RAW)

    async def go(base: str) -> None:
        async with httpx.AsyncClient() as client:
            rpc = KuboRpc(base, client=client)
            with pytest.raises(PinningError, match="not found"):
                await rpc.pin_add(absent)
            leaf = compute_cid(data[:262144], codec=RAW)
            store.delete(leaf)
            store.put(leaf, b"tampered")
            with pytest.raises(BlockVerificationError):
                await rpc.import_car(root, blockstore=store)  # nothing wrong is ever sent
            assert not await rpc.is_pinned(root)

    kubo = FakeKubo()
    with serve(kubo.app()) as base:
        run(go(base))
    assert not kubo.pins


def test_an_unreachable_node_is_a_pinning_error() -> None:
    async def go() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            with pytest.raises(PinningError, match="Kubo RPC"):
                await KuboRpc("http://127.0.0.1:9", client=client).version()

    run(go())


def test_unreachable_endpoints_are_named_without_their_credentials() -> None:
    """A pinning error reaches a mint's error message and the logs: the endpoint is named by
    scheme, host and port only (its user, password and path can hold keys)."""
    port = free_port()  # nothing listens there
    secret_url = f"http://user:s3cret@127.0.0.1:{port}/v3/APIKEY123"

    async def go() -> list[str]:
        messages = []
        async with httpx.AsyncClient(timeout=2) as client:
            for call in (
                KuboRpc(secret_url, client=client).version(),
                PinningService(secret_url, token="tok3n", client=client).get("r1"),
            ):
                with pytest.raises(PinningError) as caught:
                    await call
                messages.append(str(caught.value))
        return messages

    for message in run(go()):
        assert f"http://127.0.0.1:{port}" in message and "no connection" in message
        assert not any(s in message for s in ("s3cret", "APIKEY123", "user", "tok3n")), message


def test_the_pinning_service_flow(content: tuple[MemoryBlockstore, CID, bytes]) -> None:
    _, root, _ = content
    service = FakePinningService()
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go(base: str) -> None:
        async with httpx.AsyncClient() as client:
            pins = PinningService(base, token=TOKEN, client=client)
            status = await pins.add(root, name="avatar-7", origins=["/ip4/127.0.0.1/tcp/4001"])
            assert (status.status, status.cid, status.name) == ("queued", root, "avatar-7")
            assert status.delegates
            done = await pins.wait(status.requestid, timeout=10, interval=1, sleep=fake_sleep)
            assert done.status == "pinned"
            assert sleeps == [1]  # queued -> (sleep) -> pinned on the second poll
            assert [p.requestid for p in await pins.find(root)] == [status.requestid]
            await pins.remove(status.requestid)
            assert await pins.find(root) == []
            with pytest.raises(PinningError, match="404"):
                await pins.remove(status.requestid)

    with serve(service.app()) as base:
        run(go(base))


def test_pinning_service_failures(content: tuple[MemoryBlockstore, CID, bytes]) -> None:
    _, root, _ = content
    service = FakePinningService()

    async def no_sleep(seconds: float) -> None:
        return None

    async def go(base: str) -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(PinningError, match="UNAUTHORIZED"):
                await PinningService(base, token="wrong", client=client).add(root)
            pins = PinningService(base, token=TOKEN, client=client)
            doomed = await pins.add(root, name="doomed")
            with pytest.raises(PinningError, match="failed"):
                await pins.wait(doomed.requestid, timeout=5, sleep=no_sleep)
            stuck = await pins.add(root, name="stuck")
            with pytest.raises(PinningError, match="within 4"):
                await pins.wait(stuck.requestid, timeout=4, interval=2, sleep=no_sleep)
            assert service.polls[stuck.requestid] == 3

    with serve(service.app()) as base:
        run(go(base))
