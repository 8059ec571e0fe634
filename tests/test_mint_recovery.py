"""Nothing lost: killing the service between sending a mint and its confirmation, then
starting it again, ends in exactly one token and a confirmed ledger entry."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS, chain_up
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer, save_keystore
from tests.support.keys import dev_address
from tests.support.services import free_port, wait_port

OWNER = dev_address(11)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Any]:
    up = chain_up(data_dir=tmp_path / "chain")
    try:
        yield up
    finally:
        up.node.stop()


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexavatar", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc=proc, timeout=60)
    return proc


def _status(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM mints").fetchone()
    return row[0] if row else None


def test_kill_between_send_and_confirmation(tmp_path: Path, chain: Any) -> None:
    keystore = tmp_path / "minter.json"
    save_keystore(keystore, Signer.from_key(DEV_PRIVATE_KEYS[0]), "pw", iterations=2)
    port = free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "HEXAVATAR_DATA_DIR": str(data),
        "HEXAVATAR_CHAIN_RPC_URL": chain.rpc_url,
        "HEXAVATAR_CONTRACT_ADDRESS": chain.contract,
        "HEXAVATAR_MINTER_KEYSTORE": str(keystore),
        "HEXAVATAR_MINTER_PASSWORD": "pw",
        "HEXAVATAR_CHAIN_TIMEOUT_SECONDS": "30",
    }
    base = f"http://127.0.0.1:{port}"
    w3 = connect(chain.rpc_url)
    nft = w3.eth.contract(address=chain.contract, abi=load_artifact("HexavatarNFT").abi)
    proc = _serve(env, port)
    try:
        client = httpx.Client(base_url=base, timeout=60)
        r = client.post("/api/v1/auth/signup", json={"username": "kim", "password": "long enough"})
        assert r.status_code == 201
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), "red").save(buf, "PNG")

        def post() -> None:  # blocks waiting for the receipt; the process dies under it
            with contextlib.suppress(httpx.HTTPError):
                client.post(
                    "/api/v1/nfts",
                    files={"image": ("r.png", buf.getvalue(), "image/png")},
                    data={"name": "Survivor", "to": OWNER},
                    headers={"Idempotency-Key": "k1"},
                )

        thread = threading.Thread(target=post, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while _status(data / "hexavatar.db") != "sent":
            assert time.monotonic() < deadline, "the mint never reached 'sent'"
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no clean-up of any kind
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _status(data / "hexavatar.db") == "sent"
    assert nft.functions.totalMinted().call() == 0
    w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    proc = _serve(env, port)
    try:
        deadline = time.monotonic() + 30
        while _status(data / "hexavatar.db") != "confirmed":
            assert time.monotonic() < deadline, "recovery did not confirm the mint"
            time.sleep(0.1)
        client = httpx.Client(base_url=base, timeout=30)
        client.post("/api/v1/auth/login", json={"username": "kim", "password": "long enough"})
        mints = client.get("/api/v1/me/mints").json()
        assert len(mints) == 1 and mints[0]["status"] == "confirmed"
        assert nft.functions.totalMinted().call() == 1
        assert nft.functions.ownerOf(mints[0]["token_id"]).call() == OWNER
        # The same request again returns the same mint, and mints nothing new.
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), "red").save(buf, "PNG")
        again = client.post(
            "/api/v1/nfts",
            files={"image": ("r.png", buf.getvalue(), "image/png")},
            data={"name": "Survivor", "to": OWNER},
            headers={"Idempotency-Key": "k1"},
        )
        assert again.json()["id"] == mints[0]["id"]
        assert nft.functions.totalMinted().call() == 1
    finally:
        proc.terminate()
        proc.wait(30)


def test_chain_down_is_a_clear_error_and_nothing_is_lost(tmp_path: Path, chain: Any) -> None:
    from fastapi.testclient import TestClient

    from hexavatar.app import create_app
    from hexavatar.config import load_settings

    keystore = tmp_path / "minter.json"
    save_keystore(keystore, Signer.from_key(DEV_PRIVATE_KEYS[0]), "pw", iterations=2)
    settings = load_settings(
        data_dir=str(tmp_path / "d"), chain_rpc_url=chain.rpc_url, contract_address=chain.contract,
        minter_keystore=str(keystore), minter_password="pw", chain_timeout_seconds=5,
    )  # fmt: skip
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(buf, "PNG")
    form = {"name": "Later", "to": OWNER}
    with TestClient(create_app(settings)) as client:
        client.post("/api/v1/auth/signup", json={"username": "lee", "password": "long enough"})
        chain.node.stop()  # the chain goes down
        r = client.post(
            "/api/v1/nfts", files={"image": ("b.png", buf.getvalue(), "image/png")}, data=form,
            headers={"Idempotency-Key": "later"},
        )  # fmt: skip
        assert r.status_code == 503 and r.json()["error"]["code"] == "chain_unavailable"
        saved = client.get("/api/v1/me/mints").json()
        assert len(saved) == 1 and saved[0]["status"] in ("received", "content_imported")
        chain.node.start()  # back (same state), maybe on another port: retry through it
    settings = settings.model_copy(update={"chain_rpc_url": chain.node.rpc_url})
    with TestClient(create_app(settings)) as client:
        client.post("/api/v1/auth/login", json={"username": "lee", "password": "long enough"})
        r = client.post(
            "/api/v1/nfts", files={"image": ("b.png", buf.getvalue(), "image/png")}, data=form,
            headers={"Idempotency-Key": "later"},
        )  # fmt: skip
        assert r.status_code in (200, 201), r.text
        assert r.json()["id"] == saved[0]["id"] and r.json()["status"] == "confirmed"


def test_a_mint_whose_wait_timed_out_is_confirmed_when_read(tmp_path: Path, chain: Any) -> None:
    from fastapi.testclient import TestClient

    from hexavatar.app import create_app
    from hexavatar.config import load_settings

    keystore = tmp_path / "minter.json"
    save_keystore(keystore, Signer.from_key(DEV_PRIVATE_KEYS[0]), "pw", iterations=2)
    settings = load_settings(
        data_dir=str(tmp_path / "d"), chain_rpc_url=chain.rpc_url, contract_address=chain.contract,
        minter_keystore=str(keystore), minter_password="pw", chain_timeout_seconds=1,
    )  # fmt: skip
    w3 = connect(chain.rpc_url)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(buf, "PNG")
    with TestClient(create_app(settings)) as client:
        client.post("/api/v1/auth/signup", json={"username": "max", "password": "long enough"})
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        r = client.post(
            "/api/v1/nfts", files={"image": ("g.png", buf.getvalue(), "image/png")},
            data={"name": "Slow", "to": OWNER},
        )  # fmt: skip
        assert r.status_code == 202 and r.json()["status"] == "sent"
        assert r.json()["error"]["code"] == "receipt_timeout"
        mint_id = r.json()["id"]
        assert client.get(f"/api/v1/nfts/{mint_id}").json()["status"] == "sent"
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        done = client.get(f"/api/v1/nfts/{mint_id}")
        assert done.status_code == 200 and done.json()["status"] == "confirmed"
        assert done.json()["token_id"] == 1 and done.json()["error"] is None
