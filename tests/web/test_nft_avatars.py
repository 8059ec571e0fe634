"""NFT avatars end to end on a real anvil: mint, link a wallet, set the NFT as the avatar,
see it in a hexagon with its provenance, transfer it away, and watch it revert. Plus any
ERC-1155, on-chain metadata, hostile contracts and hostile URLs."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from PIL import Image

from hexavatar.app import create_app
from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.rpc import connect
from hexavatar.chain.siwe import build_message
from hexavatar.config import Settings, load_settings
from tests.conftest import DevChain
from tests.support.chain import deploy, transact
from tests.support.keys import dev_address, dev_key
from tests.web.conftest import jpeg_bytes, signup

OWNER_KEY = dev_key(7)
OWNER = dev_address(7)
BUYER = dev_address(8)
DEPLOYER_KEY = dev_key(9)


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[tuple[str, dict[str, tuple[int, dict[str, str], bytes]]]]:
    """A plain HTTP server on 127.0.0.1 serving whatever a test puts in its routes."""
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    handler = type("H", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()


@pytest.fixture
def settings(storage_config: dict[str, str], dev_chain: DevChain, web: Any) -> Settings:
    port = web[0].rsplit(":", 1)[1]
    return load_settings(
        **storage_config,
        **dev_chain.settings(),
        public_url="http://testserver",
        fetch_unsafe_allow=[f"127.0.0.1:{port}"],
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        signup(c)
        yield c


def post_wallet_link(client: httpx.Client, key: str = OWNER_KEY) -> httpx.Response:
    """Sign a SIWE message for the nonce the service hands out with ``key``, and post it."""
    info = client.get("/api/v1/auth/siwe/nonce").json()
    text = build_message(
        scheme="http", domain=info["domain"], address=Account.from_key(key).address,
        uri=info["uri"], chain_id=31337, nonce=info["nonce"], issued_at=datetime.now(UTC),
    ).to_text()  # fmt: skip
    sig = "0x" + Account.sign_message(encode_defunct(text=text), key).signature.hex()
    return client.post("/api/v1/me/wallets", json={"message": text, "signature": sig})


def link_wallet(client: TestClient, key: str = OWNER_KEY) -> None:
    r = post_wallet_link(client, key)
    assert r.status_code == 201, r.text


def png(colour: Any, size: int = 96) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def mint_to(client: TestClient, to: str, colour: Any = "gold") -> dict[str, Any]:
    r = client.post(
        "/api/v1/nfts",
        files={"image": ("i.png", png(colour), "image/png")},
        data={"name": "Golden hexagon", "description": "test", "to": to},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_whole_read_path(client: TestClient, dev_chain: DevChain) -> None:
    client.post("/api/v1/me/avatar", files={"file": ("u.jpg", jpeg_bytes(), "image/jpeg")})
    upload_tag = client.get("/u/alice/avatar?size=64").headers["etag"]
    minted = mint_to(client, OWNER)
    link_wallet(client)
    ref = f"eip155:31337/erc721:{minted['contract']}/{minted['token_id']}"
    r = client.put("/api/v1/me/avatar/nft", json={"ref": ref})
    assert r.status_code == 200, r.text
    avatar = r.json()
    assert avatar["kind"] == "nft" and avatar["shape"] == "hexagon"
    prov = avatar["provenance"]
    assert prov["ref"] == ref and prov["owner"] == OWNER
    assert prov["metadata_uri"] == minted["metadata_uri"] and prov["metadata_verified"]
    assert prov["image_uri"] == minted["image_uri"] and prov["image_verified"]
    assert prov["metadata_cid"] == minted["metadata_uri"].removeprefix("ipfs://")
    profile = client.get("/api/v1/users/alice").json()
    assert profile["avatar"]["kind"] == "nft" and profile["avatar"]["provenance"]["ref"] == ref
    # The served picture is the NFT's (gold), not the uploaded one.
    got = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/png"})
    assert got.headers["etag"] != upload_tag
    assert Image.open(io.BytesIO(got.content)).convert("RGB").getpixel((32, 32)) == (255, 215, 0)
    hexa = client.get("/u/alice/avatar?size=128&shape=hexagon")
    assert hexa.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(hexa.content)).convert("RGBA")
    assert (
        img.size == (128, 128) and img.getpixel((0, 0))[3] == 0 and img.getpixel((64, 64))[3] == 255
    )
    status = client.get("/api/v1/users/alice/avatar/status").json()
    assert status["showing"] == "nft" and status["nft"]["status"] == "active"
    assert [s["step"] for s in status["nft"]["steps"]] == [
        "ownership", "standard", "token_uri", "metadata", "image", "renditions",
    ]  # fmt: skip
    # The token leaves the wallet on-chain: the service's watcher sees the Transfer log and
    # drops the NFT avatar on its own, within a few blocks.
    w3 = connect(dev_chain.rpc_url)
    nft = w3.eth.contract(address=minted["contract"], abi=load_artifact("HexavatarNFT").abi)
    transact(w3, OWNER_KEY, nft.functions.transferFrom(OWNER, BUYER, minted["token_id"]))
    transfer_block = w3.eth.block_number
    deadline = time.monotonic() + 20
    while client.get("/api/v1/users/alice").json()["avatar"]["kind"] == "nft":
        assert time.monotonic() < deadline, "the watcher did not revert the avatar"
        time.sleep(0.1)
    after = client.get("/api/v1/users/alice").json()["avatar"]
    assert after["kind"] == "upload" and after["shape"] == "circle"
    assert client.get("/u/alice/avatar?size=64").headers["etag"] == upload_tag
    status = client.get("/api/v1/users/alice/avatar/status").json()
    assert status["showing"] == "upload" and status["nft"]["status"] == "dropped"
    assert BUYER in status["nft"]["dropped_reason"]
    assert transfer_block <= status["nft"]["provenance"]["checked_block"] <= transfer_block + 2


def test_not_owner_is_403(client: TestClient) -> None:
    minted = mint_to(client, BUYER)
    link_wallet(client)
    r = client.put(
        "/api/v1/me/avatar/nft",
        json={"ref": f"eip155:31337/erc721:{minted['contract']}/{minted['token_id']}"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_owner"


def test_without_a_linked_wallet_is_403(client: TestClient) -> None:
    minted = mint_to(client, OWNER)
    r = client.put(
        "/api/v1/me/avatar/nft",
        json={"ref": f"eip155:31337/erc721:{minted['contract']}/{minted['token_id']}"},
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "ref,code",
    [
        ("eip155:1/erc721:0x5FbDB2315678afecb367f032d93F642f64180aa3/1", "unknown_chain"),
        ("not a ref", "bad_nft_ref"),
        ("eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3/1", "bad_nft_ref"),
    ],
)
def test_bad_references(client: TestClient, ref: str, code: str) -> None:
    link_wallet(client)
    r = client.put("/api/v1/me/avatar/nft", json={"ref": ref})
    assert r.status_code == 422 and r.json()["error"]["code"] == code


def test_unlinking_the_wallet_drops_the_nft_avatar(client: TestClient) -> None:
    minted = mint_to(client, OWNER)
    link_wallet(client)
    ref = f"eip155:31337/erc721:{minted['contract']}/{minted['token_id']}"
    assert client.put("/api/v1/me/avatar/nft", json={"ref": ref}).status_code == 200
    assert client.delete(f"/api/v1/me/wallets/{OWNER}").status_code == 204
    assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_erc1155_with_id_template(client: TestClient, dev_chain: DevChain, web: Any) -> None:
    base, routes = web
    w3 = connect(dev_chain.rpc_url)
    token = deploy(w3, DEPLOYER_KEY, "TestERC1155", base + "/meta/{id}.json")
    transact(w3, DEPLOYER_KEY, token.functions.mint(OWNER, 5, 3))
    hex_id = f"{5:064x}"
    routes[f"/meta/{hex_id}.json"] = (
        200, {"Content-Type": "application/json"},
        json.dumps({"name": "Five", "image": base + "/img/{id}.png"}).encode(),
    )  # fmt: skip
    routes[f"/img/{hex_id}.png"] = (200, {"Content-Type": "image/png"}, png("teal"))
    link_wallet(client)
    r = client.put("/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc1155:{token.address}/5"})
    assert r.status_code == 200, r.text
    prov = r.json()["provenance"]
    assert prov["standard"] == "erc1155" and not prov["image_verified"]
    assert prov["token_uri"] == base + f"/meta/{hex_id}.json"
    assert prov["image_uri"] == base + f"/img/{hex_id}.png"


@pytest.mark.parametrize(
    "name", ["RevertingURINFT", "GarbageURINFT", "HugeURINFT", "GasBurnerURINFT"]
)
def test_hostile_contracts_get_clear_errors(
    client: TestClient, dev_chain: DevChain, name: str
) -> None:
    w3 = connect(dev_chain.rpc_url)
    token = deploy(w3, DEPLOYER_KEY, name)
    transact(w3, DEPLOYER_KEY, token.functions.mint(OWNER, 1))
    link_wallet(client)
    r = client.put("/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc721:{token.address}/1"})
    assert 400 <= r.status_code < 500, r.text
    assert set(r.json()["error"]) == {"code", "message"}
    assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_https_metadata_redirecting_to_a_private_address_is_refused(
    client: TestClient, dev_chain: DevChain, web: Any
) -> None:
    base, routes = web
    w3 = connect(dev_chain.rpc_url)
    token = deploy(w3, DEPLOYER_KEY, "TestERC1155", base + "/evil/{id}")
    transact(w3, DEPLOYER_KEY, token.functions.mint(OWNER, 9, 1))
    routes[f"/evil/{9:064x}"] = (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"")
    link_wallet(client)
    r = client.put("/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc1155:{token.address}/9"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "ssrf_blocked"


def test_picker_lists_the_tokens_the_linked_wallets_own(
    client: TestClient, dev_chain: DevChain
) -> None:
    assert client.get("/api/v1/me/nfts").json() == []
    mine = [mint_to(client, OWNER)["token_id"] for _ in range(2)]
    theirs = mint_to(client, BUYER)["token_id"]
    link_wallet(client)
    listed = client.get("/api/v1/me/nfts").json()
    ids = {t["token_id"] for t in listed}
    assert set(mine) <= ids and theirs not in ids
    assert all(t["owner"] == OWNER for t in listed)
    assert all(t["ref"].startswith(f"eip155:31337/erc721:{dev_chain.contract}/") for t in listed)


def _foreign_nft(dev_chain: DevChain, blocks: Any, colour: Any) -> tuple[Any, str, str]:
    """An NFT on another HexavatarNFT whose metadata and image live only in ``blocks``."""
    from hexavatar.chain.contract import deploy as deploy_nft
    from hexavatar.chain.signer import Signer
    from hexavatar.ipfs import CID
    from hexavatar.ipfs.importer import import_bytes
    from hexavatar.ipfs.profiles import CID_VERSION_1

    image = import_bytes(png(colour), profile=CID_VERSION_1, blockstore=blocks).cid
    doc = json.dumps({"name": "Elsewhere", "image": f"ipfs://{image}"}).encode()
    meta = import_bytes(doc, profile=CID_VERSION_1, blockstore=blocks).cid
    w3 = connect(dev_chain.rpc_url)
    address = deploy_nft(w3, account=Signer.from_key(DEPLOYER_KEY), name="Else", symbol="ELS")
    nft = w3.eth.contract(address=address, abi=load_artifact("HexavatarNFT").abi)
    digest = CID.decode(str(meta)).digest
    transact(w3, DEPLOYER_KEY, nft.functions.mint(OWNER, digest, 0x55))
    return nft, str(meta), str(image)


def test_ipfs_content_not_here_comes_verified_from_a_gateway(
    storage_config: dict[str, str], dev_chain: DevChain
) -> None:
    from hexavatar.ipfs.blockstore import MemoryBlockstore
    from tests.ipfs.test_gateway_support import gateway_app, serve

    remote = MemoryBlockstore()
    nft, meta, image = _foreign_nft(dev_chain, remote, "crimson")
    with serve(gateway_app(remote)) as gw:
        port = gw.rsplit(":", 1)[1]
        settings = load_settings(
            **storage_config, **dev_chain.settings(), public_url="http://testserver",
            ipfs_gateways=[gw], fetch_unsafe_allow=[f"127.0.0.1:{port}"],
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            signup(client)
            link_wallet(client)
            r = client.put(
                "/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc721:{nft.address}/1"}
            )
            assert r.status_code == 200, r.text
            prov = r.json()["provenance"]
            assert prov["metadata_cid"] == meta and prov["metadata_verified"]
            assert prov["image_cid"] == image and prov["image_verified"]
            px = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/png"}).content
            assert Image.open(io.BytesIO(px)).convert("RGB").getpixel((10, 10)) == (220, 20, 60)


def test_a_gateway_serving_tampered_content_is_refused(
    storage_config: dict[str, str], dev_chain: DevChain
) -> None:
    from hexavatar.ipfs import CID
    from hexavatar.ipfs.blockstore import MemoryBlockstore
    from tests.ipfs.test_gateway_support import gateway_app, serve

    honest = MemoryBlockstore()
    nft, _meta, _ = _foreign_nft(dev_chain, honest, "olive")

    class Liar(MemoryBlockstore):
        def get(self, cid: CID) -> bytes:  # serves other bytes under the asked CID
            data = honest.get(cid)
            return data.replace(b"Elsewhere", b"Swapped!!") if b"Elsewhere" in data else data

        def has(self, cid: CID) -> bool:
            return honest.has(cid)

    with serve(gateway_app(Liar())) as gw:
        port = gw.rsplit(":", 1)[1]
        settings = load_settings(
            **storage_config, **dev_chain.settings(), public_url="http://testserver",
            ipfs_gateways=[gw], fetch_unsafe_allow=[f"127.0.0.1:{port}"],
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            signup(client)
            link_wallet(client)
            r = client.put(
                "/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc721:{nft.address}/1"}
            )
            assert r.status_code == 502, r.text
            assert r.json()["error"]["code"] == "fetch_failed"
            assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_on_chain_json_with_an_svg_image(client: TestClient, dev_chain: DevChain) -> None:
    w3 = connect(dev_chain.rpc_url)
    token = deploy(w3, DEPLOYER_KEY, "OnChainMetadataNFT")
    transact(w3, DEPLOYER_KEY, token.functions.mint(OWNER, 42))
    link_wallet(client)
    r = client.put("/api/v1/me/avatar/nft", json={"ref": f"eip155:31337/erc721:{token.address}/42"})
    assert r.status_code == 200, r.text
    prov = r.json()["provenance"]
    assert prov["token_uri"].startswith("data:application/json;base64,")
    assert prov["image_uri"].startswith("data:image/svg+xml;base64,")
    assert not prov["metadata_verified"] and not prov["image_verified"]  # nothing to check a CID of
    assert prov["name"] == "OnChain #42"
    # Rasterised (never served as SVG from our origin): the fill colour #3366cc.
    got = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/png"})
    assert got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).convert("RGB").getpixel((32, 32)) == (51, 102, 204)
