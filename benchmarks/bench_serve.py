"""Benchmark: the avatar read path ``/u/{username}/avatar`` under load, against nginx serving the
same bytes from a folder, in the same run.

Set-up (production-like): a temporary PostgreSQL cluster (tests/support/services.py), the object
store in a folder (``--s3`` puts it in moto's S3 server instead), NFTs off, ``hexavatar serve
--workers 2`` on 127.0.0.1 with the default settings (JSON access log on, metrics on, avatar cache
TTL 300 s with changes read every second). 1,000 users with avatars, made fast: the users are
inserted through the ORM with one real password hash; ``--distinct`` of them (64) upload a
generated noisy image through ``Avatars.set_upload`` (4 sizes × WebP + PNG each); every other
user gets an avatar row of its own whose renditions point at one of those objects
(content-addressed keys are shared exactly so in production when two users upload the same
picture). The read path does the same queries either way.

Baseline: nginx (Debian package) with as many worker processes as the service, serving for
every user the very bytes the service answers (``/u/<name>/avatar``, the 128 px WebP) from a
folder, ``access_log off``: the target's ratio is against this one. For reference, the same
nginx logging every request as a JSON line (``buffer=64k flush=1s``), as the service does by
default: the like-for-like ratio.

Third, for reference: the service behind an nginx ``proxy_cache`` of 1 s with background
refresh (the front docs/deployment.md describes for heavy avatar traffic, and its caveat), on the
same nginx.

Load: wrk (Debian package) with a Lua script that picks a random user per request
(``GET /u/user<N>/avatar?size=128``, ``Accept: image/webp``), the same connections, threads and
duration for both, after a warm-up of each; ``--rounds`` (3) alternating rounds. Printed: every
round's req/s, p50 and p99, and each round's ratio against the nginx round beside it (the two
measured within seconds of each other, so a busy moment of the machine weighs on both). The
figures are the median round of each target, the ratio is the median of the rounds' ratios:
nginx's own req/s moves by 20 % from run to run on a 2-core machine shared with wrk.
Target: the service ≥ 0.25× nginx's req/s (median ratio) with p99 (median round) under 10 ms.

Usage: ``python benchmarks/bench_serve.py [--users 1000] [--duration 6] [--connections 16]``.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from hexavatar.app import build_services
from hexavatar.config import load_settings
from hexavatar.storage.db import transaction
from hexavatar.storage.models import Avatar, Rendition, User
from hexavatar.web.deps import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/support

from tests.support.services import (
    free_port,
    moto_server,
    new_database,
    postgres_server,
    wait_port,
)

TARGET_RATIO = 0.25
TARGET_P99_MS = 10.0
LUA = """
math.randomseed(os.time())
local users = {users}
request = function()
  local path = "/u/user" .. math.random(0, users - 1) .. "/avatar?size=128"
  return wrk.format("GET", path, {{["Accept"] = "image/webp"}})
