"""One conformance suite for every ObjectStore: a local folder and an S3 API (moto's server)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hexavatar.storage.errors import ObjectNotFound, ObjectStoreError
from hexavatar.storage.objects import (
    LocalObjectStore,
    ObjectStore,
    content_key,
    open_object_store,
)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        yield open_object_store(f"s3://hx-{uuid.uuid4().hex[:10]}/pre", endpoint_url=endpoint)


def test_put_get_roundtrip(store: ObjectStore) -> None:
    key = content_key(b"hello", ext="png")
    store.put(key, b"hello", content_type="image/png")
    assert store.get(key) == b"hello"
    assert store.exists(key)


def test_content_key_derives_from_sha256() -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    assert content_key(b"abc", ext="webp") == f"a/{digest[:2]}/{digest}.webp"


def test_missing_object_raises_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get("a/00/missing.png")
    assert not store.exists("a/00/missing.png")


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("a/11/x.png", b"x", content_type="image/png")
    store.delete("a/11/x.png")
    store.delete("a/11/x.png")
    assert not store.exists("a/11/x.png")


def test_overwrite_replaces(store: ObjectStore) -> None:
    store.put("a/22/y.png", b"one", content_type="image/png")
    store.put("a/22/y.png", b"two", content_type="image/png")
    assert store.get("a/22/y.png") == b"two"


def test_list_by_prefix_with_sizes_and_times(store: ObjectStore) -> None:
    store.put("a/33/one.png", b"1", content_type="image/png")
    store.put("a/44/two.png", b"22", content_type="image/png")
    store.put("b/55/three.png", b"333", content_type="image/png")
    found = {i.key: i for i in store.list("a/")}
    assert set(found) == {"a/33/one.png", "a/44/two.png"}
    assert found["a/44/two.png"].size == 2
    now = datetime.now(UTC)
    assert now - timedelta(minutes=5) < found["a/33/one.png"].modified <= now + timedelta(minutes=5)


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs", "A/Upper.png", "a//b", "a/../b", ""])
def test_rejects_unsafe_keys(store: ObjectStore, bad: str) -> None:
    with pytest.raises(ObjectStoreError):
        store.put(bad, b"x", content_type="image/png")


def test_check_passes_on_a_working_store(store: ObjectStore) -> None:
    store.check()


def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    for i in range(5):
        store.put(f"a/00/{i}.png", b"x" * 1000, content_type="image/png")
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(names) == [f"{i}.png" for i in range(5)]


def test_local_store_failed_write_keeps_old_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("a/00/k.png", b"old", content_type="image/png")

    with pytest.raises(TypeError):
        store.put("a/00/k.png", 12345, content_type="image/png")  # type: ignore[arg-type]
    assert store.get("a/00/k.png") == b"old"
    assert [p.name for p in (tmp_path / "a/00").iterdir()] == ["k.png"]


def test_unknown_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(ObjectStoreError, match="expected file:///path or s3://bucket"):
        open_object_store("ftp://x")


def test_s3_down_is_a_store_error() -> None:
    from tests.support.services import free_port

    with pytest.raises(ObjectStoreError):
        open_object_store("s3://nobucket", endpoint_url=f"http://127.0.0.1:{free_port()}")
