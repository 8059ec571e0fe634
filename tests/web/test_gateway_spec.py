"""The /ipfs/ gateway of the real app against the trustless and path gateway specs
(https://specs.ipfs.tech/http-gateways/), one test per rule a spec-built client checks.

Most tests drive the mounted app in process; the streaming ones use a real server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.config import load_settings
from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.car import CarReader, encode_header, encode_section
from hexavatar.ipfs.cid import CID, DAG_CBOR, DAG_PB, RAW, compute_cid
from hexavatar.ipfs.dagpb import PBLink, PBNode, encode_node
from hexavatar.ipfs.exporter import walk_dag
from hexavatar.ipfs.fetch import FetchLimits, FetchReport, fetch_bytes
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1
from tests.ipfs.test_gateway_support import gateway_app, serve

CAR_N = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
CAR_Y = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
BIG = random.Random(7).randbytes(4 * 262144)  # four distinct 256 KiB leaves, one root
CBOR_BLOCK = b"\xa1\x61a\x01"  # {"a": 1}


@dataclass
class Site:
    client: TestClient
    file: CID  # a one-block raw file, "hello world\n"
    big: CID  # a four-leaf dag-pb file (BIG)
    folder: CID  # a directory with a/b.txt
    cbor: CID  # a dag-cbor block
    plain_pb: CID  # a dag-pb node without UnixFS data, linking to `file`


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("gateway-spec") / "data"
    settings = load_settings(
        data_dir=str(data_dir), public_url="http://testserver", nft_enabled=False
    )
    with TestClient(create_app(settings)) as client:
        store = client.app.state.services.blockstore  # type: ignore[attr-defined]
        file = import_bytes(b"hello world\n", profile=CID_VERSION_1, blockstore=store).cid
        big = import_bytes(BIG, profile=CID_VERSION_1, blockstore=store).cid
        folder = import_tree({"a/b.txt": b"bee"}, profile=CID_VERSION_1, blockstore=store).cid
        cbor = compute_cid(CBOR_BLOCK, codec=DAG_CBOR)
        store.put(cbor, CBOR_BLOCK)
        node = encode_node(PBNode(data=None, links=[PBLink(hash=file, name="x", tsize=12)]))
        plain_pb = compute_cid(node, codec=DAG_PB)
        store.put(plain_pb, node)
        yield Site(client, file, big, folder, cbor, plain_pb)


def car_blocks(response: httpx.Response) -> list[CID]:
    assert response.status_code == 200, response.text
    return [block.cid for block in CarReader(io.BytesIO(response.content))]


# --- HEAD and conditional requests --------------------------------------------------------


def test_head_of_a_car_sends_the_get_headers_without_a_made_up_length(site: Site) -> None:
    """Path gateway 1.2: HEAD is "same as GET, but does not return any payload". A streamed CAR
    has no length known up front, so HEAD must not announce `Content-Length: 0`."""
    url = f"/ipfs/{site.big}?format=car"
    get, head = site.client.get(url), site.client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert "content-length" not in head.headers
    assert "content-length" not in get.headers  # GET streams it too
    for name in ("content-type", "etag", "x-ipfs-roots", "content-disposition", "vary"):
        assert head.headers[name] == get.headers[name]


def test_a_304_to_a_raw_block_carries_no_length_of_the_unsent_body(site: Site) -> None:
    """If-None-Match: a match "MUST return HTTP status code 304 (Not Modified), without any
    payload"; a Content-Length of the 200's body would make the connection wait for it."""
    etag = site.client.get(f"/ipfs/{site.file}?format=raw").headers["etag"]
    assert etag == f'"{site.file}.raw"'
    r = site.client.get(f"/ipfs/{site.file}?format=raw", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert "content-length" not in r.headers and "content-range" not in r.headers
    assert r.headers["etag"] == etag
    assert r.headers["cache-control"] == "public, max-age=29030400, immutable"


def test_a_304_over_a_real_connection_leaves_it_usable() -> None:
    store = MemoryBlockstore()
    cid = import_bytes(b"0123456789", profile=CID_VERSION_1, blockstore=store).cid
    with serve(gateway_app(store)) as base, httpx.Client(base_url=base, timeout=10) as client:
        etag = f'"{cid}.raw"'
        headers = {"If-None-Match": etag}
        first = client.get(f"/ipfs/{cid}?format=raw", headers=headers)
        again = client.get(f"/ipfs/{cid}?format=raw", headers=headers)  # same connection
        assert (first.status_code, again.status_code) == (304, 304)
        assert client.get(f"/ipfs/{cid}?format=raw").content == b"0123456789"


# --- Vary and Content-Location ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept", "status"),
    [
        ("/ipfs/{file}", "", 200),
        ("/ipfs/{file}", "application/vnd.ipld.raw", 200),
        ("/ipfs/{file}?format=car", "", 200),
        ("/ipfs/{folder}", "", 301),
        ("/ipfs/{file}", "application/x-tar", 406),
    ],
)
def test_every_response_varies_on_accept(site: Site, path: str, accept: str, status: int) -> None:
    """The same URL gives a file, a block or a CAR depending on Accept, so caches must key on
    it (RFC 9110 12.5.5), 406 and the directory redirect included."""
    url = path.format(file=site.file, folder=site.folder)
    headers = {"Accept": accept} if accept else {}
    r = site.client.get(url, headers=headers, follow_redirects=False)
    assert r.status_code == status
    assert "accept" in r.headers["vary"].lower()


