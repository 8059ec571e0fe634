"""Minting over HTTP on a real anvil: mint and read back, custodial transfer, concurrency,
idempotency, and bad input. Both storage configurations."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web3 import Web3

from hexavatar.app import create_app
from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS
from hexavatar.chain.rpc import connect
from hexavatar.config import Settings, load_settings
from hexavatar.ipfs import CID
from hexavatar.ipfs.importer import import_bytes
from hexavatar.ipfs.profiles import CID_VERSION_1
from tests.conftest import DevChain
from tests.web.conftest import signup

ALICE = Web3().eth.account.from_key(DEV_PRIVATE_KEYS[1]).address
BOB = Web3().eth.account.from_key(DEV_PRIVATE_KEYS[2]).address


@pytest.fixture
def nft_settings(storage_config: dict[str, str], dev_chain: DevChain) -> Settings:
    return load_settings(**storage_config, **dev_chain.settings(), public_url="http://testserver")


@pytest.fixture
def client(nft_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(nft_settings)) as c:
        signup(c)
        yield c


@pytest.fixture
def nft(dev_chain: DevChain) -> Any:
    w3 = connect(dev_chain.rpc_url)
    return w3.eth.contract(address=dev_chain.contract, abi=load_artifact("HexavatarNFT").abi)


def png(colour: Any = "purple", size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def mint(
    client: TestClient, *, image: bytes | None = None, key: str | None = None, **fields: str
) -> Any:
    data = {"name": "Hexagon cat", "description": "A cat, in a hexagon", **fields}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        "/api/v1/nfts",
        files={"image": ("cat.png", image or png(), "image/png")},
        data=data,
        headers=headers,
    )


def test_mint_to_address_and_read_back(client: TestClient, nft: Any) -> None:
    image = png("orange")
    attrs = json.dumps([{"trait_type": "shape", "value": "hexagon"}])
    r = mint(client, image=image, to=ALICE, attributes=attrs)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "confirmed" and body["owner"] == ALICE
    token_id = body["token_id"]
    assert nft.functions.ownerOf(token_id).call() == ALICE
    assert nft.functions.tokenURI(token_id).call() == body["metadata_uri"]
    # The image URI is the CIDv1 of the exact bytes, as `ipfs add --cid-version=1` gives.
    image_cid = str(import_bytes(image, profile=CID_VERSION_1).cid)
    assert body["image_uri"] == f"ipfs://{image_cid}"
    # Metadata and image are served by our gateway, and hash to their CIDs.
    meta_cid = body["metadata_uri"].removeprefix("ipfs://")
    meta_block = client.get(f"/ipfs/{meta_cid}?format=raw")
    assert meta_block.status_code == 200
    CID.decode(meta_cid)  # well-formed
    assert str(import_bytes(meta_block.content, profile=CID_VERSION_1).cid) == meta_cid
    meta = json.loads(meta_block.content)
    assert meta == {
        "name": "Hexagon cat",
        "description": "A cat, in a hexagon",
        "image": f"ipfs://{image_cid}",
        "attributes": [{"trait_type": "shape", "value": "hexagon"}],
    }
    got = client.get(f"/ipfs/{image_cid}")
    assert (
        got.status_code == 200
        and hashlib.sha256(got.content).digest() == hashlib.sha256(image).digest()
    )
    again = client.get(f"/api/v1/nfts/{body['id']}")
    assert again.status_code == 200 and again.json()["token_id"] == token_id


def test_custodial_mint_then_transfer(client: TestClient, nft: Any, dev_chain: DevChain) -> None:
    r = mint(client)
    assert r.status_code == 201, r.text
    body = r.json()
    minter = Web3().eth.account.from_key(DEV_PRIVATE_KEYS[0]).address
    assert body["custodial"] and body["owner"] == minter
    assert nft.functions.ownerOf(body["token_id"]).call() == minter
    t = client.post(f"/api/v1/nfts/{body['id']}/transfer", json={"to": BOB})
    assert t.status_code == 200, t.text
    assert t.json()["transfer_status"] == "confirmed" and t.json()["owner"] == BOB
    assert nft.functions.ownerOf(body["token_id"]).call() == BOB
    # Asking again is idempotent; asking to move it elsewhere is refused.
    assert client.post(f"/api/v1/nfts/{body['id']}/transfer", json={"to": BOB}).status_code == 200
    other = client.post(f"/api/v1/nfts/{body['id']}/transfer", json={"to": ALICE})
    assert other.status_code == 409


def test_same_idempotency_key_in_parallel_gives_one_token(client: TestClient, nft: Any) -> None:
    before = nft.functions.totalSupply().call() if hasattr(nft.functions, "totalSupply") else None
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: mint(client, key="same-key-1", to=ALICE), range(10)))
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    ids = {r.json()["id"] for r in results}
    tokens = {r.json()["token_id"] for r in results}
    assert len(ids) == 1 and len(tokens) == 1
    if before is not None:
        assert nft.functions.totalSupply().call() == before + 1


def test_same_key_different_payload_is_422(client: TestClient) -> None:
    assert mint(client, key="k2", to=ALICE).status_code == 201
    r = mint(client, key="k2", to=BOB)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"


def test_concurrent_mints_get_distinct_tokens_and_gapless_nonces(
    client: TestClient, nft: Any, dev_chain: DevChain
) -> None:
    w3 = connect(dev_chain.rpc_url)
    minter = Web3().eth.account.from_key(DEV_PRIVATE_KEYS[0]).address
    start_nonce = w3.eth.get_transaction_count(minter)
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(lambda i: mint(client, key=f"c{i}", to=ALICE, name=f"n{i}"), range(50))
        )
    assert all(r.status_code == 201 for r in results), [
        r.text for r in results if r.status_code != 201
    ]
    tokens = [r.json()["token_id"] for r in results]
    assert len(set(tokens)) == 50
    hashes = [r.json()["tx_hash"] for r in results]
    nonces = sorted(w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(start_nonce, start_nonce + 50))
    for t in tokens:
        assert nft.functions.ownerOf(t).call() == ALICE


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"name": ""}, "invalid_name"),
        ({"name": "   "}, "invalid_name"),
        ({"to": "0x123"}, "invalid_address"),
        ({"to": "0x" + "0" * 40}, "invalid_address"),
        ({"to": ALICE[:-1] + ("a" if ALICE[-1] != "a" else "b")}, "invalid_address"),
        ({"attributes": "{not json"}, "invalid_input"),
        ({"attributes": '{"a": 1}'}, "invalid_input"),
    ],
)
def test_bad_fields_are_refused(client: TestClient, fields: dict[str, str], code: str) -> None:
    r = mint(client, **fields)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert client.get("/api/v1/me/mints").json() == []


def test_bad_image_is_refused_with_nothing_recorded(client: TestClient) -> None:
    r = mint(client, image=b"<svg/>")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format"
    assert client.get("/api/v1/me/mints").json() == []


def test_mint_needs_sign_in(nft_settings: Settings) -> None:
    with TestClient(create_app(nft_settings)) as c:
        assert mint(c).status_code == 401


def test_unknown_mint_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/nfts/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "mint_not_found"


def test_minted_blocks_are_pushed_to_kubo_and_pinned(
    storage_config: dict[str, str], dev_chain: DevChain
) -> None:
    """With a Kubo RPC endpoint configured, the exact blocks go there and their roots are
    pinned. (No Kubo daemon can be installed here: a local server speaking Kubo's RPC for
    dag/import, pin/ls and version stands in; see tests/ipfs/test_pinning.py.)"""
    from tests.ipfs.test_gateway_support import serve
    from tests.ipfs.test_pinning import FakeKubo

    kubo = FakeKubo()
    with serve(kubo.app()) as url:
        settings = load_settings(
            **storage_config, **dev_chain.settings(), public_url="http://testserver",
            kubo_rpc_url=url,
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            signup(client)
            image = png("pink")
            r = mint(client, image=image, to=ALICE)
            assert r.status_code == 201, r.text
    meta = CID.decode(r.json()["metadata_uri"].removeprefix("ipfs://"))
    img = CID.decode(r.json()["image_uri"].removeprefix("ipfs://"))
    assert {meta.multihash, img.multihash} <= kubo.pins
    assert kubo.blocks.get(img) == image


def test_kubo_down_fails_the_mint_visibly_and_keeps_it(
    storage_config: dict[str, str], dev_chain: DevChain
) -> None:
    from tests.support.services import free_port

    settings = load_settings(
        **storage_config, **dev_chain.settings(), public_url="http://testserver",
        kubo_rpc_url=f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        signup(client)
        r = mint(client, to=ALICE, key="kubo-down")
        assert r.status_code == 503 and r.json()["error"]["code"] == "chain_unavailable"
        mints = client.get("/api/v1/me/mints").json()
        assert len(mints) == 1 and mints[0]["status"] == "received"
        assert mints[0]["error"]["code"] == "pinning_failed"


def test_a_vanished_nonce_counter_is_a_server_fault_and_keeps_the_mint(
    client: TestClient,
) -> None:
    from sqlalchemy import delete

    from hexavatar.storage.models import NonceCounter

    assert mint(client, to=ALICE).status_code == 201  # the minter's nonce counter exists now
    with client.app.state.services.factory() as s, s.begin():  # type: ignore[attr-defined]
        s.execute(delete(NonceCounter))  # gone behind the service's back
    r = mint(client, image=png("olive"), to=ALICE)
    assert r.status_code == 500, r.text
    error = {"code": "nonce_counter_missing", "message": "the minter's nonce counter is missing"}
    assert r.json() == {"error": error}
    # Nothing was signed with a made-up nonce: the mint waits, saved, before signing.
    assert [m["status"] for m in client.get("/api/v1/me/mints").json()] == [
        "content_imported",
        "confirmed",
    ]
