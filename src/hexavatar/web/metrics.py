"""Prometheus metrics: ``GET /metrics`` and the middleware that counts requests.

What is measured (every label value comes from a bounded set the service defines: route
templates, status codes, error codes, chain IDs; never a raw path, a username or a secret):

- ``hexavatar_http_requests_total{method,route,status}`` and
  ``hexavatar_http_request_duration_seconds{method,route}``: by route *template*
  (``/u/{username}/avatar``); a path no route matches is ``route="unmatched"``.
- ``hexavatar_uploads_total{outcome}`` (``POST /api/v1/me/avatar``) and
  ``hexavatar_mints_total{outcome}`` (``POST /api/v1/nfts``): ``ok`` / ``confirmed`` /
  ``pending``, or the error code of the response body (``file_too_large``, ``mint_reverted``…).
- ``hexavatar_gateway_fetch_attempts_total{mode,outcome}`` (each try of a trustless gateway,
  :class:`~hexavatar.ipfs.fetch.GatewayAttempt`) and ``hexavatar_gateway_fetches_total{outcome}``
  (whole verified fetches, ``ok`` or ``failed``).
- ``hexavatar_watcher_lag_blocks{chain_id}`` (chain head − block the ownership watcher has
  processed), ``hexavatar_watcher_processed_block{chain_id}`` and
  ``hexavatar_watcher_last_round_timestamp_seconds``, from each round the lease holder runs;
  ``hexavatar_watcher_chain_unavailable{chain_id}`` is 1 while the watcher skips a chain
  whose node is down (its lag and block then stay those of the last round that read it: alert
  on this gauge, not on the lag alone).

Registries: one :class:`Metrics` (with its own ``CollectorRegistry``) per app, made in
``create_app``, so apps in one process (tests) never share counters. With several worker
processes (``serve --workers N``) each process counts alone; set ``PROMETHEUS_MULTIPROC_DIR`` to
an empty folder before the process starts and prometheus_client's multiprocess mode writes the
values to files there, and ``/metrics`` (answered by any worker) adds up every process's files.
``serve`` empties the folder's metric files at start-up (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ipfs.fetch import FetchReport
from ..logs import HTTP_METHODS, route_template
from ..services.watcher import WatchReport

__all__ = [
    "MULTIPROC_ENV",
    "Metrics",
    "MetricsMiddleware",
    "install_metrics",
    "wipe_multiproc_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
_MAX_ERROR_BODY = 8192
_MULTIPROC_FILE = re.compile(r"(counter|gauge|histogram|summary)_.*\.db")


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A route whose responses are also counted as outcomes (uploads, mints)."""

    counter: str
    ok: dict[int, str]


_OUTCOME_ROUTES: dict[tuple[str, str], _Outcome] = {
    ("POST", "/api/v1/me/avatar"): _Outcome("uploads", {201: "ok"}),
    ("POST", "/api/v1/nfts"): _Outcome(
        "mints", {200: "confirmed", 201: "confirmed", 202: "pending"}
    ),
}


def multiproc_dir() -> str | None:
    """The multiprocess folder, when prometheus_client was imported in multiprocess mode."""
    path = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    return path if path and values.ValueClass is not values.MutexValue else None


def wipe_multiproc_dir(path: str | Path) -> int:
    """Remove the metric files a previous run left in ``path`` (only prometheus_client's own
    ``counter_*.db``-style files); the number removed."""
    removed = 0
    for entry in Path(path).iterdir():
        if entry.is_file() and _MULTIPROC_FILE.fullmatch(entry.name):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


