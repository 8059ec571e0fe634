"""Test-wide fixtures: real PostgreSQL and S3 servers (started once), and the two storage
configurations every storage test runs against: SQLite + local folder, PostgreSQL + S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import moto_server, new_database, postgres_server

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(params=["sqlite-local", "postgres-s3"])
def storage_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Settings overrides for one storage configuration (a fresh database and bucket each)."""
    if request.param == "sqlite-local":
        return {"data_dir": str(tmp_path / "data")}
    admin = request.getfixturevalue("postgres_admin_url")
    endpoint = request.getfixturevalue("s3_endpoint")
    return {
        "data_dir": str(tmp_path / "data"),
        "database_url": new_database(admin),
        "object_store_url": f"s3://hx-{uuid.uuid4().hex[:12]}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }


@dataclass(frozen=True)
class DevChain:
    rpc_url: str
    chain_id: int
    contract: str
    keystore: Path
    password: str
    node: Any

    def settings(self) -> dict[str, Any]:
        """Settings overrides that point the service at this chain."""
        return {
            "chain_rpc_url": self.rpc_url,
            "contract_address": self.contract,
            "minter_keystore": str(self.keystore),
            "minter_password": self.password,
        }


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    """One anvil for the session with HexavatarNFT and Multicall3; anvil's account 0 mints."""
    from hexavatar.chain.devnode import DEV_PRIVATE_KEYS, chain_up
    from hexavatar.chain.signer import Signer, save_keystore

    data = tmp_path_factory.mktemp("chain")
    up = chain_up(data_dir=data)
    keystore = data / "minter.json"
    save_keystore(keystore, Signer.from_key(DEV_PRIVATE_KEYS[0]), "test-password", iterations=2)
    try:
        yield DevChain(up.rpc_url, up.chain_id, up.contract, keystore, "test-password", up.node)
    finally:
        up.node.stop()
