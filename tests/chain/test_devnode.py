"""DevNode (anvil process), find_anvil, chain_up and ensure_deployed on real anvil processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from web3 import Web3

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.contract import DEPLOYMENTS_FILE, deploy_artifact, ensure_deployed
from hexavatar.chain.devnode import (
    ANVIL_BIN_ENV,
    DEV_PRIVATE_KEYS,
    DevNode,
    chain_up,
    find_anvil,
    free_port,
)
from hexavatar.chain.errors import AnvilNotFound, ChainError, DevNodeError
from hexavatar.chain.minter import CODEC_RAW, Minter
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer
from hexavatar.chain.tokens import MULTICALL3_ADDRESS, owner_of, token_uri

from .helpers import cid_v1_uri

DEV_ADDRESS = Signer.from_key(DEV_PRIVATE_KEYS[0]).address


def _executable(path: Path, body: str = "#!/bin/sh\nexit 3\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_anvil_prefers_env_var(tmp_path: Path, anvil_bin: Path) -> None:
    fake = _executable(tmp_path / "bin" / "anvil")
    assert find_anvil(env={ANVIL_BIN_ENV: str(fake)}, start_dirs=[tmp_path]) == fake


def test_find_anvil_env_var_must_name_an_executable(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound, match=ANVIL_BIN_ENV) as info:
        find_anvil(env={ANVIL_BIN_ENV: str(tmp_path / "missing")}, start_dirs=[tmp_path])
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.code == "anvil_not_found"


def test_find_anvil_searches_node_modules_upward(tmp_path: Path) -> None:
    wrapper = _executable(tmp_path / "node_modules" / ".bin" / "anvil")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_anvil(env={"PATH": ""}, start_dirs=[nested]) == wrapper


def test_find_anvil_falls_back_to_path(tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "path" / "anvil")
    found = find_anvil(env={"PATH": str(on_path.parent)}, start_dirs=[tmp_path / "path"])
    assert found == on_path


def test_find_anvil_reports_none_found(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound, match="npm ci"):
        find_anvil(env={"PATH": str(tmp_path)}, start_dirs=[tmp_path])


def test_repo_anvil_is_the_native_binary(anvil_bin: Path) -> None:
    """Without the env var, the npm platform package's binary is run, not the node wrapper."""
    if os.environ.get(ANVIL_BIN_ENV):
        pytest.skip(f"${ANVIL_BIN_ENV} overrides the search")
    with anvil_bin.open("rb") as handle:
        magic = handle.read(4)
    assert magic in (b"\x7fELF", b"\xcf\xfa\xed\xfe")  # ELF or Mach-O
    assert anvil_bin.parent.parent.name.startswith("anvil-")


def test_devnode_failing_binary_raises(tmp_path: Path) -> None:
    bad = _executable(tmp_path / "anvil", "#!/bin/sh\necho broken >&2\nexit 3\n")
    node = DevNode(data_dir=tmp_path / "data", anvil_bin=bad, startup_timeout=5)
    started = time.monotonic()
    with pytest.raises(DevNodeError, match="exited with 3") as info:
        node.start()
    assert time.monotonic() - started < 5
    assert "broken" in str(info.value)
    assert not node.running
    with pytest.raises(DevNodeError):
        node.rpc_url  # noqa: B018


def test_devnode_listens_on_loopback_with_chain_id(devnode: DevNode, w3: Web3) -> None:
    assert devnode.rpc_url.startswith("http://127.0.0.1:")
    assert w3.eth.chain_id == 31337
    assert devnode.running
    assert "running" in repr(devnode)


def test_explicit_port_and_a_taken_one(tmp_path: Path, anvil_bin: Path) -> None:
    port = free_port()
    with DevNode(data_dir=tmp_path / "a", anvil_bin=anvil_bin, port=port) as node:
        assert node.rpc_url == f"http://127.0.0.1:{port}"
        # a second node on the same port must fail, not talk to the first one
        clash = DevNode(data_dir=tmp_path / "b", anvil_bin=anvil_bin, port=port)
        with pytest.raises(DevNodeError, match="exited"):
            clash.start()
        assert node.running


def test_state_survives_restart(tmp_path: Path, anvil_bin: Path) -> None:
    deployer = Signer.from_key(DEV_PRIVATE_KEYS[0])
    alice = Signer.from_key(DEV_PRIVATE_KEYS[1])
    digest = hashlib.sha256(b"persist me").digest()
    node = DevNode(data_dir=tmp_path, anvil_bin=anvil_bin, state_interval=None)
    with node:
        w3 = connect(node.rpc_url)
        contract = ensure_deployed(w3, account=deployer, data_dir=tmp_path)
        minted = Minter(w3, signer=deployer, contract=contract).mint(
            to=alice.address, digest=digest, codec=CODEC_RAW
        )
        first_url = node.rpc_url
    assert not node.running
    assert node.state_file.stat().st_size > 0
    node.port = None
    with node:
        w3 = connect(node.rpc_url)
        assert owner_of(w3, contract, minted.token_id) == alice.address
        assert token_uri(w3, contract, minted.token_id) == cid_v1_uri(digest, CODEC_RAW)
        assert ensure_deployed(w3, account=deployer, data_dir=tmp_path) == contract
        assert w3.eth.get_transaction_receipt(minted.tx_hash)["status"] == 1
    assert first_url.startswith("http://127.0.0.1:")


