"""``hexavatar serve`` as production runs it: real processes on PostgreSQL + S3 (NFTs off).

- SIGTERM during a slow upload: the upload still ends in 201 and the process then exits 0.
- Two ``serve`` processes on one database and one bucket: a change made through one is served
  by the other within AVATAR_CHANGE_POLL_SECONDS, or AVATAR_CACHE_TTL_SECONDS with the change
  feed off (the documented bounds, docs/deployment.md).
- ``--workers 2`` with PROMETHEUS_MULTIPROC_DIR: ``/metrics`` adds up every worker's counts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.services import free_port, new_database, wait_port
from tests.web.conftest import jpeg_bytes

pytestmark = [pytest.mark.pg, pytest.mark.s3]


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def prod_env(postgres_admin_url: str, s3_endpoint: str, tmp_path: Path) -> dict[str, str]:
    """Environment of a production-like ``serve``: PostgreSQL, an S3 bucket, NFTs off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAVATAR_")}
    env.update(
        HEXAVATAR_DATA_DIR=str(tmp_path / "data"),
        HEXAVATAR_DATABASE_URL=new_database(postgres_admin_url),
        HEXAVATAR_OBJECT_STORE_URL=f"s3://hx-{uuid.uuid4().hex[:12]}",
        HEXAVATAR_S3_ENDPOINT_URL=s3_endpoint,
        HEXAVATAR_S3_ACCESS_KEY_ID="testing",
        HEXAVATAR_S3_SECRET_ACCESS_KEY="testing",
        HEXAVATAR_NFT_ENABLED="false",
        HEXAVATAR_HOST="127.0.0.1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextlib.contextmanager
def serve(env: dict[str, str], tmp: Path, *, workers: int = 1, **extra: str) -> Iterator[Served]:
    """Run ``hexavatar serve`` on a free port; stop it (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    cmd = [sys.executable, "-m", "hexavatar", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            env={**env, **extra},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, timeout=60, proc=proc)
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        yield Served(f"http://127.0.0.1:{port}", port, proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited during start-up"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


def _user_with_token(base: str, name: str) -> str:
    with httpx.Client(base_url=base) as c:
        r = c.post("/api/v1/auth/signup", json={"username": name, "password": "correct horse"})
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/auth/tokens", json={"name": "test"})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def _multipart(data: bytes, boundary: str) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode()


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {raw!r}"
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(head.split(b" ", 2)[1]), body


# -- graceful shutdown -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_a_slow_upload_finish_then_exits_0(
    prod_env: dict[str, str], tmp_path: Path, workers: int
) -> None:
    image = jpeg_bytes((640, 480), "navy", quality=95)
    body = _multipart(image, "hxboundary")
    with serve(prod_env, tmp_path, workers=workers) as srv:
        token = _user_with_token(srv.url, "slow")
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        head = (
            f"POST /api/v1/me/avatar HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary=hxboundary\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head)
        pieces = [
            body[i : i + len(body) // 10 + 1] for i in range(0, len(body), len(body) // 10 + 1)
        ]
        for n, piece in enumerate(pieces):
            sock.sendall(piece)
            if n == 2:
                srv.proc.send_signal(signal.SIGTERM)  # mid-way through the body
            time.sleep(0.15)
        status, answer = _read_response(sock)
        sock.close()
        assert status == 201, answer
        assert srv.proc.wait(30) == 0
    log = srv.log.read_text()
    assert "Traceback" not in log


# -- two processes, one database and bucket: the cache's bound ---------------------------------


def _upload(base: str, token: str, data: bytes) -> str:
    """Upload through ``base``; the ETag its 128 px PNG rendition will be served with."""
    r = httpx.post(
        f"{base}/api/v1/me/avatar",
        files={"file": ("a.jpg", data, "image/jpeg")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    url = r.json()["renditions_png"]["128"]
    return '"' + re.search(r"([0-9a-f]{64})\.png", url).group(1) + '"'  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ttl", "poll", "bound"),
    [(600.0, 0.25, 0.25), (1.0, 0.0, 1.0)],
    ids=["change-feed", "ttl-only"],
)
def test_a_change_through_one_process_is_served_by_another_within_the_bound(
    prod_env: dict[str, str], tmp_path: Path, ttl: float, poll: float, bound: float
) -> None:
    """With the change feed on, the bound is its poll interval (the TTL is long); with it off,
    the TTL."""
    slack = 0.75
    env = {
        **prod_env,
        "HEXAVATAR_AVATAR_CACHE_TTL_SECONDS": str(ttl),
        "HEXAVATAR_AVATAR_CHANGE_POLL_SECONDS": str(poll),
    }
    with serve(env, tmp_path) as a, serve(env, tmp_path) as b:
        token = _user_with_token(a.url, "dana")

        def etag_on_b() -> str:
            r = httpx.get(f"{b.url}/u/dana/avatar?size=128", headers={"Accept": "image/png"})
            assert r.status_code == 200
            return r.headers["etag"]

        old = _upload(a.url, token, jpeg_bytes((300, 300), "red"))
        for colour in ("green", "blue", "olive"):
            assert etag_on_b() == old  # b now holds the current picture in its cache
            new = _upload(a.url, token, jpeg_bytes((300, 300), colour))
            changed_at = time.monotonic()
            seen = set()
            while (etag := etag_on_b()) != new:
                seen.add(etag)
                assert time.monotonic() - changed_at <= bound + slack, "stale past the bound"
                time.sleep(0.02)
            assert time.monotonic() - changed_at <= bound + slack
            assert seen <= {old}  # before the bound, only the previous picture may show
            old = new


# -- metrics across worker processes ---------------------------------------------------------


def test_metrics_add_up_across_workers(prod_env: dict[str, str], tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "counter_1.db").write_bytes(b"stale from a previous run")
    (prom / "keep.txt").write_text("not ours")
    with serve(prod_env, tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(prom)) as srv:
        n = 60
        for _ in range(n):  # a new connection each time, so both workers answer some
            assert httpx.get(f"{srv.url}/healthz", headers={"Connection": "close"}).is_success
        assert not (prom / "counter_1.db").exists() and (prom / "keep.txt").exists()
        deadline = time.monotonic() + 5  # each worker adds its counts once a second
        while True:
            text = httpx.get(f"{srv.url}/metrics").text
            total = sum(
                s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
                if s.name == "hexavatar_http_requests_total" and s.labels.get("route") == "/healthz"
            )
            if total >= n or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        pids = {p.name.rsplit("_", 1)[1] for p in prom.glob("counter_*.db")}
        assert len(pids) >= 2, sorted(prom.iterdir())
    assert total == n
