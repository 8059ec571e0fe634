"""Token/metadata/image URI classification: each scheme, gateways, data:, hostile input."""

from __future__ import annotations

import base64
from urllib.parse import quote as pct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexavatar.resolve.errors import DataUriTooLargeError, UriError
from hexavatar.resolve.uris import (
    ArweaveUri,
    DataUri,
    HttpUri,
    IpfsUri,
    IpnsUri,
    classify_uri,
    is_cid,
    select_image,
    substitute_token_id,
)

CID0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID1 = "bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq"
TX = "bNbA3TEQVL60xlgCcqdz4ZPHFZ711cZ3hmkpGttDt_U"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"ipfs://{CID0}", IpfsUri(cid=CID0)),
        (f"ipfs://{CID1}/", IpfsUri(cid=CID1, path="/")),
        (f"ipfs://{CID1}/metadata/1.json", IpfsUri(cid=CID1, path="/metadata/1.json")),
        (f"ipfs://ipfs/{CID1}/a.png", IpfsUri(cid=CID1, path="/a.png")),
        (f"IPFS://{CID1}/a.png?filename=x#frag", IpfsUri(cid=CID1, path="/a.png")),
        (f"  ipfs://{CID1}\n", IpfsUri(cid=CID1)),
        (f"ipfs://{CID1}/a%20b.png", IpfsUri(cid=CID1, path="/a%20b.png")),
        (
            f"https://gateway.example/ipfs/{CID1}/7.json",
            IpfsUri(cid=CID1, path="/7.json", gateway="https://gateway.example"),
        ),
        (
            f"https://ipfs.io/ipfs/{CID0}",
            IpfsUri(cid=CID0, path="", gateway="https://ipfs.io"),
        ),
        (
            f"https://{CID1}.ipfs.dweb.link/img.svg",
            IpfsUri(cid=CID1, path="/img.svg", gateway=f"https://{CID1}.ipfs.dweb.link"),
        ),
        ("https://gateway.example/ipns/example.com/a", IpnsUri(name="example.com", path="/a")),
        ("ipns://example.com/avatar.png", IpnsUri(name="example.com", path="/avatar.png")),
        (
            "ipns://k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8",
            IpnsUri(name="k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"),
        ),
        (
            f"ar://{TX}",
            ArweaveUri(tx_id=TX, path="", url=f"https://arweave.net/{TX}"),
        ),
        (
            f"ar://{TX}/1.json",
            ArweaveUri(tx_id=TX, path="/1.json", url=f"https://arweave.net/{TX}/1.json"),
        ),
        ("https://example.com/a.png?x=1", HttpUri(url="https://example.com/a.png?x=1")),
        ("http://example.com:8080/", HttpUri(url="http://example.com:8080/")),
        ("https://example.com/ipfs/notacid/x", HttpUri(url="https://example.com/ipfs/notacid/x")),
        ("https://[2606:4700::1]/a", HttpUri(url="https://[2606:4700::1]/a")),
        ("https://xn--bcher-kva.example/", HttpUri(url="https://xn--bcher-kva.example/")),
    ],
)
def test_classify(uri: str, expected: object) -> None:
    assert classify_uri(uri) == expected


def test_arweave_gateway_is_configurable() -> None:
    result = classify_uri(f"ar://{TX}/x", arweave_gateway="https://ar-io.example/")
    assert isinstance(result, ArweaveUri)
    assert result.url == f"https://ar-io.example/{TX}/x"


def test_kinds_are_tags() -> None:
    assert classify_uri(f"ipfs://{CID1}").kind == "ipfs"
    assert classify_uri("data:,x").kind == "data"
    assert classify_uri("https://example.com/").kind == "http"


# --- data: ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "media_type", "data"),
    [
        ("data:,Hello%2C%20World%21", "text/plain", b"Hello, World!"),
        ("data:text/plain;base64,SGVsbG8sIFdvcmxkIQ==", "text/plain", b"Hello, World!"),
        ("data:text/plain;base64,SGVsbG8sIFdvcmxkIQ", "text/plain", b"Hello, World!"),
        ("data:Image/SVG+XML;charset=utf-8,<svg/>", "image/svg+xml", b"<svg/>"),
        ("data:image/svg+xml;utf8,<svg>é</svg>", "image/svg+xml", "<svg>é</svg>".encode()),
        ("data:image/png;base64,iVBO\nRw0K", "image/png", base64.b64decode("iVBORw0K")),
        ("data:application/json;BASE64,e30=", "application/json", b"{}"),
        ("data:image/svg+xml," + pct("<svg a='1'/>"), "image/svg+xml", b"<svg a='1'/>"),
    ],
)
def test_data_uris(uri: str, media_type: str, data: bytes) -> None:
    result = classify_uri(uri)
    assert isinstance(result, DataUri)
    assert (result.media_type, result.data) == (media_type, data)