def test_periodic_dump_survives_a_crash(tmp_path: Path, anvil_bin: Path) -> None:
    """With state_interval, a SIGKILLed anvil still comes back with what it had dumped."""
    deployer = Signer.from_key(DEV_PRIVATE_KEYS[0])
    node = DevNode(data_dir=tmp_path, anvil_bin=anvil_bin, state_interval=1)
    node.start()
    w3 = connect(node.rpc_url)
    contract = ensure_deployed(w3, account=deployer, data_dir=tmp_path)
    Minter(w3, signer=deployer, contract=contract).mint(
        to=deployer.address, digest=bytes(32), codec=CODEC_RAW
    )
    time.sleep(2.5)
    assert node.pid is not None
    os.kill(node.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert not node.running
    node.port = None
    with node:
        w3 = connect(node.rpc_url)
        assert owner_of(w3, contract, 1) == deployer.address


def test_chain_up_deploys_once_and_installs_multicall(tmp_path: Path, anvil_bin: Path) -> None:
    up = chain_up(data_dir=tmp_path, anvil_bin=anvil_bin)
    try:
        info = up.as_dict()
        assert set(info) == {"rpc_url", "chain_id", "contract"}
        assert info["chain_id"] == 31337
        w3 = connect(up.rpc_url)
        assert w3.eth.get_code(up.contract) == load_artifact("HexavatarNFT").deployed_bytecode
        assert w3.eth.get_code(MULTICALL3_ADDRESS) == load_artifact("Multicall3").deployed_bytecode
        saved = json.loads((tmp_path / DEPLOYMENTS_FILE).read_text())
        assert saved["31337"]["HexavatarNFT"]["address"] == up.contract
    finally:
        up.node.stop()
    again = chain_up(data_dir=tmp_path, anvil_bin=anvil_bin)
    try:
        assert again.contract == up.contract
        w3 = connect(again.rpc_url)
        deployer = Signer.from_key(DEV_PRIVATE_KEYS[0])
        assert w3.eth.get_transaction_count(deployer.address) == 1  # no second deployment
    finally:
        again.node.stop()


def test_ensure_deployed_is_idempotent(w3: Web3, deployer: Signer, tmp_path: Path) -> None:
    first = ensure_deployed(w3, account=deployer, data_dir=tmp_path, name="Once", symbol="ONE")
    nonce = w3.eth.get_transaction_count(deployer.address)
    assert ensure_deployed(w3, account=deployer, data_dir=tmp_path) == first
    assert w3.eth.get_transaction_count(deployer.address) == nonce


def test_ensure_deployed_redeploys_when_code_is_gone(
    w3: Web3, deployer: Signer, tmp_path: Path
) -> None:
    gone = "0x" + "ab" * 20
    (tmp_path / DEPLOYMENTS_FILE).write_text(
        json.dumps({"31337": {"HexavatarNFT": {"address": gone}}})
    )
    address = ensure_deployed(w3, account=deployer, data_dir=tmp_path)
    assert address.lower() != gone
    assert w3.eth.get_code(address)
    saved = json.loads((tmp_path / DEPLOYMENTS_FILE).read_text())
    assert saved["31337"]["HexavatarNFT"]["address"] == address


@pytest.mark.parametrize(
    ("other_name", "args"), [("AcceptingReceiver", ()), ("BaselineURIStorage", (DEV_ADDRESS,))]
)
def test_ensure_deployed_replaces_another_contract_at_the_address(
    w3: Web3, deployer: Signer, tmp_path: Path, other_name: str, args: tuple[str, ...]
) -> None:
    """A fresh chain can put another contract where the remembered one was: redeploy then."""
    other = deploy_artifact(w3, other_name, *args, account=deployer)
    (tmp_path / DEPLOYMENTS_FILE).write_text(
        json.dumps({"31337": {"HexavatarNFT": {"address": other}}})
    )
    address = ensure_deployed(w3, account=deployer, data_dir=tmp_path)
    assert address != other
    assert w3.eth.get_code(address) == load_artifact("HexavatarNFT").deployed_bytecode


def test_ensure_deployed_rejects_corrupt_record(w3: Web3, deployer: Signer, tmp_path: Path) -> None:
    (tmp_path / DEPLOYMENTS_FILE).write_text("{not json")
    with pytest.raises(ChainError, match="expected JSON") as info:
        ensure_deployed(w3, account=deployer, data_dir=tmp_path)
    assert info.value.code == "deploy_failed"
