"""The /ipfs/ gateway, over real HTTP on 127.0.0.1: path gateway and trustless gateway specs."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.car import CarReader
from hexavatar.ipfs.cid import CID, DAG_CBOR, RAW, compute_cid
from hexavatar.ipfs.exporter import cat
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015
from hexavatar.web.gateway import CAR_RESPONSE_TYPE, sniff_content_type

from .test_gateway_support import gateway_app, serve

HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
HELLO_V1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>'
BIG = random.Random(21).randbytes(1024 * 1024 + 333)
IMMUTABLE = "public, max-age=29030400, immutable"


@dataclass
class Site:
    base: str
    store: MemoryBlockstore
    big: CID
    site: CID  # folder with index.html
    folder: CID  # folder without index.html
    hamt: CID
    cbor: CID
    entries: dict[str, CID]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    store = MemoryBlockstore()
    import_bytes(HELLO, profile=UNIXFS_V0_2015, blockstore=store)
    import_bytes(HELLO, profile=CID_VERSION_1, blockstore=store)
    big = import_bytes(BIG, profile=CID_VERSION_1, blockstore=store).cid
    site = import_tree(
        {"index.html": b"<!doctype html><p>hi</p>", "img/a.png": PNG, "img/b.svg": SVG},
        profile=CID_VERSION_1,
        blockstore=store,
    )
    folder = import_tree(
        {"hello.txt": HELLO, "data.json": b'{"a": [1, 2]}', "<b>&.txt": b"x", "big.bin": BIG},
        profile=CID_VERSION_1,
        blockstore=store,
    )
    hamt = import_tree(
        {f"{i}.json": f'{{"token": {i}}}'.encode() for i in range(500)},
        profile=replace(CID_VERSION_1, hamt_threshold=2000),
        blockstore=store,
    )
    cbor_block = b"\xa1\x61a\x01"
    cbor = compute_cid(cbor_block, codec=DAG_CBOR)
    store.put(cbor, cbor_block)
    entries = {
        **site.entries,
        **folder.entries,
        **{f"hamt/{k}": v for k, v in hamt.entries.items()},
    }
    with serve(gateway_app(store)) as base:
        yield Site(base, store, big, site.cid, folder.cid, hamt.cid, cbor, entries)


def get(site: Site, path: str, **kw: object) -> httpx.Response:
    return httpx.get(site.base + path, timeout=10, **kw)  # type: ignore[arg-type]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


# --- files --------------------------------------------------------------------------------


@pytest.mark.parametrize("cid", [HELLO_V0, HELLO_V1])
def test_a_file_with_the_spec_headers(site: Site, cid: str) -> None:
    r = get(site, f"/ipfs/{cid}")
    assert r.status_code == 200
    assert r.content == HELLO
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["etag"] == f'"{cid}"'
    assert r.headers["cache-control"] == IMMUTABLE
    assert r.headers["x-ipfs-path"] == f"/ipfs/{cid}"
    assert r.headers["x-ipfs-roots"] == cid
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-length"] == "12"
    assert r.headers["accept-ranges"] == "bytes"


def test_a_big_file_streams_whole(site: Site) -> None:
    r = get(site, f"/ipfs/{site.big}")
    assert r.status_code == 200
    assert r.content == BIG
    assert r.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("img/a.png", "image/png"),
        ("img/b.svg", "image/svg+xml"),
        ("data.json", "application/json"),
        ("hello.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types_are_sniffed(site: Site, path: str, media_type: str) -> None:
    root = site.site if path.startswith("img/") else site.folder
    r = get(site, f"/ipfs/{root}/{path}")
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert r.headers["content-security-policy"] == "sandbox"  # no script on our origin
    assert r.headers["x-ipfs-roots"].split(",") == [str(root), *_segment_roots(site, path)]


def _segment_roots(site: Site, path: str) -> list[str]:
    parts = path.split("/")
    return [str(site.entries["/".join(parts[: i + 1])]) for i in range(len(parts))]


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None, "image/jpeg"),
        (b"GIF89a\x01\x00", None, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", None, "image/svg+xml"),
        (b"<!DOCTYPE html><html>", None, "text/html; charset=utf-8"),
        (b'[1, {"a": null}]', None, "application/json"),
        (b"{not json", None, "text/plain; charset=utf-8"),
        (b"plain words\n", None, "text/plain; charset=utf-8"),
        (b"\x00\x01\x02binary", None, "application/octet-stream"),
        (b"anything", "style.CSS", "text/css; charset=utf-8"),
        (b"", None, "text/plain; charset=utf-8"),
    ],
)
def test_sniff_content_type(head: bytes, name: str | None, expected: str) -> None:
    assert sniff_content_type(head, name) == expected


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, len(BIG) - 1),
        ("bytes=-100", len(BIG) - 100, len(BIG) - 1),
        ("bytes=262140-262150", 262140, 262150),  # across two leaves
        ("bytes=5-999999999", 5, len(BIG) - 1),
        ("bytes=-99999999", 0, len(BIG) - 1),
    ],
)
def test_single_ranges(site: Site, header: str, first: int, last: int) -> None:
    r = get(site, f"/ipfs/{site.big}", headers={"Range": header})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(BIG)}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.content == BIG[first : last + 1]


@pytest.mark.parametrize(
    "header", [f"bytes={len(BIG)}-", f"bytes={len(BIG) + 5}-{len(BIG) + 9}", "bytes=-0"]
)
def test_unsatisfiable_ranges_get_416(site: Site, header: str) -> None:
    r = get(site, f"/ipfs/{site.big}", headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(BIG)}"
    assert error_code(r) == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=x-"])
def test_ranges_we_do_not_serve_give_the_whole_file(site: Site, header: str) -> None:
    r = get(site, f"/ipfs/{HELLO_V0}", headers={"Range": header})
    assert r.status_code == 200
    assert r.content == HELLO


def test_if_range_with_another_etag_gives_the_whole_file(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V0}", headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert r.status_code == 200
    r = get(site, f"/ipfs/{HELLO_V0}", headers={"Range": "bytes=0-1", "If-Range": f'"{HELLO_V0}"'})
    assert (r.status_code, r.content) == (206, b"he")


def test_head_has_the_headers_and_no_body(site: Site) -> None:
    r = httpx.head(f"{site.base}/ipfs/{site.big}")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(len(BIG))
    assert r.headers["etag"] == f'"{site.big}"'
    assert r.headers["x-ipfs-roots"] == str(site.big)


def test_if_none_match_gives_304(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"If-None-Match": f'W/"x", "{HELLO_V1}"'})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == f'"{HELLO_V1}"'


def test_filename_and_download_set_content_disposition(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V1}?filename=hello.txt")
    assert r.headers["content-disposition"] == 'inline; filename="hello.txt"'
    r = get(site, f"/ipfs/{HELLO_V1}", params={"filename": "testтест.pdf", "download": "true"})
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"test____.pdf\"; filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.pdf"
    )
    assert r.headers["content-type"] == "application/pdf"


# --- directories --------------------------------------------------------------------------


def test_a_directory_without_a_trailing_slash_redirects(site: Site) -> None:
    r = get(site, f"/ipfs/{site.folder}?x=1")
    assert r.status_code == 301
    assert r.headers["location"] == f"/ipfs/{site.folder}/?x=1"


def test_index_html_is_served_for_its_directory(site: Site) -> None:
    r = get(site, f"/ipfs/{site.site}/")
    assert r.status_code == 200
    assert r.content == b"<!doctype html><p>hi</p>"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["etag"] == f'"{site.entries["index.html"]}"'


def test_a_directory_listing_in_html_escapes_names(site: Site) -> None:
    r = get(site, f"/ipfs/{site.folder}/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["etag"].startswith('"DirIndex-')
    assert "&lt;b&gt;&amp;.txt" in r.text and "<b>&" not in r.text
    assert 'href="%3Cb%3E%26.txt"' in r.text
    assert str(site.entries["hello.txt"]) in r.text


def test_a_directory_listing_in_json(site: Site) -> None:
    r = get(site, f"/ipfs/{site.hamt}/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    listing = r.json()
    assert listing["cid"] == str(site.hamt)
    names = {entry["name"]: entry["cid"] for entry in listing["entries"]}
    assert len(names) == 500
    assert names["42.json"] == str(site.entries["hamt/42.json"])


def test_paths_through_a_hamt_directory(site: Site) -> None:
    r = get(site, f"/ipfs/{site.hamt}/321.json")
    assert r.status_code == 200
    assert r.json() == {"token": 321}


# --- raw blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", [{"params": {"format": "raw"}}, {"headers": {"Accept": "application/vnd.ipld.raw"}}]
)
def test_a_raw_block(site: Site, how: dict[str, dict[str, str]]) -> None:
    r = get(site, f"/ipfs/{HELLO_V0}", **how)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == CID.decode(HELLO_V0).digest
    assert r.headers["content-type"] == "application/vnd.ipld.raw"
    assert r.headers["content-disposition"] == f'attachment; filename="{HELLO_V0}.bin"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["etag"] == f'"{HELLO_V0}.raw"'
    assert r.headers["cache-control"] == IMMUTABLE
    if "headers" in how:
        assert r.headers["content-location"] == f"/ipfs/{HELLO_V0}?format=raw"


def test_format_wins_over_accept(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V1}?format=raw", headers={"Accept": "application/vnd.ipld.car"})
    assert r.headers["content-type"] == "application/vnd.ipld.raw"


def test_the_identity_probe(site: Site) -> None:
    r = get(site, "/ipfs/bafkqaaa?format=raw")
    assert (r.status_code, r.content) == (200, b"")
    r = get(site, "/ipfs/bafkqaaa?format=car")
    assert r.status_code == 200
    reader = CarReader(io.BytesIO(r.content))
    assert reader.roots == (CID.decode("bafkqaaa"),)
    assert list(reader) == []
    assert httpx.head(f"{site.base}/ipfs/bafkqaaa?format=raw").status_code == 200


# --- CAR ----------------------------------------------------------------------------------


def _car(r: httpx.Response) -> tuple[tuple[CID, ...], list[CID], MemoryBlockstore]:
    assert r.status_code == 200, r.text
    reader = CarReader(io.BytesIO(r.content))
    store = MemoryBlockstore()
    order = []
    for block in reader:
        store.put(block.cid, block.data)
        order.append(block.cid)
    return reader.roots, order, store


def test_a_car_of_a_file_with_the_spec_headers(site: Site) -> None:
    r = get(site, f"/ipfs/{site.big}", headers={"Accept": "application/vnd.ipld.car"})
    roots, order, store = _car(r)
    assert roots == (site.big,)
    assert order[0] == site.big and len(order) == len(set(order)) == 6
    assert b"".join(cat(site.big, blockstore=store)) == BIG
    assert r.headers["content-type"] == CAR_RESPONSE_TYPE
    assert r.headers["content-disposition"] == f'attachment; filename="{site.big}.car"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["accept-ranges"] == "none"
    assert r.headers["etag"].startswith(f'W/"{site.big}.car.')
    assert r.headers["content-location"] == f"/ipfs/{site.big}?format=car"


def test_a_car_for_a_path_carries_the_blocks_that_prove_it(site: Site) -> None:
    r = get(site, f"/ipfs/{site.hamt}/77.json?format=car&dag-scope=entity")
    roots, order, store = _car(r)
    assert roots == (site.hamt,)
    assert order[0] == site.hamt
    assert order[-1] == site.entries["hamt/77.json"]
    # a client holding only this CAR can walk the path and read the file
    from hexavatar.ipfs.exporter import resolve_trail

    trail = resolve_trail(site.hamt, "77.json", blockstore=store)
    assert b"".join(cat(trail.cid, blockstore=store)) == b'{"token": 77}'
    assert len(order) < 10


def test_dag_scopes(site: Site) -> None:
    root = site.folder
    _, all_blocks, _ = _car(get(site, f"/ipfs/{root}?format=car"))
    _, entity, _ = _car(get(site, f"/ipfs/{root}?format=car&dag-scope=entity"))
    _, block, _ = _car(get(site, f"/ipfs/{root}?format=car&dag-scope=block"))
    assert block == entity == [root]  # a flat directory is one block
    assert len(all_blocks) > 8
    _, file_block, _ = _car(get(site, f"/ipfs/{root}/big.bin?format=car&dag-scope=block"))
    assert file_block == [root, site.entries["big.bin"]]
    etags = {
        get(site, f"/ipfs/{root}?format=car&dag-scope={s}").headers["etag"]
        for s in ("all", "entity", "block")
    }
    assert len(etags) == 3


def test_entity_bytes(site: Site) -> None:
    url = f"/ipfs/{site.big}?format=car&entity-bytes="
    _, first, _ = _car(get(site, url + "0:99"))
    assert first[0] == site.big and len(first) == 2
    _, last, store = _car(get(site, url + "-10:*"))
    assert len(last) == 2
    assert last[1].codec == RAW
    assert store.get(last[1])[-10:] == BIG[-10:]
    _, everything, _ = _car(get(site, url + "0:*"))
    assert len(everything) == 6
    assert get(site, url + f"{len(BIG)}:*").status_code == 400
    assert get(site, url + "nope").status_code == 400


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        ("application/vnd.ipld.car; version=2", ""),
        ("application/vnd.ipld.car; dups=maybe", ""),
        ("application/vnd.ipld.car; order=weird", ""),
        ("application/x-tar", ""),
        ("application/vnd.ipld.dag-json", ""),
        ("", "?format=car&car-version=2"),
        ("", "?format=tar"),
    ],
)
def test_what_cannot_be_served_is_406(site: Site, accept: str, query: str) -> None:
    headers = {"Accept": accept} if accept else {}
    r = get(site, f"/ipfs/{HELLO_V1}{query}", headers=headers)
    assert r.status_code == 406
    assert error_code(r) == "not_acceptable"


def test_accept_preferences_are_followed(site: Site) -> None:
    accept = "application/vnd.ipld.car;order=weird, application/vnd.ipld.raw;q=0.5, */*;q=0.1"
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"Accept": accept})
    assert r.headers["content-type"] == "application/vnd.ipld.raw"
    accept = "application/vnd.ipld.raw;q=0.2, application/vnd.ipld.car;version=1;order=dfs"
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"Accept": accept})
    assert r.headers["content-type"] == CAR_RESPONSE_TYPE
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.content == HELLO


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ipfs/not-a-cid",
        "/ipfs/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5l",
        "/ipfs/bafybeigdyrzt",
        f"/ipfs/{HELLO_V1}?format=bogus",
        f"/ipfs/{HELLO_V1}?format=car&dag-scope=most",
    ],
)
def test_malformed_requests_are_400_with_a_json_body(site: Site, path: str) -> None:
    r = get(site, path)
    assert r.status_code == 400
    assert error_code(r) == "invalid_gateway_request"


@pytest.mark.parametrize(
    "path",
    [
        f"/ipfs/{compute_cid(b'absent', codec=RAW)}",
        f"/ipfs/{compute_cid(b'absent', codec=RAW)}?format=car",
        f"/ipfs/{compute_cid(b'absent', codec=RAW)}?format=raw",
        "/ipfs/{folder}/missing.txt",
        "/ipfs/{folder}/hello.txt/deeper",
        "/ipfs/{hamt}/9999.json",
    ],
)
def test_content_that_is_not_here_is_404(site: Site, path: str) -> None:
    r = get(site, path.format(folder=site.folder, hamt=site.hamt))
    assert r.status_code == 404
    assert error_code(r) == "content_not_found"


def test_only_if_cached(site: Site) -> None:
    absent = compute_cid(b"absent", codec=RAW)
    r = get(site, f"/ipfs/{absent}", headers={"Cache-Control": "only-if-cached"})
    assert r.status_code == 412
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"Cache-Control": "only-if-cached"})
    assert r.status_code == 200


def test_service_worker_registration_on_a_bare_root_is_refused(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V1}", headers={"Service-Worker": "script"})
    assert r.status_code == 400


def test_dag_cbor_is_served_as_is(site: Site) -> None:
    r = get(site, f"/ipfs/{site.cbor}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.ipld.dag-cbor"
    assert r.content == b"\xa1\x61a\x01"


def test_tampered_blocks_are_never_sent() -> None:
    store = MemoryBlockstore()
    data = random.Random(5).randbytes(3 * 262144)
    root = import_bytes(data, profile=CID_VERSION_1, blockstore=store).cid
    second = compute_cid(data[262144:524288], codec=RAW)
    store.delete(second)
    store.put(second, b"EVIL" * 65536)
    small = compute_cid(b"small file", codec=RAW)
    store.put(small, b"EVIL")
    with serve(gateway_app(store)) as base:
        r = httpx.get(f"{base}/ipfs/{small}")
        assert r.status_code >= 500
        assert error_code(r) == "block_verification_failed"
        assert b"EVIL" not in r.content
        received = bytearray()
        with pytest.raises(httpx.HTTPError), httpx.stream("GET", f"{base}/ipfs/{root}") as s:
            assert s.status_code == 200
            for chunk in s.iter_bytes():
                received += chunk
        assert bytes(received) == data[: len(received)]
        assert len(received) <= 262144
        r = httpx.get(f"{base}/ipfs/{second}?format=raw")
        assert r.status_code >= 500 and b"EVIL" not in r.content
        assert error_code(r) == "block_verification_failed"


def test_dups_y_sends_a_repeated_block_every_time(site: Site) -> None:
    store = site.store
    zeros = import_bytes(bytes(262144 * 3), profile=CID_VERSION_1, blockstore=store).cid
    accept = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
    r = get(site, f"/ipfs/{zeros}", headers={"Accept": accept})
    _, order, _ = _car(r)
    assert r.headers["content-type"] == accept
    assert len(order) == 4 and len(set(order)) == 2  # root, then the same leaf three times
    r = get(site, f"/ipfs/{zeros}?format=car&car-dups=n", headers={"Accept": accept})
    assert r.headers["content-type"] == CAR_RESPONSE_TYPE
    assert len(_car(r)[1]) == 2


def test_a_range_of_a_raw_block(site: Site) -> None:
    r = get(site, f"/ipfs/{HELLO_V1}?format=raw", headers={"Range": "bytes=6-"})
    assert r.status_code == 206
    assert r.content == b"world\n"
    assert r.headers["content-range"] == "bytes 6-11/12"
    assert r.headers["content-type"] == "application/vnd.ipld.raw"


def test_a_dag_pb_node_without_unixfs_is_served_raw_but_not_deserialized() -> None:
    from hexavatar.ipfs.cid import DAG_PB
    from hexavatar.ipfs.dagpb import PBNode, encode_node

    store = MemoryBlockstore()
    block = encode_node(PBNode(data=b"not unixfs"))
    cid = compute_cid(block, codec=DAG_PB)
    store.put(cid, block)
    with serve(gateway_app(store)) as base:
        assert httpx.get(f"{base}/ipfs/{cid}").status_code == 406
        assert httpx.get(f"{base}/ipfs/{cid}?format=raw").content == block


def test_the_openapi_document_lists_the_gateway_once_per_path(site: Site) -> None:
    import warnings

    from fastapi import FastAPI

    from hexavatar.web import gateway

    app = FastAPI()
    app.include_router(gateway.router)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id would warn
        schema = app.openapi()
    assert set(schema["paths"]) == {"/ipfs/{cid}", "/ipfs/{cid}/{path}"}
    assert set(schema["paths"]["/ipfs/{cid}"]) == {"get"}
    params = {p["name"] for p in schema["paths"]["/ipfs/{cid}"]["get"]["parameters"]}
    assert params == {"cid"}  # no stray ?path= query parameter
    assert get(site, f"/ipfs/{HELLO_V0}?path=anything").content == HELLO


def test_an_index_html_folder_is_listed_not_served() -> None:
    store = MemoryBlockstore()
    root = import_tree(
        {"index.html/inner.txt": b"x", "a.txt": b"a"}, profile=CID_VERSION_1, blockstore=store
    ).cid
    with serve(gateway_app(store)) as base:
        r = httpx.get(f"{base}/ipfs/{root}/")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "a.txt" in r.text and r.headers["etag"].startswith('"DirIndex-')


@settings(max_examples=40, deadline=None)
@given(first=st.integers(0, len(BIG) + 10), span=st.one_of(st.none(), st.integers(0, 600_000)))
def test_any_single_range_is_the_slice_or_416(site: Site, first: int, span: int | None) -> None:
    header = f"bytes={first}-" + ("" if span is None else str(first + span))
    r = get(site, f"/ipfs/{site.big}", headers={"Range": header})
    if first >= len(BIG):
        assert r.status_code == 416
        return
    last = len(BIG) - 1 if span is None else min(first + span, len(BIG) - 1)
    assert r.status_code == 206
    assert r.content == BIG[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(BIG)}"