def test_content_location_names_the_car_variant_accept_chose(site: Site) -> None:
    """Content-Location is "the URL of the resource with the format query parameter included,
    so that generic HTTP caches can store ... responses separately": for dups=y from Accept,
    that URL must give dups=y too."""
    r = site.client.get(f"/ipfs/{site.file}", headers={"Accept": CAR_Y})
    assert r.headers["content-type"] == CAR_Y
    location = r.headers["content-location"]
    assert location == f"/ipfs/{site.file}?format=car&car-dups=y"
    assert site.client.get(location).headers["content-type"] == CAR_Y
    plain = site.client.get(f"/ipfs/{site.file}", headers={"Accept": "application/vnd.ipld.car"})
    assert plain.headers["content-location"] == f"/ipfs/{site.file}?format=car"


def test_a_format_that_differs_from_accept_wins_and_is_located(site: Site) -> None:
    """`format` SHOULD take precedence over Accept, and Content-Location SHOULD be sent when
    "the format parameter is present, but does not match the format from Accept"."""
    url = f"/ipfs/{site.file}?format=raw"
    r = site.client.get(url, headers={"Accept": "application/vnd.ipld.car"})
    assert r.headers["content-type"] == "application/vnd.ipld.raw"
    assert r.headers["content-location"] == url
    same = site.client.get(url, headers={"Accept": "application/vnd.ipld.raw"})
    assert "content-location" not in same.headers


def test_car_query_parameters_win_over_accept_with_a_matching_location(site: Site) -> None:
    """car-dups: "the URL query parameter SHOULD take precedence and a matching
    Content-Location SHOULD be returned"."""
    url = f"/ipfs/{site.big}?format=car&car-dups=n"
    r = site.client.get(url, headers={"Accept": CAR_Y})
    assert r.headers["content-type"] == CAR_N
    assert r.headers["content-location"] == url
    r = site.client.get(f"/ipfs/{site.big}?car-dups=y", headers={"Accept": CAR_N})
    assert r.headers["content-type"] == CAR_Y
    assert r.headers["content-location"] == f"/ipfs/{site.big}?car-dups=y&format=car"


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        ("application/vnd.ipld.car; version=; order=; dups=", ""),
        ("application/vnd.ipld.car", "&car-version=&car-order=&car-dups="),
    ],
)
def test_empty_car_parameters_count_as_absent(site: Site, accept: str, query: str) -> None:
    """A client "MUST assume implicit order=unk when order is missing, unknown, or empty":
    empty values are no request at all, answered with this gateway's explicit defaults."""
    r = site.client.get(f"/ipfs/{site.file}?format=car{query}", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"] == CAR_N


# --- entity-bytes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["10:5", "-5:-10", "1_0:20", "+1:2", " 1:2", "1:2:3", "1", "a:*", "-2000000:-1999999"],
)
def test_malformed_or_impossible_entity_bytes_are_400(site: Site, value: str) -> None:
    """entity-bytes follows RFC 9110 14.1.2 ("invalid if the last-pos value is present and
    less than the first-pos", integers only); a range wholly outside the file SHOULD be 400."""
    r = site.client.get(f"/ipfs/{site.big}", params={"format": "car", "entity-bytes": value})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_gateway_request"


def test_entity_bytes_negative_and_open_forms(site: Site) -> None:
    """`499:-1000` (500th byte to 1000 from the end), `-1024:*` (the last KiB) and a
    zero-length range (the root block only, "equivalent to dag-scope=block")."""
    url = f"/ipfs/{site.big}?format=car&entity-bytes="
    middle = car_blocks(site.client.get(url + "499:-524289"))  # last byte: offset 524287
    assert middle == [site.big, *(compute_cid(BIG[i : i + 262144], codec=RAW) for i in (0, 262144))]
    tail = car_blocks(site.client.get(url + "-1024:*"))
    assert len(tail) == 2 and tail[1] == compute_cid(BIG[-262144:], codec=RAW)
    assert car_blocks(site.client.get(url + "-10:5")) == [site.big]
    etags = {site.client.get(url + v).headers["etag"] for v in ("0:*", "0:9", "-1024:*")}
    assert len(etags) == 3  # "A Gateway MUST augment the returned Etag" with entity-bytes


