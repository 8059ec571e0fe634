"""The IPFS gateway as mounted in the real app: blocks the service stored (by minting or by
`hexavatar ipfs add`) are served at /ipfs/, with the app's error mapping."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hexavatar.ipfs.importer import import_bytes
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015


def test_gateway_serves_the_service_blockstore(client: TestClient) -> None:
    blocks = client.app.state.services.blockstore  # type: ignore[attr-defined]
    data = b"hello world\n"
    v1 = import_bytes(data, profile=CID_VERSION_1, blockstore=blocks).cid
    v0 = import_bytes(data, profile=UNIXFS_V0_2015, blockstore=blocks).cid
    assert str(v0) == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    for cid in (v1, v0):
        r = client.get(f"/ipfs/{cid}")
        assert r.status_code == 200 and r.content == data
        assert r.headers["etag"] == f'"{cid}"'
        assert r.headers["x-content-type-options"] == "nosniff"
    ranged = client.get(f"/ipfs/{v1}", headers={"Range": "bytes=-6"})
    assert ranged.status_code == 206 and ranged.content == b"world\n"
    raw = client.get(f"/ipfs/{v1}", headers={"Accept": "application/vnd.ipld.raw"})
    assert raw.headers["content-type"] == "application/vnd.ipld.raw" and raw.content == data
    car = client.get(f"/ipfs/{v1}?format=car")
    assert car.headers["content-type"].startswith("application/vnd.ipld.car")


def test_gateway_errors_use_the_app_error_body(client: TestClient) -> None:
    bad = client.get("/ipfs/not-a-cid")
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"code", "message"}
    missing = client.get("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
    assert missing.status_code == 404
    blocks = client.app.state.services.blockstore  # type: ignore[attr-defined]
    cid = import_bytes(b"0123456789", profile=CID_VERSION_1, blockstore=blocks).cid
    past = client.get(f"/ipfs/{cid}", headers={"Range": "bytes=50-60"})
    assert past.status_code == 416 and past.headers.get("content-range") == "bytes */10"
