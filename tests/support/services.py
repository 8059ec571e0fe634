"""Real services for tests and benchmarks: a throwaway PostgreSQL cluster and moto's S3 server.

PostgreSQL: ``HEXAVATAR_TEST_POSTGRES_URL`` names a server to use; otherwise a temporary cluster is
made with Debian's ``initdb`` and run as a non-root user (``nobody`` when we are root, since
PostgreSQL refuses to run as root) on a free port on 127.0.0.1. S3: ``HEXAVATAR_TEST_S3_ENDPOINT``
names one; otherwise moto's standalone server runs on a free port (no real S3 can run here).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["free_port", "moto_server", "new_database", "postgres_server", "wait_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(
    port: int, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    path = found[0] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian package postgresql)")
    return path


def _as_postgres_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a PostgreSQL server (admin database ``postgres``)."""
    given = os.environ.get("HEXAVATAR_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    # Our own folder (mode 755): the cluster's user must reach it, and pytest's are private.
    workdir = Path(tempfile.mkdtemp(prefix="hexavatar-pg-"))
    os.chmod(workdir, 0o755)
    data = workdir / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "nobody", "nogroup")
    initdb = [_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
    subprocess.run(_as_postgres_user([*initdb, "--no-sync"]), check=True, capture_output=True)
    port = free_port()
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    ctl = _pg_bin("pg_ctl")
    log = data / "server.log"
    subprocess.run(
        _as_postgres_user([ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def new_database(admin_url: str) -> str:
    """Create an empty database on the server of ``admin_url``; return its URL."""
    name = f"hx_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Yield the endpoint URL of an S3 API server on 127.0.0.1."""
    given = os.environ.get("HEXAVATAR_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
