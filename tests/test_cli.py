"""The command line, run in-process (CliRunner) and, for `serve`, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from hexavatar.cli import app
from tests.support.services import free_port, wait_port

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HEXAVATAR_DATA_DIR": str(tmp_path / "data")}


def _json(result: object) -> dict:  # type: ignore[type-arg]
    out = result.stdout.strip().splitlines()  # type: ignore[attr-defined]
    return json.loads(out[-1])  # type: ignore[no-any-return]


def test_db_upgrade(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert _json(result)["revision"]


def test_users_create_then_avatar_set_then_gc(env: dict[str, str], tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        ["users", "create", "Zoe", "--password-stdin", "--json"],
        input="long password\n",
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert _json(r)["username"] == "zoe"
    img = tmp_path / "me.png"
    Image.new("RGBA", (300, 300), (10, 20, 30, 255)).save(img)
    r = runner.invoke(app, ["avatar", "set", "zoe", str(img), "--json"], env=env)
    assert r.exit_code == 0, r.output
    out = _json(r)
    assert set(out["renditions"]) == {"64", "128", "256", "512"}
    objects = Path(env["HEXAVATAR_DATA_DIR"]) / "objects"
    assert len([p for p in objects.rglob("*") if p.is_file()]) == 8
    r = runner.invoke(app, ["gc", "--grace", "0", "--json"], env=env)
    assert r.exit_code == 0 and _json(r)["objects_removed"] == []  # all referenced


def test_duplicate_user_is_a_clear_error(env: dict[str, str]) -> None:
    args = ["users", "create", "amy", "--password-stdin", "--json"]
    assert runner.invoke(app, args, input="long password\n", env=env).exit_code == 0
    r = runner.invoke(app, args, input="long password\n", env=env)
    assert r.exit_code == 1
    assert _json(r)["error"]["code"] == "username_taken"


def test_avatar_set_refuses_bad_files(env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(
        app, ["users", "create", "bea", "--password-stdin"], input="long password\n", env=env
    )
    bad = tmp_path / "x.png"
    bad.write_bytes(b"<html>")
    r = runner.invoke(app, ["avatar", "set", "bea", str(bad), "--json"], env=env)
    assert r.exit_code == 1 and _json(r)["error"]["code"] == "unsupported_format"
    r = runner.invoke(
        app, ["avatar", "set", "bea", str(tmp_path / "missing.png"), "--json"], env=env
    )
    assert r.exit_code == 1 and _json(r)["error"]["code"] == "unreadable_file"
    r = runner.invoke(app, ["avatar", "set", "nobody", str(bad), "--json"], env=env)
    assert r.exit_code == 1


def test_serve_starts_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HEXAVATAR_DATA_DIR": str(tmp_path / "d"), "HEXAVATAR_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexavatar", "serve"], env=env, stderr=subprocess.PIPE
    )
    try:
        wait_port(port, proc=proc, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        assert (tmp_path / "d" / "hexavatar.db").exists()
        r = httpx.get(f"http://127.0.0.1:{port}/u/nobody/avatar")
        assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode in (0, -15)


def test_help_lists_the_commands() -> None:
    r = runner.invoke(app, ["--help"])
    for name in ("serve", "db", "users", "avatar", "gc"):
        assert name in r.stdout


def _chain_env(dev_chain: Any, base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for key, value in dev_chain.settings().items():
        env[f"HEXAVATAR_{key.upper()}"] = str(value)
    return env


def test_mint_prints_the_contract_keys(env: dict[str, str], tmp_path: Path, dev_chain: Any) -> None:
    img = tmp_path / "i.png"
    Image.new("RGB", (80, 80), "navy").save(img)
    owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    args = ["mint", str(img), "--name", "Navy", "--description", "d", "--to", owner, "--json"]
    r = runner.invoke(app, args, env=_chain_env(dev_chain, env))
    assert r.exit_code == 0, r.output
    out = _json(r)
    for key in (
        "token_id",
        "metadata_uri",
        "image_uri",
        "tx_hash",
        "contract",
        "chain_id",
        "owner",
    ):
        assert out[key] is not None, key
    assert out["owner"] == owner and out["chain_id"] == 31337
    assert out["metadata_uri"].startswith("ipfs://b") and out["image_uri"].startswith("ipfs://b")
    human = runner.invoke(app, args[:-1], env=_chain_env(dev_chain, env))
    assert human.exit_code == 0 and "token_id" in human.stdout


def test_mint_bad_input_is_a_clear_error(
    env: dict[str, str], tmp_path: Path, dev_chain: Any
) -> None:
    img = tmp_path / "i.png"
    Image.new("RGB", (80, 80), "navy").save(img)
    r = runner.invoke(
        app, ["mint", str(img), "--name", " ", "--json"], env=_chain_env(dev_chain, env)
    )
    assert r.exit_code == 1 and _json(r)["error"]["code"] == "invalid_name"
    r = runner.invoke(
        app,
        ["mint", str(img), "--name", "x", "--to", "0xnope", "--json"],
        env=_chain_env(dev_chain, env),
    )
    assert r.exit_code == 1 and _json(r)["error"]["code"] == "invalid_address"


def test_chain_up_keeps_state_and_the_contract_across_restarts(tmp_path: Path) -> None:
    from web3 import Web3

    env = {**os.environ, "HEXAVATAR_DATA_DIR": str(tmp_path / "d")}
    env.pop("HEXAVATAR_CHAIN_RPC_URL", None)

    def up() -> tuple[subprocess.Popen[str], dict[str, Any]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hexavatar", "chain", "up", "--json"],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        return proc, json.loads(proc.stdout.readline())

    proc, first = up()
    try:
        assert set(first) == {"rpc_url", "chain_id", "contract"} and first["chain_id"] == 31337
        w3 = Web3(Web3.HTTPProvider(first["rpc_url"]))
        assert w3.eth.get_code(first["contract"])
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        height = w3.eth.block_number
    finally:
        proc.terminate()
        proc.wait(30)
    proc, second = up()
    try:
        assert second["contract"] == first["contract"]
        w3 = Web3(Web3.HTTPProvider(second["rpc_url"]))
        assert w3.eth.block_number >= height
        assert w3.eth.get_code(second["contract"])
    finally:
        proc.terminate()
        proc.wait(30)


def test_nft_show_walks_the_resolution(env: dict[str, str], tmp_path: Path, dev_chain: Any) -> None:
    img = tmp_path / "i.png"
    Image.new("RGB", (80, 80), "maroon").save(img)
    chain_env = _chain_env(dev_chain, env)
    minted = _json(runner.invoke(app, ["mint", str(img), "--name", "M", "--json"], env=chain_env))
    ref = f"eip155:31337/erc721:{minted['contract']}/{minted['token_id']}"
    r = runner.invoke(app, ["nft", "show", ref, "--json"], env=chain_env)
    assert r.exit_code == 0, r.output
    out = _json(r)
    assert out["ok"] and out["standard"] == "erc721"
    assert out["metadata_uri"] == minted["metadata_uri"] and out["metadata_verified"]
    assert out["image_uri"] == minted["image_uri"] and out["image_verified"]
    assert [s["step"] for s in out["steps"]][:4] == ["owner", "standard", "token_uri", "metadata"]
    human = runner.invoke(app, ["nft", "show", ref], env=chain_env)
    assert "verified against its CID" in human.stdout
    bad = runner.invoke(
        app, ["nft", "show", "eip155:31337/erc721:0xnope/1", "--json"], env=chain_env
    )
    assert bad.exit_code == 1 and not _json(bad)["ok"]


def test_demo_tells_the_whole_story(tmp_path: Path, dev_chain: Any) -> None:
    env = _chain_env(dev_chain, {"HEXAVATAR_DATA_DIR": str(tmp_path / "d")})
    r = runner.invoke(app, ["demo", "--json"], env=env)
    assert r.exit_code == 0, r.output
    out = _json(r)
    assert set(out) == {"upload", "mint", "transfer", "wallet", "nft_avatar", "revocation"}
    assert set(out["upload"]["object_urls"]) == {"64", "128", "256", "512"}
    assert out["upload"]["database_row"]["renditions"] == 8
    assert out["mint"]["status"] == "confirmed" and out["mint"]["token_id"] >= 1
    assert out["transfer"]["owner_on_chain"] == out["wallet"]["address"]
    assert out["nft_avatar"]["metadata_verified"] and out["nft_avatar"]["image_verified"]
    assert out["revocation"]["dropped"] and out["revocation"]["now_showing"] == "upload"
    human = runner.invoke(app, ["demo"], env=env)
    assert human.exit_code == 0 and "6. The token leaves the wallet" in human.stdout


def test_worker_exports_watcher_metrics(tmp_path: Path, dev_chain: Any) -> None:
    port = free_port()
    env = {**os.environ, **_chain_env(dev_chain, {"HEXAVATAR_DATA_DIR": str(tmp_path / "w")})}
    env["HEXAVATAR_WATCHER_INTERVAL_SECONDS"] = "0.2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexavatar", "worker", "--metrics-port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, proc=proc, timeout=60)
        deadline = time.monotonic() + 20
        text = ""
        while "hexavatar_watcher_last_round_timestamp_seconds" not in text or (
            "hexavatar_watcher_last_round_timestamp_seconds 0.0" in text
        ):
            assert time.monotonic() < deadline, text[-500:]
            time.sleep(0.2)
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode in (0, -15)