end
"""
NGINX_CONF = """
daemon off;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
user root;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  proxy_cache_path {tmp}/cache levels=1:2 keys_zone=avatars:10m max_size=100m inactive=60s
                   use_temp_path=off;
  upstream hexavatar {{ server 127.0.0.1:{app_port}; keepalive 32; }}
  server {{
    # the recommended front (docs/deployment.md): a cache of 1 s, so a change still shows
    # within AVATAR_CHANGE_POLL_SECONDS + 1 s; the service's own max-age=60 is not used for it
    listen 127.0.0.1:{cache_port};
    location / {{
      proxy_pass http://hexavatar;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache avatars;
      proxy_cache_valid 200 1s;
      proxy_cache_lock on;
      proxy_cache_use_stale updating;      # an expired entry is refreshed in the background
      proxy_cache_background_update on;    # while it is still served (a few ms more staleness)
      proxy_ignore_headers Cache-Control Expires;
      proxy_hide_header X-Request-ID;
      add_header X-Cache-Status $upstream_cache_status;
    }}
  }}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /u/ {{
      default_type image/webp;
      add_header Cache-Control "public, max-age=60";
      add_header Vary Accept;
    }}
  }}
  log_format json escape=json '{{"time":"$time_iso8601","method":"$request_method",'
                              '"path":"$uri","status":$status,"request_id":"$request_id",'
                              '"duration_ms":$request_time}}';
  server {{
    # the same, logging every request as the service does (JSON lines, written in batches)
    listen 127.0.0.1:{logging_port};
    root {root};
    access_log {tmp}/access.log json buffer=64k flush=1s;
    location /u/ {{
      default_type image/webp;
      add_header Cache-Control "public, max-age=60";
      add_header Vary Accept;
    }}
  }}
}}
"""


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    # the service's own view (its latency histogram, from entering the app to the last byte):
    # the upper bound of the bucket holding the 99th percentile, queueing outside not included
    server_p99_ms_at_most: float | None = None


# -- data ------------------------------------------------------------------------------------


def noisy_png(seed: int) -> bytes:
    """A 160×160 picture that compresses about like a photo (not a flat colour)."""
    rnd = random.Random(seed)
    base = Image.linear_gradient("L").resize((160, 160)).convert("RGB")
    noise = Image.frombytes("RGB", (40, 40), rnd.randbytes(40 * 40 * 3)).resize((160, 160))
    out = io.BytesIO()
    Image.blend(base, noise, 0.6).save(out, "PNG")
    return out.getvalue()


def populate(services: Services, *, users: int, distinct: int) -> None:
    """``users`` users named user0…; each has an avatar (see the module docstring)."""
    hashed = services.accounts.signup("template", "correct horse battery").password_hash
    now = datetime.now(UTC)
    with transaction(services.factory) as s:
        s.add_all(
            User(username=f"user{i}", password_hash=hashed, created_at=now) for i in range(users)
        )
    with services.factory() as s:
        ids = {name: id_ for name, id_ in s.execute(select(User.username, User.id))}
    uploaded = list(range(min(distinct, users)))
    with ThreadPoolExecutor(4) as pool:  # Pillow encodes without the GIL
        views = list(
            pool.map(lambda i: services.avatars.set_upload(ids[f"user{i}"], noisy_png(i)), uploaded)
        )
    with services.factory() as s:
        templates = [
            [
                (r.size, r.format, r.sha256, r.key, r.byte_size)
                for r in s.scalars(select(Rendition).where(Rendition.avatar_id == v.id))
            ]
            for v in views
        ]
    with transaction(services.factory) as s:
        for i in range(len(uploaded), users):
            source = views[i % len(views)]
            avatar = Avatar(
                id=str(uuid.uuid4()), user_id=ids[f"user{i}"], kind="upload",
                sha256=source.sha256, source_format=source.source_format,
                width=source.width, height=source.height, created_at=now,
                renditions=[
                    Rendition(size=z, format=f, sha256=h, key=k, byte_size=b)
                    for z, f, h, k, b in templates[i % len(views)]
                ],
            )  # fmt: skip
            s.add(avatar)
            s.flush()
            s.get(User, ids[f"user{i}"]).avatar_id = avatar.id  # type: ignore[union-attr]


def mirror_for_nginx(base: str, root: Path, *, users: int) -> int:
    """Fetch every user's answer from the service once and store it where nginx serves it."""
    total = 0
    with httpx.Client(base_url=base, headers={"Accept": "image/webp"}) as client:
        for i in range(users):
            r = client.get(f"/u/user{i}/avatar?size=128")
            r.raise_for_status()
            assert r.headers["content-type"] == "image/webp", r.headers
            folder = root / "u" / f"user{i}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "avatar").write_bytes(r.content)
            total += len(r.content)
    return total


# -- processes -------------------------------------------------------------------------------


@contextlib.contextmanager
def running(cmd: list[str], *, port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout=60, proc=proc)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def wrk(port: int, script: Path, *, seconds: float, connections: int, threads: int) -> Load:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return parse_wrk(out)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(f"wrk latency: expected a number and a unit, found {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> Load:
    pct = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, flags=re.M))
    total = re.search(r"(\d+) requests in", out)
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout) (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write) (\d+)", out))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None or total is None or set(pct) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return Load(
        rps=round(float(rps.group(1)), 1), p50_ms=round(_ms(pct["50"]), 3),
        p99_ms=round(_ms(pct["99"]), 3), requests=int(total.group(1)), errors=errors,
    )  # fmt: skip


# -- the run ---------------------------------------------------------------------------------


