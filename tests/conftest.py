"""Test-wide fixtures: real PostgreSQL and S3 servers (started once), and the two storage
configurations every storage test runs against: SQLite + local folder, PostgreSQL + S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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
