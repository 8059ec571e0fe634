"""Object stores: where rendition bytes live, under keys derived from their content hash.

``ObjectStore`` is the protocol; ``LocalObjectStore`` (a folder; atomic writes: temp file, fsync,
rename) and ``S3ObjectStore`` (boto3, any endpoint URL) implement it, and one conformance test
suite runs against both.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import ObjectNotFound, ObjectStoreError

__all__ = [
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectStore",
    "S3ObjectStore",
    "content_key",
    "open_object_store",
]

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def public_url(self, key: str) -> str | None: ...
    def check(self) -> None: ...


def content_key(data: bytes, *, ext: str, prefix: str = "a") -> str:
    """The key of ``data``: ``<prefix>/<first two hex>/<sha256>.<ext>``."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{digest[:2]}/{digest}.{ext}"


def _checked(key: str) -> str:
    if len(key) > 200 or not _KEY.fullmatch(key) or ".." in key:
        raise ObjectStoreError(
            f"invalid object key: expected lowercase path segments, found {key[:80]!r}"
        )
    return key


class LocalObjectStore:
    """A folder. Writes go to a temp file in the same folder, are fsynced, then renamed."""

    def __init__(self, root: Path, *, public_base_url: str = "") -> None:
        self.root = root
        self._public = public_base_url.rstrip("/")
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object under key {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for dirpath, _dirs, files in os.walk(self.root):
            for name in sorted(files):
                if name.startswith(".tmp-"):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                st = full.stat()
                yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def public_url(self, key: str) -> str | None:
        return f"{self._public}/{_checked(key)}" if self._public else None

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"object store folder {str(self.root)!r} is not writable")


class S3ObjectStore:
    """Any S3 API (AWS S3, MinIO, R2, moto's server) through boto3."""

    def __init__(
        self, client: Any, *, bucket: str, prefix: str = "", public_base_url: str = ""
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._public = public_base_url.rstrip("/")

    def _full(self, key: str) -> str:
        return self._prefix + _checked(key)

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._call(
            "put_object", Bucket=self.bucket, Key=self._full(key), Body=data,
            ContentType=content_type, CacheControl="public, max-age=31536000, immutable",
        )  # fmt: skip

    def get(self, key: str) -> bytes:
        resp = self._call("get_object", Bucket=self.bucket, Key=self._full(key), key=key)
        body: bytes = resp["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=self._full(key), key=key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=self._full(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._prefix + prefix):
            for item in page.get("Contents", []):
                key = item["Key"][len(self._prefix) :]
                yield ObjectInfo(key, int(item["Size"]), item["LastModified"])

    def public_url(self, key: str) -> str | None:
        return f"{self._public}/{self._full(key)}" if self._public else None

    def check(self) -> None:
        self._call("head_bucket", Bucket=self.bucket)

    def ensure_bucket(self) -> None:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except Exception:
            self._call("create_bucket", Bucket=self.bucket)

    def _call(self, op: str, *, key: str | None = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._s3, op)(**kwargs)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if key is not None and code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(f"no object under key {key!r}") from None
            raise ObjectStoreError(f"S3 {op} failed: {code or e}") from None
        except BotoCoreError as e:
            raise ObjectStoreError(f"S3 {op} failed: {e}") from None


def open_object_store(
    url: str,
    *,
    endpoint_url: str = "",
    region: str = "us-east-1",
    access_key_id: str = "",
    secret_access_key: str = "",
    public_base_url: str = "",
) -> ObjectStore:
    """``file:///path`` → a folder; ``s3://bucket[/prefix]`` → S3 (``endpoint_url`` for others)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalObjectStore(Path(parts.path), public_base_url=public_base_url)
    if parts.scheme == "s3" and parts.netloc:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
        )
        store = S3ObjectStore(
            client, bucket=parts.netloc, prefix=parts.path, public_base_url=public_base_url
        )
        store.ensure_bucket()
        return store
    raise ObjectStoreError(f"object store URL: expected file:///path or s3://bucket, found {url!r}")