def test_entity_of_non_unixfs_dag_pb_is_its_block(site: Site) -> None:
    """dag-scope=entity: "For all queries that reference non-UnixFS data, entity is equivalent
    to block" (and entity-bytes is ignored for what is not a byte array)."""
    for query in ("dag-scope=entity", "entity-bytes=0:5"):
        r = site.client.get(f"/ipfs/{site.plain_pb}?format=car&{query}")
        assert car_blocks(r) == [site.plain_pb]
    everything = car_blocks(site.client.get(f"/ipfs/{site.plain_pb}?format=car"))
    assert everything == [site.plain_pb, site.file]


# --- other formats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=ipns-record", ""), ("", "application/vnd.ipfs.ipns-record")],
)
def test_an_ipns_record_of_an_ipfs_path_is_400(site: Site, query: str, accept: str) -> None:
    """application/vnd.ipfs.ipns-record "Produces 400 Bad Request if the content is not under
    the IPNS namespace"."""
    headers = {"Accept": accept} if accept else {}
    r = site.client.get(f"/ipfs/{site.file}{query}", headers=headers)
    assert r.status_code == 400


def test_a_codec_format_of_that_very_codec_is_the_block_as_it_is(site: Site) -> None:
    """ "If the requested CID already has dag-cbor (0x71) codec, data is ... returned as-is";
    the Etag names the format (`"cid.dag-cbor"`)."""
    r = site.client.get(f"/ipfs/{site.cbor}?format=dag-cbor")
    assert (r.status_code, r.content) == (200, CBOR_BLOCK)
    assert r.headers["content-type"] == "application/vnd.ipld.dag-cbor"
    assert r.headers["etag"] == f'"{site.cbor}.dag-cbor"'
    accept = {"Accept": "application/vnd.ipld.dag-cbor"}
    r = site.client.get(f"/ipfs/{site.cbor}", headers=accept)
    assert (r.status_code, r.content) == (200, CBOR_BLOCK)
    assert r.headers["content-location"] == f"/ipfs/{site.cbor}?format=dag-cbor"
    # conversions are not served: 406, not a mislabelled body
    assert site.client.get(f"/ipfs/{site.cbor}?format=dag-json").status_code == 406
    assert site.client.get(f"/ipfs/{site.file}?format=dag-cbor").status_code == 406


# --- missing blocks -----------------------------------------------------------------------


def test_a_missing_child_block_cuts_the_car_stream() -> None:
    """Trustless gateway "Streaming and Missing Child Blocks": after 200 the gateway "SHOULD
    terminate the stream", so the client sees an incomplete response, never a clean end."""
    store = MemoryBlockstore()
    root = import_bytes(BIG, profile=CID_VERSION_1, blockstore=store).cid
    store.delete(compute_cid(BIG[262144:524288], codec=RAW))
    received = bytearray()
    with serve(gateway_app(store)) as base:
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("GET", f"{base}/ipfs/{root}?format=car", timeout=10) as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received += chunk
        assert httpx.head(f"{base}/ipfs/{root}?format=car", timeout=10).status_code == 200
        missing_root = compute_cid(b"absent", codec=RAW)
        assert httpx.head(f"{base}/ipfs/{missing_root}?format=car", timeout=10).status_code == 404
    assert encode_section(root, store.get(root)) in bytes(received)


# --- the fetch client ---------------------------------------------------------------------


def test_fetch_reads_quoted_car_content_type_parameters() -> None:
    """RFC 9110 8.3.1: `version="1"` is `version=1`. A CAR announced with quoted parameters
    and dups="y" is used as it is: every repeated leaf comes from the one CAR stream."""
    store = MemoryBlockstore()
    zeros = bytes(262144 * 3)  # one leaf, linked three times
    root = import_bytes(zeros, profile=CID_VERSION_1, blockstore=store).cid
    body = encode_header([root]) + b"".join(
        encode_section(cid, data) for cid, data in walk_dag(root, blockstore=store, dups=True)
    )
    app = FastAPI()

    @app.get("/ipfs/{cid}")
    def car(cid: str) -> Response:
        media_type = 'application/vnd.ipld.car; version="1"; order="dfs"; dups="y"'
        return Response(body, media_type=media_type)

    report = FetchReport()
    with serve(app) as base:

        async def fetch() -> bytes:
            async with httpx.AsyncClient() as client:
                limits = FetchLimits(request_timeout=5, total_timeout=30)
                return await fetch_bytes(
                    root, gateways=[base], client=client, limits=limits, report=report
                )

        assert asyncio.run(fetch()) == zeros
    assert [(a.mode, a.outcome, a.blocks) for a in report.attempts] == [("car", "ok", 4)]
