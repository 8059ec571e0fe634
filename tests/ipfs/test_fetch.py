"""Verified fetch against real gateways on 127.0.0.1 that misbehave in every way we know."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.car import encode_header, encode_section
from hexavatar.ipfs.cid import CID, RAW, compute_cid
from hexavatar.ipfs.errors import FetchError, NotAFileError, PathNotFound
from hexavatar.ipfs.exporter import load_block, resolve_trail, walk_dag
from hexavatar.ipfs.fetch import FetchLimits, FetchReport, fetch_bytes, fetch_verified
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015
from hexavatar.web import gateway

from .test_gateway_support import serve

T = TypeVar("T")
SMALL = replace(UNIXFS_V0_2015, chunk_size=256, max_links=4)
DATA = random.Random(31).randbytes(256 * 23 + 100)
OTHER = random.Random(32).randbytes(256 * 23 + 100)
FAST = FetchLimits(request_timeout=0.5, total_timeout=30, max_bytes=1024 * 1024)
CAR_TYPE = "application/vnd.ipld.car; version=1; order=dfs; dups=n"


@dataclass
class World:
    base: str
    store: MemoryBlockstore
    root: CID
    other: CID
    folder: CID
    big: CID
    big_data: bytes


def _blocks(store: MemoryBlockstore, root: CID, path: str) -> list[tuple[CID, bytes]]:
    trail = resolve_trail(root, path, blockstore=store)
    out = [(cid, load_block(cid, blockstore=store)) for cid in trail.blocks]
    seen = {cid.bytes for cid, _ in out}
    return out + list(walk_dag(trail.cid, blockstore=store, scope="entity", skip=seen))


def _car(root: CID, blocks: list[tuple[CID, bytes]]) -> bytes:
    return encode_header([root]) + b"".join(encode_section(c, d) for c, d in blocks)


async def _stall(request: Request) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(0.05)


def bad_gateways(world_store: MemoryBlockstore, other: CID) -> FastAPI:
    """Gateways at /{mode}/ipfs/...; /good is the real gateway router."""
    app = FastAPI()
    from types import SimpleNamespace

    app.state.services = SimpleNamespace(blockstore=world_store)
    app.include_router(gateway.router, prefix="/good")

    @app.get("/{mode}/ipfs/{cid}")
    @app.get("/{mode}/ipfs/{cid}/{path:path}")
    async def misbehave(request: Request, mode: str, cid: str, path: str = "") -> Response:
        root = CID.decode(cid)
        is_car = request.query_params.get("format") == "car"
        if mode == "e500":
            return Response(b"oops", status_code=500)
        if mode == "stall":
            await _stall(request)
            return Response(b"")
        if not is_car:
            return _raw(mode, root)
        blocks = _blocks(world_store, root, path)
        return _car_response(mode, root, blocks, request)

    def _raw(mode: str, cid: CID) -> Response:
        if mode in ("truncated", "notcar", "stallbody"):
            return Response(status_code=404)
        if mode == "endless":
            return StreamingResponse(_forever(b"x" * 65536))
        if mode in ("wrongroot", "tamper"):
            return Response(b"EVIL" + load_block(cid, blockstore=world_store)[4:])
        return Response(load_block(cid, blockstore=world_store))

    def _car_response(
        mode: str, root: CID, blocks: list[tuple[CID, bytes]], request: Request
    ) -> Response:
        if mode == "notcar":
            return Response(b"<html>", media_type="text/html")
        if mode == "wrongroot":
            return Response(_car(other, _blocks(world_store, other, "")), media_type=CAR_TYPE)
        if mode == "tamper":
            cid, data = blocks[-3]
            blocks[-3] = (cid, data[:-1] + bytes([data[-1] ^ 1]))
        if mode in ("truncated", "truncated_rawok"):
            car = _car(root, blocks)
            return Response(car[: len(car) * 2 // 3], media_type=CAR_TYPE)
        if mode == "extra":
            junk = [(compute_cid(bytes([i]) * 50, codec=RAW), bytes([i]) * 50) for i in range(9)]
            mixed = [x for pair in zip(junk, blocks, strict=False) for x in pair] + blocks[9:]
            return Response(_car(root, junk[:3] + mixed), media_type=CAR_TYPE)
        if mode == "endless":
            return StreamingResponse(_endless_car(root), media_type=CAR_TYPE)
        if mode == "shuffled":  # order=unk: any order is allowed
            random.Random(1).shuffle(blocks)
            car = _car(root, blocks)
            return Response(car, media_type="application/vnd.ipld.car; version=1; order=unk")
        if mode == "stallbody":
            return StreamingResponse(
                _then_stall(_car(root, blocks[:2]), request), media_type=CAR_TYPE
            )
        return Response(_car(root, blocks), media_type=CAR_TYPE)

    return app


async def _forever(chunk: bytes) -> AsyncIterator[bytes]:
    while True:
        yield chunk
        await asyncio.sleep(0)


async def _endless_car(root: CID) -> AsyncIterator[bytes]:
    yield encode_header([root])
    i = 0
    while True:
        data = i.to_bytes(8, "big") * 512
        yield encode_section(compute_cid(data, codec=RAW), data)
        i += 1
        await asyncio.sleep(0)


async def _then_stall(first: bytes, request: Request) -> AsyncIterator[bytes]:
    yield first
    await _stall(request)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    store = MemoryBlockstore()
    root = import_bytes(DATA, profile=SMALL, blockstore=store).cid
    other = import_bytes(OTHER, profile=SMALL, blockstore=store).cid
    tree = {f"nft/{i}.json": f'{{"id": {i}}}'.encode() for i in range(300)}
    tree["nft/image.bin"] = DATA
    folder = import_tree(tree, profile=replace(SMALL, hamt_threshold=1000), blockstore=store).cid
    big_data = random.Random(33).randbytes(3 * 1024 * 1024 + 5)
    big = import_bytes(big_data, profile=CID_VERSION_1, blockstore=store).cid
    with serve(bad_gateways(store, other)) as base:
        yield World(base, store, root, other, folder, big, big_data)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _fetch(
    world: World, modes: list[str], *, cid: CID | None = None, path: str = "", **kw: object
) -> tuple[bytes, FetchReport]:
    report = FetchReport()
    async with httpx.AsyncClient() as client:
        data = await fetch_bytes(
            cid or world.root,
            path=path,
            gateways=[f"{world.base}/{mode}" for mode in modes],
            client=client,
            limits=kw.pop("limits", FAST),  # type: ignore[arg-type]
            report=report,
            **kw,  # type: ignore[arg-type]
        )
    return data, report


def test_a_good_gateway_serves_the_exact_file_from_one_car(world: World) -> None:
    data, report = run(_fetch(world, ["good"]))
    assert data == DATA
    assert report.complete and report.bytes_out == len(DATA)
    assert [(a.mode, a.outcome) for a in report.attempts] == [("car", "ok")]
    assert report.attempts[0].blocks == report.blocks > 20


def test_failover_past_every_kind_of_bad_gateway(world: World) -> None:
    modes = ["e500", "stall", "notcar", "tamper", "wrongroot", "truncated", "endless", "good"]
    started = time.monotonic()
    data, report = run(_fetch(world, modes))
    assert data == DATA
    assert report.gateways_used[-1].endswith("/good")
    outcomes = {(a.gateway.rsplit("/", 1)[1], a.mode): a.outcome for a in report.attempts}
    assert outcomes[("e500", "car")] == "http_status"
    assert outcomes[("e500", "raw")] == "http_status"
    assert outcomes[("stall", "car")] == "timeout"
    assert outcomes[("notcar", "car")] == "not_car"
    assert outcomes[("tamper", "car")] == "tampered"
    assert outcomes[("truncated", "car")] == "truncated"
    assert outcomes[("endless", "car")] == "too_large"
    assert outcomes[("wrongroot", "raw")] == "tampered"
    assert outcomes[("good", "car")] == "ok"
    assert time.monotonic() - started < 20  # stalls fail within their caps


def test_blocks_before_a_tampered_one_are_kept_and_the_rest_resumes(world: World) -> None:
    chunks: list[bytes] = []
    report = FetchReport()

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            gateways = [f"{world.base}/tamper", f"{world.base}/good"]
            async for chunk in fetch_verified(
                world.root, gateways=gateways, client=client, limits=FAST, report=report
            ):
                chunks.append(chunk)

    run(go())
    assert b"".join(chunks) == DATA  # nothing repeated, nothing skipped
    tamper, good = report.attempts[0], report.attempts[-1]
    assert tamper.outcome == "tampered" and tamper.blocks > 10
    assert good.gateway.endswith("/good") and good.outcome == "ok"


def test_extra_blocks_are_ignored(world: World) -> None:
    data, report = run(_fetch(world, ["extra"]))
    assert data == DATA
    assert report.attempts[0].outcome == "ok"


def test_a_truncated_car_falls_back_to_raw_blocks_on_the_same_gateway(world: World) -> None:
    data, report = run(_fetch(world, ["truncated_rawok"]))
    assert data == DATA
    assert [(a.mode, a.outcome) for a in report.attempts] == [("car", "truncated"), ("raw", "ok")]
    assert report.attempts[0].blocks > 0 and report.attempts[1].blocks > 0


@pytest.mark.parametrize("mode", ["e500", "tamper", "wrongroot", "truncated", "endless", "notcar"])
def test_bad_gateways_alone_fail_with_a_report_and_no_unverified_byte(
    world: World, mode: str
) -> None:
    chunks: list[bytes] = []

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            gateways = [f"{world.base}/{mode}"]
            async for chunk in fetch_verified(
                world.root, gateways=gateways, client=client, limits=FAST
            ):
                chunks.append(chunk)

    with pytest.raises(FetchError) as caught:
        run(go())
    assert DATA.startswith(b"".join(chunks))
    report = caught.value.report
    assert isinstance(report, FetchReport) and not report.complete
    assert report.attempts and all(a.outcome != "ok" for a in report.attempts[-1:])


def test_an_endless_body_is_cut_at_the_byte_cap(world: World) -> None:
    limits = replace(FAST, max_bytes=300_000)
    with pytest.raises(FetchError) as caught:
        run(_fetch(world, ["endless"], limits=limits))
    report = caught.value.report
    assert isinstance(report, FetchReport)
    car = report.attempts[0]
    assert car.outcome == "too_large"
    assert 300_000 < car.bytes_read < 300_000 + 70_000


def test_stalls_fail_within_the_total_cap(world: World) -> None:
    limits = replace(FAST, request_timeout=5, total_timeout=1)
    started = time.monotonic()
    with pytest.raises(FetchError):
        run(_fetch(world, ["stall", "stallbody", "stall"], limits=limits))
    assert time.monotonic() - started < 4


def test_a_stall_mid_body_moves_on(world: World) -> None:
    data, report = run(_fetch(world, ["stallbody", "good"]))
    assert data == DATA
    assert report.attempts[0].outcome == "timeout"
    assert report.attempts[0].blocks == 2  # what came before the stall was used (verified)


def test_a_path_through_a_hamt_folder(world: World) -> None:
    data, _ = run(_fetch(world, ["e500", "good"], cid=world.folder, path="nft/image.bin"))
    assert data == DATA
    data, _ = run(_fetch(world, ["good"], cid=world.folder, path="/nft/123.json"))
    assert data == b'{"id": 123}'
    with pytest.raises(PathNotFound):
        run(_fetch(world, ["good"], cid=world.folder, path="nft/nope.json"))
    with pytest.raises(NotAFileError):
        run(_fetch(world, ["good"], cid=world.folder, path="nft"))


def test_a_default_profile_file_and_the_blockstore_cache(world: World) -> None:
    cache = MemoryBlockstore()
    limits = replace(FAST, max_bytes=8 * 1024 * 1024)
    data, _ = run(_fetch(world, ["good"], cid=world.big, blockstore=cache, limits=limits))
    assert data == world.big_data
    assert len(cache) == 14  # 13 leaves and the root
    again, second = run(_fetch(world, ["e500"], cid=world.big, blockstore=cache, limits=limits))
    assert again == world.big_data
    assert second.attempts == []  # nothing asked of any gateway


def test_identity_cids_need_no_gateway() -> None:
    async def go() -> bytes:
        async with httpx.AsyncClient() as client:
            return await fetch_bytes(CID.identity(b"inline"), gateways=[], client=client)

    assert run(go()) == b"inline"


def test_a_file_over_the_size_cap_is_refused(world: World) -> None:
    with pytest.raises(FetchError, match="at most 1000 bytes"):
        run(_fetch(world, ["good"], limits=replace(FAST, max_bytes=1000)))


def test_repeated_leaves_come_in_a_dups_car_or_as_raw_blocks(world: World) -> None:
    zeros = bytes(256 * 10)
    root = import_bytes(zeros, profile=SMALL, blockstore=world.store).cid
    data, report = run(_fetch(world, ["good"], cid=root))
    assert data == zeros
    assert [(a.mode, a.outcome, a.blocks) for a in report.attempts] == [("car", "ok", 14)]
    # a gateway that only writes dups=n carries each distinct block once (root, 3 internal
    # nodes of which two are equal, 10 equal leaves); the repeats come as raw blocks
    data, report = run(_fetch(world, ["nodups"], cid=root))
    assert data == zeros
    car, raw = report.attempts
    assert (car.mode, car.outcome, raw.mode, raw.outcome) == ("car", "ok", "raw", "ok")
    assert (car.blocks, raw.blocks) == (4, 10)


def test_an_unreachable_gateway_is_skipped(world: World) -> None:
    report = FetchReport()

    async def go() -> bytes:
        async with httpx.AsyncClient() as client:
            gateways = ["http://127.0.0.1:9", f"{world.base}/good"]
            return await fetch_bytes(
                world.root, gateways=gateways, client=client, limits=FAST, report=report
            )

    assert run(go()) == DATA
    assert [(a.mode, a.outcome) for a in report.attempts] == [
        ("car", "transport"),
        ("raw", "transport"),
        ("car", "ok"),
    ]


def test_blocks_in_any_order_are_held_until_needed(world: World) -> None:
    data, report = run(_fetch(world, ["shuffled"]))
    assert data == DATA
    assert [(a.mode, a.outcome) for a in report.attempts] == [("car", "ok")]