def test_data_uri_cap_without_decoding_all() -> None:
    huge = "data:image/png;base64," + "A" * (50 * 1024 * 1024)
    with pytest.raises(DataUriTooLargeError) as info:
        classify_uri(huge, max_data_bytes=1024)
    assert info.value.code == "data_uri_too_large"
    with pytest.raises(DataUriTooLargeError):
        classify_uri("data:image/png;base64," + "A" * 4000, max_data_bytes=1024)
    with pytest.raises(DataUriTooLargeError):
        classify_uri("data:," + "%41" * 1025, max_data_bytes=1024)
    assert len(classify_uri("data:," + "%41" * 1024, max_data_bytes=1024).data) == 1024  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "uri",
    [
        "data:image/png;base64,!!!!",
        "data:image/png;base64,A",
        "data:image/png;base64,AB=C",
        "data:text/plain",
        "data:image/png\x00;base64,AAAA",
        "data:,a\x00b",
        "data:not a type,x",
        "data:image/png;base64,AA-_",
    ],
)
def test_bad_data_uris(uri: str) -> None:
    with pytest.raises(UriError):
        classify_uri(uri)


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "   ",
        "ipfs://",
        "ipfs:///x",
        "ipfs://ipfs/",
        "ipfs:" + CID1,
        "ipfs://notacid",
        f"ipfs://{CID1[:-1]}!",
        f"ipfs://{CID1}/../secret",
        f"ipfs://{CID1}/a/%2e%2E/b",
        f"ipfs://{CID1}/a%2Fb",
        f"ipfs://{CID1}/a%00b",
        f"ipfs://{CID1}/a\\b",
        f"ipfs://{CID1}/a%zz",
        f"ipfs://{CID1}/a\x00b",
        f"ipfs://{CID1}/a b",
        f"ipfs://{CID1}/\u202eevil",
        f"ipfs://{CID1}\u200b",
        "ipns://",
        "ipns://-bad-.example",
        "ar://short",
        f"ar://{TX}!",
        "ar:/" + TX,
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "ftp://example.com/a.png",
        "blob:https://example.com/uuid",
        "about:blank",
        "//example.com/a.png",
        "/ipfs/" + CID1,
        CID1,
        "https:/example.com",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://ex\u0430mple.com/",  # Cyrillic a
        "https://example.com/\x00",
        "https://example.com/a\tb",
        "https://example.com/<script>",
        "https://" + "a" * 10_000 + ".com/",
        "x" * 1_000_000,
        "\x00" * 1000,
    ],
)
def test_hostile_input_is_refused(uri: str) -> None:
    with pytest.raises(UriError) as info:
        classify_uri(uri)
    assert info.value.code in {"bad_uri", "data_uri_too_large"}
    assert len(str(info.value)) < 400


def test_is_cid() -> None:
    assert is_cid(CID0) and is_cid(CID1)
    assert is_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
    assert is_cid("f01701220" + "ab" * 32)
    for bad in ("", "Qm", CID0 + "x", CID0[:-1] + "0", "bafy!", "bAFY" + CID1[4:], "hello"):
        assert not is_cid(bad), bad


# --- ERC-1155 {id} --------------------------------------------------------------------------


def test_substitute_token_id() -> None:
    uri = "https://token-cdn-domain/{id}.json"
    assert substitute_token_id(uri, 314592) == (
        "https://token-cdn-domain/000000000000000000000000000000000000000000000000000000000004cce0.json"
    )
    assert substitute_token_id("ipfs://x/{id}/{id}", 1).count("0" * 63 + "1") == 2
    assert substitute_token_id("no placeholder", 5) == "no placeholder"
    assert substitute_token_id("{id}", 2**256 - 1) == "f" * 64
    for bad in (-1, 2**256, True):
        with pytest.raises(UriError):
            substitute_token_id("{id}", bad)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_substitute_is_64_lowercase_hex(token_id: int) -> None:
    out = substitute_token_id("{id}", token_id)
    assert len(out) == 64 and out == out.lower() and int(out, 16) == token_id


# --- metadata image selection ---------------------------------------------------------------


def test_select_image_order() -> None:
    svg = "<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert select_image({"image": f"ipfs://{CID1}", "image_url": "https://x.example/"}) == (
        IpfsUri(cid=CID1)
    )
    assert select_image({"image": "", "image_url": "https://x.example/a"}) == HttpUri(
        url="https://x.example/a"
    )
    assert select_image({"image": 5, "image_data": svg}) == DataUri(
        media_type="image/svg+xml", data=svg.encode()
    )
    assert select_image({"image_data": "data:image/png;base64,AAAA"}) == DataUri(
        media_type="image/png", data=b"\0\0\0"
    )
    with pytest.raises(UriError):
        select_image({"name": "no image"})
    with pytest.raises(UriError):
        select_image({"image": "javascript:alert(1)", "image_url": "https://x.example/"})
    with pytest.raises(DataUriTooLargeError):
        select_image({"image_data": "<svg>" + "a" * 2000 + "</svg>"}, max_data_bytes=1000)


# --- properties -----------------------------------------------------------------------------

segments = st.text("abcXYZ019-._~!$&'()*+,;=:@", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)


@given(st.lists(segments, max_size=5), st.sampled_from([CID0, CID1]))
def test_ipfs_paths_round_trip(parts: list[str], cid: str) -> None:
    path = "".join("/" + p for p in parts)
    assert classify_uri(f"ipfs://{cid}{path}") == IpfsUri(cid=cid, path=path)
    gateway = classify_uri(f"https://gw.example/ipfs/{cid}{path}")
    assert isinstance(gateway, IpfsUri)
    assert (gateway.cid, gateway.path) == (cid, path)


@given(st.binary(max_size=2000), st.sampled_from(["image/png", "image/svg+xml"]))
def test_data_base64_round_trip(data: bytes, media_type: str) -> None:
    uri = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    assert classify_uri(uri) == DataUri(media_type=media_type, data=data)
    assert classify_uri(f"data:{media_type},{pct(data)}") == DataUri(
        media_type=media_type, data=data
    )


@given(st.text(max_size=300))
def test_junk_raises_only_uri_errors(text: str) -> None:
    try:
        result = classify_uri(text)
    except UriError:
        return
    if not isinstance(result, DataUri):  # only data: payloads may carry non-ASCII text
        assert text.strip(" \t\r\n\f").isascii()