class Metrics:
    """The service's collectors, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry()
        self.requests = Counter(
            "hexavatar_http_requests", "HTTP requests by route template and status.",
            ["method", "route", "status"], registry=reg,
        )  # fmt: skip
        self.latency = Histogram(
            "hexavatar_http_request_duration_seconds", "Time to answer a request (seconds).",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=reg,
        )  # fmt: skip
        self.uploads = Counter(
            "hexavatar_uploads", "Avatar uploads by outcome (ok or error code).", ["outcome"],
            registry=reg,
        )  # fmt: skip
        self.mints = Counter(
            "hexavatar_mints", "Mint requests by outcome (confirmed, pending or error code).",
            ["outcome"], registry=reg,
        )  # fmt: skip
        self.gateway_attempts = Counter(
            "hexavatar_gateway_fetch_attempts", "Tries of a trustless gateway by mode, outcome.",
            ["mode", "outcome"], registry=reg,
        )  # fmt: skip
        self.gateway_fetches = Counter(
            "hexavatar_gateway_fetches", "Verified fetches from gateways (ok or failed).",
            ["outcome"], registry=reg,
        )  # fmt: skip
        self._watcher_gauges(reg)
        # (method, route, status) → its counter and histogram; bounded like the labels are
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._tallies: dict[tuple[str, str, int], _Tally] = {}  # not flushed yet
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()

    def _watcher_gauges(self, reg: CollectorRegistry) -> None:
        self.watcher_lag = Gauge(
            "hexavatar_watcher_lag_blocks", "Chain head minus the block the watcher processed.",
            ["chain_id"], registry=reg, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.watcher_block = Gauge(
            "hexavatar_watcher_processed_block", "The block the watcher processed up to.",
            ["chain_id"], registry=reg, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.watcher_unavailable = Gauge(
            "hexavatar_watcher_chain_unavailable",
            "1 when the watcher skipped this chain in its last round: its node was unavailable.",
            ["chain_id"], registry=reg, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.watcher_round = Gauge(
            "hexavatar_watcher_last_round_timestamp_seconds",
            "Unix time of the last round this process ran as the watcher's lease holder.",
            registry=reg, multiprocess_mode="mostrecent",
        )  # fmt: skip

    # -- observations -------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request: in process memory, added to the collectors by :meth:`flush`
        (each second, and before every scrape this process answers)."""
        key = (method if method in HTTP_METHODS else "OTHER", route, status)
        bucket = bisect_left(LATENCY_BUCKETS, seconds)  # the first bound ≥ seconds (or +Inf)
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _Tally([0] * (len(LATENCY_BUCKETS) + 1))
            tally.buckets[bucket] += 1
            tally.total += seconds
        if self._flusher is None:
            self._start_flusher()

    def flush(self) -> None:
        """Add the requests counted since the last flush to the collectors.

        Why: in multiprocess mode every ``inc``/``observe`` writes a memory-mapped file (three
        writes and three ``getpid`` calls a request): that cost a cached avatar a fifth of its
        time. Counted in memory and added here once a second, in bulk."""
        with self._lock:
            tallies, self._tallies = self._tallies, {}
        for (method, route, status), tally in tallies.items():
            children = self._children.get((method, route, status))
            if children is None:
                children = (
                    self.requests.labels(method, route, str(status)),
                    self.latency.labels(method, route),
                )
                self._children[(method, route, status)] = children
            children[0].inc(sum(tally.buckets))
            _add_to_histogram(children[1], tally.buckets, tally.total)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_every_second, daemon=True,
                                             name="metrics-flush")  # fmt: skip
        self._flusher.start()

    def _flush_every_second(self) -> None:
        while not self._closed.wait(1.0):
            self.flush()

    def close(self) -> None:
        """Stop the flusher after a last flush."""
        self._closed.set()
        self.flush()

    def observe_outcome(self, method: str, route: str, status: int, body: bytes) -> None:
        """Count an upload or mint response (a no-op for other routes)."""
        kind = _OUTCOME_ROUTES.get((method, route))
        if kind is None:
            return
        outcome = kind.ok.get(status) or _error_code(body) or f"http_{status}"
        counter = self.uploads if kind.counter == "uploads" else self.mints
        counter.labels(outcome).inc()

    def observe_fetch(self, report: FetchReport) -> None:
        """Count a verified fetch and each of its gateway attempts (``ContentReader`` hook)."""
        for attempt in report.attempts:
            self.gateway_attempts.labels(attempt.mode, attempt.outcome).inc()
        self.gateway_fetches.labels("ok" if report.complete else "failed").inc()

    def observe_watch(self, report: WatchReport) -> None:
        """Set the watcher gauges from a round (``OwnershipWatcher`` hook); a round that did
        not hold the lease clears them, so only the lease holder reports a lag."""
        if not report.leader:
            self.watcher_lag.clear()
            self.watcher_block.clear()
            self.watcher_unavailable.clear()
            return
        for chain_id, block in report.chains.items():
            head = report.heads.get(chain_id, block)
            self.watcher_lag.labels(str(chain_id)).set(max(0, head - block))
            self.watcher_block.labels(str(chain_id)).set(block)
            self.watcher_unavailable.labels(str(chain_id)).set(0)
        for chain_id in report.unavailable:
            # (lag and block keep the last round's values: removing a sample is not possible
            # in prometheus_client's multiprocess mode)
            self.watcher_unavailable.labels(str(chain_id)).set(1)
        self.watcher_round.set(time.time())

    def render(self) -> bytes:
        """The exposition text: this registry, or every process's files in multiprocess mode
        (each process adds what it counted at least once a second)."""
        self.flush()
        path = multiproc_dir()
        if path is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


@dataclass(slots=True)
class _Tally:
    buckets: list[int]  # requests per latency bucket (the last: +Inf)
    total: float = 0.0  # their summed seconds


def _add_to_histogram(child: Histogram, buckets: list[int], total: float) -> None:
    """What ``child.observe()`` once per request would have added, in one write per bucket.

    prometheus_client has no bulk observe: this uses the histogram child's own value holders
    (``_buckets``, ``_sum``: prometheus_client 0.26, pinned in the lock file); a test checks
    that the exposition equals the one made by observe() calls."""
    holders = child._buckets
    if len(holders) != len(buckets):
        raise RuntimeError("prometheus_client's histogram layout changed: see metrics.py")
    child._sum.inc(total)
    for holder, count in zip(holders, buckets, strict=True):
        if count:
            holder.inc(count)


def _error_code(body: bytes) -> str | None:
    """``error.code`` of a ``{"error": {"code": …}}`` body, when it looks like one of ours."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) and _CODE.fullmatch(code) else None


class MetricsMiddleware:
    """Pure ASGI middleware: time and count every HTTP request by route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        original = dict(scope)
        status = 500
        body = bytearray()

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif status >= 400 and len(body) < _MAX_ERROR_BODY:
                body.extend(message.get("body", b"")[: _MAX_ERROR_BODY - len(body)])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            route, method = route_template(scope, original), scope["method"]
            self.metrics.observe_request(method, route, status, time.perf_counter() - started)
            self.metrics.observe_outcome(method, route, status, bytes(body))


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Answer ``GET /metrics`` from ``metrics`` (the app wraps itself in
    :class:`MetricsMiddleware`: ``hexavatar.app.HexavatarApp``)."""
    app.state.metrics = metrics

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
