"""An app per test on one storage configuration, driven through Starlette's TestClient."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hexavatar.app import create_app
from hexavatar.config import Settings, load_settings


@pytest.fixture
def settings(storage_config: dict[str, str]) -> Settings:
    return load_settings(**storage_config, public_url="http://testserver", nft_enabled=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def jpeg_bytes(size: tuple[int, int] = (320, 240), colour: Any = "teal", **save: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", **save)
    return buf.getvalue()


def signup(client: TestClient, name: str = "alice", password: str = "correct horse") -> None:
    r = client.post("/api/v1/auth/signup", json={"username": name, "password": password})
    assert r.status_code == 201, r.text