def app_env(tmp: Path, database_url: str, s3: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAVATAR_")}
    env.update(
        HEXAVATAR_DATA_DIR=str(tmp / "data"),
        HEXAVATAR_DATABASE_URL=database_url,
        HEXAVATAR_NFT_ENABLED="false",
        HEXAVATAR_HOST="127.0.0.1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),  # /metrics adds up both workers
    )
    if s3 is not None:
        env.update(
            HEXAVATAR_OBJECT_STORE_URL=f"s3://bench-{uuid.uuid4().hex[:8]}",
            HEXAVATAR_S3_ENDPOINT_URL=s3,
            HEXAVATAR_S3_ACCESS_KEY_ID="testing",
            HEXAVATAR_S3_SECRET_ACCESS_KEY="testing",
        )
    return env


def settings_of(env: dict[str, str]) -> Any:
    names = {
        k.removeprefix("HEXAVATAR_").lower(): v
        for k, v in env.items()
        if k.startswith("HEXAVATAR_")
    }
    return load_settings(**names)


def measure(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    services = build_services(settings_of(env))
    try:
        populate(services, users=args.users, distinct=args.distinct)
    finally:
        services.close()
    made = time.monotonic() - started
    print(f"{args.users} users with avatars in {made:.1f} s", flush=True)
    app_port, nginx_port = free_port(), free_port()
    root = tmp / "www"
    conf = tmp / "nginx.conf"
    cache_port, logging_port = free_port(), free_port()
    conf.write_text(
        NGINX_CONF.format(
            workers=args.workers, tmp=tmp, port=nginx_port, root=root, app_port=app_port,
            cache_port=cache_port, logging_port=logging_port,
        )
    )  # fmt: skip
    script = tmp / "pick.lua"
    script.write_text(LUA.format(users=args.users))
    serve = [sys.executable, "-m", "hexavatar", "serve", "--port", str(app_port),
             "--workers", str(args.workers)]  # fmt: skip
    with running(serve, port=app_port, env=env, log=tmp / "serve.log"):
        wait_ready(f"http://127.0.0.1:{app_port}/readyz")
        mirrored = mirror_for_nginx(f"http://127.0.0.1:{app_port}", root, users=args.users)
        print(
            f"service up and mirrored for nginx at {time.monotonic() - started:.1f} s", flush=True
        )
        nginx = [shutil.which("nginx") or "nginx", "-c", str(conf), "-e", str(tmp / "ngx.log")]
        with running(nginx, port=nginx_port, env=dict(os.environ), log=tmp / "nginx.log"):
            ports = {
                "app": app_port, "nginx": nginx_port, "nginx_logging": logging_port,
                "app_behind_nginx_cache": cache_port,
            }  # fmt: skip
            wait_port(cache_port)
            print(f"nginx cache in front of the service: {cache_status(cache_port)}", flush=True)
            runs = run_rounds(args, script, ports)
            return {
                "runs": runs,
                "setup_seconds": round(made, 1),
                "mirrored_bytes_per_user": round(mirrored / args.users),
            }


def cache_status(port: int) -> list[str]:
    """X-Cache-Status of two requests in a row for one avatar (expected: MISS, then HIT)."""
    url = f"http://127.0.0.1:{port}/u/user0/avatar?size=128"
    got = [httpx.get(url, headers={"Accept": "image/webp"}) for _ in range(2)]
    return [f"{r.status_code} {r.headers.get('x-cache-status')}" for r in got]


def server_buckets(port: int) -> dict[float, float]:
    """The service's latency histogram of ``/u/{username}/avatar``: bucket bound → count (all
    worker processes: the run sets PROMETHEUS_MULTIPROC_DIR)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        float(s.labels["le"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "hexavatar_http_request_duration_seconds_bucket"
        and s.labels.get("route") == "/u/{username}/avatar"
    }


def server_p99_ms(before: dict[float, float], after: dict[float, float]) -> float | None:
    delta = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    for le, count in delta.items():
        if total and count >= 0.99 * total:
            return le * 1000
    return None


def run_rounds(
    args: argparse.Namespace, script: Path, ports: dict[str, int]
) -> dict[str, list[Load]]:
    """``--rounds`` alternating rounds, each after ``--warmup`` seconds of the same load on the
    same target (every target measured in its steady state: connections open, caches warm)."""
    load = {"seconds": args.duration, "connections": args.connections, "threads": args.threads}
    runs: dict[str, list[Load]] = {name: [] for name in ports}
    for _ in range(args.rounds):
        for name, port in ports.items():
            wrk(port, script, **{**load, "seconds": args.warmup})
            before = server_buckets(ports["app"])
            x = wrk(port, script, **load)
            if name == "app":
                x = replace(x, server_p99_ms_at_most=server_p99_ms(before, server_buckets(port)))
            runs[name].append(x)
    for name, loads in runs.items():
        for n, x in enumerate(loads):
            server = (
                ""
                if x.server_p99_ms_at_most is None
                else (f"  (service's own p99 ≤ {x.server_p99_ms_at_most:g} ms)")
            )
            vs = f"  {x.rps / runs['nginx'][n].rps:.3f}× nginx's round" if name != "nginx" else ""
            print(f"{name:>22} round {n}: {x.rps:9.1f} req/s  p50 {x.p50_ms:7.3f} ms  "
                  f"p99 {x.p99_ms:7.3f} ms  errors {x.errors}{vs}{server}")  # fmt: skip
    return runs


def median_round(loads: list[Load]) -> Load:
    """The round in the middle by req/s (the lower middle of an even number)."""
    return sorted(loads, key=lambda x: x.rps)[(len(loads) - 1) // 2]


def median_ratio(loads: list[Load], baseline: list[Load]) -> float:
    """The median of the rounds' req/s ratios, each against the baseline's round beside it."""
    ratios = sorted(x.rps / b.rps for x, b in zip(loads, baseline, strict=True))
    middle = len(ratios) // 2
    median = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
    return round(median, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=64, help="users who really upload")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--s3", action="store_true", help="objects in moto's S3 server")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian package {tool})")
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews both sides
    with contextlib.ExitStack() as stack:
        admin = stack.enter_context(postgres_server())
        s3 = stack.enter_context(moto_server()) if args.s3 else None
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-serve-")))
        os.chmod(tmp, 0o755)
        figures = measure(args, tmp, app_env(tmp, new_database(admin), s3))
    load_after = round(os.getloadavg()[0], 2)
    runs: dict[str, list[Load]] = figures.pop("runs")
    medians = {name: asdict(median_round(loads)) for name, loads in runs.items()}
    app, ngx, ngx_log = medians["app"], medians["nginx"], medians["nginx_logging"]
    ratio = median_ratio(runs["app"], runs["nginx"])
    ratio_logging = median_ratio(runs["app"], runs["nginx_logging"])
    met = ratio >= TARGET_RATIO and app["p99_ms"] < TARGET_P99_MS
    print(f"median rounds of {args.rounds}:")
    print(f"service: {app['rps']:.0f} req/s, p50 {app['p50_ms']} ms, p99 {app['p99_ms']} ms")
    print(f"nginx:   {ngx['rps']:.0f} req/s, p50 {ngx['p50_ms']} ms, p99 {ngx['p99_ms']} ms")
    print(f"nginx logging each request as the service does: {ngx_log['rps']:.0f} req/s, "
          f"p50 {ngx_log['p50_ms']} ms, p99 {ngx_log['p99_ms']} ms "
          f"(service {ratio_logging}× of it)")  # fmt: skip
    fronted = medians["app_behind_nginx_cache"]
    print(f"service behind a 1 s nginx cache: {fronted['rps']:.0f} req/s, "
          f"p50 {fronted['p50_ms']} ms, p99 {fronted['p99_ms']} ms")  # fmt: skip
    print(f"ratio:   {ratio}× nginx's req/s, median of the rounds (target ≥ {TARGET_RATIO}×, "
          f"p99 < {TARGET_P99_MS} ms): {'met' if met else 'missed'}")  # fmt: skip
    print(json.dumps({
        "bench": "serve", "users": args.users, "workers": args.workers,
        "connections": args.connections, "duration_s": args.duration, "rounds": args.rounds,
        "store": "s3" if args.s3 else "folder", **medians, **figures, "rps_ratio": ratio,
        "rps_ratio_rounds": [
            round(x.rps / b.rps, 3) for x, b in zip(runs["app"], runs["nginx"], strict=True)
        ],
        "rps_ratio_vs_logging_nginx": ratio_logging,
        "target_rps_ratio": TARGET_RATIO, "target_p99_ms": TARGET_P99_MS, "met": met,
        "cpus": os.cpu_count(), "loadavg_1m": [load_before, load_after],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
