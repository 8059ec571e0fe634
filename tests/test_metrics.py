"""Prometheus metrics and structured logs, in one process: what ``/metrics`` counts, which labels
it uses (route templates, never usernames or secrets), the gateway-fetch and watcher hooks, and
the JSON log lines with their request IDs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hexavatar.app import build_services, create_app
from hexavatar.config import Settings, load_settings
from hexavatar.ipfs.blockstore import MemoryBlockstore
from hexavatar.ipfs.cid import CID
from hexavatar.ipfs.importer import import_bytes
from hexavatar.ipfs.profiles import UNIXFS_V1_2025
from hexavatar.logs import JsonFormatter, configure_logging, redact
from hexavatar.resolve.errors import FetchError
from hexavatar.services.chainlink import unsafe_allow_policy
from hexavatar.services.ipfs_content import ContentReader
from hexavatar.services.watcher import OwnershipWatcher, WatchReport
from hexavatar.web.metrics import Metrics
from tests.web.conftest import jpeg_bytes, signup

SECRET_PASSWORD = "correct horse battery"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Values of the samples called ``name`` in an exposition, by their sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture
def settings(storage_config: dict[str, str]) -> Settings:
    return load_settings(**storage_config, public_url="http://testserver", nft_enabled=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_requests_are_counted_by_route_template_not_by_username(client: TestClient) -> None:
    signup(client, "zed", SECRET_PASSWORD)
    for _ in range(3):
        assert client.get("/u/zed/avatar?size=64").status_code == 200
    assert client.get("/u/nobody-here/avatar").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/openapi.json").status_code == 200  # a plain Starlette route
    assert client.get("/static/no-such-file.css").status_code == 404  # a mount
    text = client.get("/metrics").text
    get = {"method": "GET", "status": "200"}
    assert value(text, "hexavatar_http_requests_total", route="/openapi.json", **get) == 1
    assert value(
        text, "hexavatar_http_requests_total", method="GET", route="/static", status="404"
    ) == 1  # fmt: skip
    route = "/u/{username}/avatar"
    assert (
        value(text, "hexavatar_http_requests_total", method="GET", route=route, status="200") == 3
    )
    assert (
        value(text, "hexavatar_http_requests_total", method="GET", route=route, status="404") == 1
    )
    assert value(
        text, "hexavatar_http_requests_total", method="GET", route="unmatched", status="404"
    ) == 1  # fmt: skip
    count = "hexavatar_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route=route) == 4
    for leak in ("zed", "nobody-here", "/no/such/page", SECRET_PASSWORD, "hexavatar_session"):
        assert leak not in text


def test_upload_outcomes_are_counted_by_error_code(client: TestClient) -> None:
    signup(client)

    def upload(data: bytes, ctype: str = "image/jpeg") -> int:
        files = {"file": ("a.jpg", data, ctype)}
        return int(client.post("/api/v1/me/avatar", files=files).status_code)

    assert upload(jpeg_bytes()) == 201
    assert upload(jpeg_bytes((64, 64), "red")) == 201
    assert upload(b"this is no image at all") == 415
    assert upload(b"") == 400
    text = client.get("/metrics").text
    assert value(text, "hexavatar_uploads_total", outcome="ok") == 2
    assert value(text, "hexavatar_uploads_total", outcome="unsupported_format") == 1
    assert value(text, "hexavatar_uploads_total", outcome="empty_file") == 1
    assert samples(text, "hexavatar_mints_total") == {}


def test_mint_refusals_are_counted_by_error_code(client: TestClient) -> None:
    signup(client)
    r = client.post("/api/v1/nfts", files={"image": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code >= 400
    code = r.json()["error"]["code"]
    text = client.get("/metrics").text
    assert value(text, "hexavatar_mints_total", outcome=code) == 1


def test_metrics_can_be_turned_off(settings: Settings) -> None:
    off = settings.model_copy(update={"metrics_enabled": False})
    with TestClient(create_app(off)) as c:
        assert c.get("/metrics").status_code == 404


def test_each_app_has_its_own_registry(settings: Settings) -> None:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        a.get("/healthz")
        a.get("/healthz")
        b.get("/healthz")
        key = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(a.get("/metrics").text, "hexavatar_http_requests_total", **key) == 2
        assert value(b.get("/metrics").text, "hexavatar_http_requests_total", **key) == 1


# -- request IDs and JSON logs -----------------------------------------------------------------


def _json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    fmt = JsonFormatter()
    return [json.loads(fmt.format(r)) for r in caplog.records]


def test_request_id_is_kept_when_sane_else_made(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123.xyz"})
    assert r.headers["x-request-id"] == "abc-123.xyz"
    for bad in ("has space", "x" * 200, "<script>", "a\tb"):
        made = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert made != bad and re.fullmatch(r"[0-9a-f]{32}", made)
    one = client.get("/healthz").headers["x-request-id"]
    two = client.get("/healthz").headers["x-request-id"]
    assert one != two


def test_access_log_is_json_with_request_id_and_no_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    signup(client, "carol", SECRET_PASSWORD)
    token = client.post("/api/v1/auth/tokens", json={"name": "ci"}).json()["token"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hexavatar.access"):
        r = client.get(
            f"/u/carol/avatar?size=64&token={token}",
            headers={"X-Request-ID": "req-42", "Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200
    lines = [x for x in _json_lines(caplog) if x["logger"] == "hexavatar.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-42"
    assert line["route"] == "/u/{username}/avatar" and line["status"] == 200
    assert line["method"] == "GET" and line["duration_ms"] >= 0
    dumped = json.dumps(line)
    for secret in (token, SECRET_PASSWORD, "hexavatar_session", "Bearer"):
        assert secret not in dumped


def test_request_id_reaches_records_logged_in_worker_threads(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        client.get("/api/v1/users/ghost", headers={"X-Request-ID": "trace-me"})
    ids = {x.get("request_id") for x in _json_lines(caplog)}
    assert "trace-me" in ids


def test_an_unexpected_error_is_logged_with_its_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("cannot reach postgresql://hx:pw-in-url@db/hx")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.INFO):
        r = c.get("/boom", headers={"X-Request-ID": "err-7"})
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        assert r.headers["x-request-id"] == "err-7"  # the framework's 500 carries it too
        metrics = c.get("/metrics").text
    lines = _json_lines(caplog)
    errors = [x for x in lines if x["level"] == "error"]
    assert errors and all(x.get("request_id") == "err-7" for x in errors)
    assert "RuntimeError" in errors[0]["exc"] and "pw-in-url" not in json.dumps(lines)
    access = [x for x in lines if x["logger"] == "hexavatar.access"]
    assert access[0]["status"] == 500 and access[0]["route"] == "/boom"
    key = {"method": "GET", "route": "/boom", "status": "500"}
    assert value(metrics, "hexavatar_http_requests_total", **key) == 1


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connect to postgresql://hx:s3cr3t-pw@db.internal/hx failed", "s3cr3t-pw"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ("login with password=hunter2&user=x", "hunter2"),
        ('{"minter_password": "pa55word"}', "pa55word"),
        ("cookie: hexavatar_session=tok123", "tok123"),
        ("s3_secret_access_key=AKIAxyz/abc", "AKIAxyz"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", "MHcCAQEE"),
    ],
)
def test_redact_masks_credentials(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    msg = "GET /u/{username}/avatar 200 1.2ms sha256=ab12 tx 0x" + "a" * 64
    assert redact(msg) == msg


def test_configured_handler_writes_json_lines_and_masks_exceptions() -> None:
    configure_logging(level="info", fmt="json")
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_hexavatar_handler", False)]
    assert len(ours) == 1
    configure_logging(level="info", fmt="json")  # idempotent: still one handler
    ours = [h for h in root.handlers if getattr(h, "_hexavatar_handler", False)]
    assert len(ours) == 1
    handler = ours[0]
    assert isinstance(handler, logging.StreamHandler)
    buf = io.StringIO()
    old = handler.setStream(buf)
    try:
        try:
            raise RuntimeError("cannot reach postgresql://u:topsecret@db/x")
        except RuntimeError:
            logging.getLogger("hexavatar.test").exception("boom", extra={"what": 1})
    finally:
        handler.setStream(old)
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert line["level"] == "error" and line["message"] == "boom" and line["what"] == 1
    assert "RuntimeError" in line["exc"] and "topsecret" not in line["exc"]


# -- hooks: verified gateway fetches and the ownership watcher ---------------------------------


def test_gateway_fetch_outcomes_are_counted() -> None:
    from tests.ipfs.test_gateway_support import gateway_app, serve

    remote = MemoryBlockstore()
    data = bytes(range(256)) * 2000  # several blocks
    root = import_bytes(data, profile=UNIXFS_V1_2025, blockstore=remote).cid
    root_raw = root.encode()  # the root block: the one the liar tampers with

    class Liar(MemoryBlockstore):
        def get(self, cid: CID) -> bytes:
            block = remote.get(cid)
            return block[:-1] + bytes([block[-1] ^ 1]) if cid.encode() == root_raw else block

        def has(self, cid: CID) -> bool:
            return remote.has(cid)

    metrics = Metrics()
    with serve(gateway_app(remote)) as good, serve(gateway_app(Liar())) as bad:
        allow = [f"127.0.0.1:{u.rsplit(':', 1)[1]}" for u in (good, bad)]
        policy = unsafe_allow_policy(allow)

        def reader(gateways: list[str]) -> ContentReader:
            return ContentReader(
                MemoryBlockstore(),
                gateways=gateways,
                policy=policy,
                on_report=metrics.observe_fetch,
            )

        got = asyncio.run(reader([good]).read(str(root), "", max_bytes=10**7))
        assert got == data
        with pytest.raises(FetchError):
            asyncio.run(reader([bad]).read(str(root), "", max_bytes=10**7))
    text = metrics.render().decode()
    assert value(text, "hexavatar_gateway_fetches_total", outcome="ok") == 1
    assert value(text, "hexavatar_gateway_fetches_total", outcome="failed") == 1
    assert value(text, "hexavatar_gateway_fetch_attempts_total", mode="car", outcome="ok") >= 1
    # The liar's own gateway re-hashes blocks and answers 502: both of its tries count so.
    attempts = samples(text, "hexavatar_gateway_fetch_attempts_total")
    failed = {k: v for k, v in attempts.items() if ("outcome", "ok") not in k}
    assert failed == {
        (("mode", "car"), ("outcome", "http_status")): 1,
        (("mode", "raw"), ("outcome", "http_status")): 1,
    }
    assert "127.0.0.1" not in text  # gateway addresses are not labels


def test_watcher_gauges_follow_the_lease_holder() -> None:
    metrics = Metrics()
    metrics.observe_watch(WatchReport(leader=True, chains={31337: 95}, heads={31337: 100}))
    text = metrics.render().decode()
    assert value(text, "hexavatar_watcher_lag_blocks", chain_id="31337") == 5
    assert value(text, "hexavatar_watcher_processed_block", chain_id="31337") == 95
    assert value(text, "hexavatar_watcher_last_round_timestamp_seconds") == pytest.approx(
        time.time(), abs=5
    )
    assert value(text, "hexavatar_watcher_chain_unavailable", chain_id="31337") == 0
    # The node went down: the chain is skipped and says so (its lag is the last round's).
    metrics.observe_watch(
        WatchReport(leader=True, unavailable={31337: "chain 31337 is unavailable"})
    )
    text = metrics.render().decode()
    assert value(text, "hexavatar_watcher_chain_unavailable", chain_id="31337") == 1
    assert value(text, "hexavatar_watcher_lag_blocks", chain_id="31337") == 5
    metrics.observe_watch(WatchReport(leader=True, chains={31337: 99}, heads={31337: 100}))
    text = metrics.render().decode()
    assert value(text, "hexavatar_watcher_chain_unavailable", chain_id="31337") == 0
    assert value(text, "hexavatar_watcher_lag_blocks", chain_id="31337") == 1
    metrics.observe_watch(WatchReport(leader=False))
    assert samples(metrics.render().decode(), "hexavatar_watcher_lag_blocks") == {}
    assert samples(metrics.render().decode(), "hexavatar_watcher_chain_unavailable") == {}


def test_the_running_watcher_reports_its_lag(tmp_path: Any) -> None:
    """OwnershipWatcher.run_forever hands each round's report (head and processed block, from a
    real lease in the database) to the metrics hook."""
    services = build_services(load_settings(data_dir=tmp_path, nft_enabled=False))
    chain = SimpleNamespace(eth=SimpleNamespace(block_number=100, get_logs=lambda _f: []))
    nfts = SimpleNamespace(tokens_in_use=lambda: {31337: {("0x" + "ab" * 20, 1)}})
    metrics = Metrics()
    watcher = OwnershipWatcher(
        services.factory, nfts, lambda _c: chain,  # type: ignore[arg-type,return-value]
        depth=4, full_every=1e12, on_report=metrics.observe_watch,
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), kwargs={"interval": 0.02})
    thread.start()
    try:
        lag = "hexavatar_watcher_processed_block"
        deadline = time.monotonic() + 10
        while value(metrics.render().decode(), lag, chain_id="31337") != 97:
            assert time.monotonic() < deadline, metrics.render().decode()
            time.sleep(0.02)
        chain.eth.block_number = 250
        while value(metrics.render().decode(), lag, chain_id="31337") != 247:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        text = metrics.render().decode()
        assert value(text, "hexavatar_watcher_lag_blocks", chain_id="31337") == 3  # depth − 1
    finally:
        stop.set()
        thread.join(10)
        services.close()


def test_requests_counted_in_bulk_equal_one_observe_each() -> None:
    """Requests are counted in memory and added to the collectors in bulk (flush): the
    exposition must be what one ``inc``/``observe`` per request gives, bucket by bucket."""
    durations = [0.0004, 0.001, 0.0011, 0.003, 0.2, 7.0, 100.0, 0.001, 0.0025]
    bulk, reference = Metrics(), Metrics()
    for seconds in durations:
        bulk.observe_request("GET", "/u/{username}/avatar", 200, seconds)
        reference.requests.labels("GET", "/u/{username}/avatar", "200").inc()
        reference.latency.labels("GET", "/u/{username}/avatar").observe(seconds)
    bulk.observe_request("BREW", "/x", 418, 0.01)  # an unknown method is counted as OTHER
    reference.requests.labels("OTHER", "/x", "418").inc()
    reference.latency.labels("OTHER", "/x").observe(0.01)

    def figures(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name.startswith("hexavatar_http_request") and not s.name.endswith("_created")
        }

    got = figures(bulk.render().decode())  # render() flushes first
    assert got == figures(reference.render().decode())
    text = bulk.render().decode()
    key = {"method": "GET", "route": "/u/{username}/avatar", "status": "200"}
    assert value(text, "hexavatar_http_requests_total", **key) == len(durations)
    bulk.close()
