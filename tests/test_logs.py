"""The log pipeline's fast parts: the redaction pre-check, the access record written without
the logging machinery, and the batching handler."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import re
import threading
from collections.abc import Iterator

import pytest

from hexavatar import logs
from hexavatar.logs import (
    BatchingStreamHandler,
    bind_request_id,
    configure_logging,
    log_access,
    redact,
    unbind_request_id,
)

FRAGMENTS = [
    "postgresql://hx:pw-1@db/hx", "https://user:secret@host/x", "s3://bucket/key", "://",
    "Bearer abc.DEF-123", "basic Zm9vOmJhcg==", "password=hunter2", "PASSWD: x", "api_key=k1",
    "API-KEY: k2", "private_key = 0xabc", "token:t0k", "Cookie=c1", "session=s1", "secret='s'",
    "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----", "key", "monkey=1",
    "GET /u/{username}/avatar 200 0.1ms", "user", "=", ":", " ", "&", ",", "\"", "'", "é", "\n",
]  # fmt: skip


def _redact_always(text: str) -> str:
    for pattern, replacement in logs._REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def test_the_precheck_never_skips_what_the_patterns_would_mask() -> None:
    """``redact`` skips texts with none of the trigger words: for any text, the answer must be
    what running every pattern gives."""
    rnd = random.Random(4361)
    for _ in range(5000):
        parts = rnd.choices(FRAGMENTS, k=rnd.randint(1, 6))
        text = "".join(p.upper() if rnd.random() < 0.2 else p for p in parts)
        assert redact(text) == _redact_always(text), text
    masked = redact("connect to postgresql://hx:pw-1@db failed, Bearer abc")
    assert "pw-1" not in masked and "abc" not in masked


@contextlib.contextmanager
def only_our_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Our JSON handler writing to a buffer, and no other handler on the root logger (pytest's
    capturing handlers, added anew for each test phase, would take the access record off its
    direct path)."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(level="info", fmt="json")
    root = logging.getLogger()
    others = [h for h in root.handlers if h is not logs._direct]
    for handler in others:
        root.removeHandler(handler)
    try:
        yield stream
    finally:
        for handler in others:
            root.addHandler(handler)
        monkeypatch.undo()
        configure_logging(level="info", fmt="json")  # a handler on the real stderr again


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    assert logs._direct is not None
    logs._direct.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_direct_access_line_is_what_the_formatter_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = bind_request_id("req-9")
    with only_our_handler(monkeypatch) as json_stream:
        assert logs._direct_sink() is not None  # no other handler: the direct path
        log_access("GET", "/u/{username}/avatar", '/u/"ü"/avatar', 200, 0.0001234)
        extra = logging.NullHandler()
        logs.ACCESS.addHandler(extra)  # another handler on the way: the logging machinery
        try:
            assert logs._direct_sink() is None
            log_access("GET", "/u/{username}/avatar", '/u/"ü"/avatar', 200, 0.0001234)
        finally:
            logs.ACCESS.removeHandler(extra)
            unbind_request_id(token)
        direct, through_logging = _lines(json_stream)
        assert list(direct) == list(through_logging)  # same keys in the same order
        assert {**direct, "time": ""} == {**through_logging, "time": ""}
        assert direct["request_id"] == "req-9" and direct["path"] == '/u/"ü"/avatar'
        assert direct["message"] == "GET /u/{username}/avatar 200 0.1ms"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(direct["time"]))


def test_the_access_record_is_skipped_when_its_logger_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with only_our_handler(monkeypatch) as json_stream:
        logs.ACCESS.setLevel(logging.WARNING)
        try:
            log_access("GET", "/healthz", "/healthz", 200, 0.001)
        finally:
            logs.ACCESS.setLevel(logging.NOTSET)
        assert _lines(json_stream) == []
        log_access("GET", "/healthz", "/healthz", 200, 0.001)
        assert [x["route"] for x in _lines(json_stream)] == ["/healthz"]


def test_batching_handler_writes_warnings_at_once_and_the_rest_in_batches() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=3600)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("hexavatar.test.batching")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.info("one")
        log.info("two")
        assert stream.getvalue() == ""  # waiting for the batch
        log.warning("three")  # written at once, after what waited, in order
        assert stream.getvalue() == "INFO one\nINFO two\nWARNING three\n"
        log.info("four")
        handler.close()  # what waits is written on close (and at exit)
        assert stream.getvalue().endswith("WARNING three\nINFO four\n")
    finally:
        log.removeHandler(handler)


def test_batching_handler_writes_a_full_batch_and_on_its_interval() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=0.05, max_bytes=20)
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.makeLogRecord({"msg": "x" * 30, "levelno": logging.INFO})
    handler.handle(record)
    assert stream.getvalue() == "x" * 30 + "\n"  # over max_bytes: written at once
    handler.handle(logging.makeLogRecord({"msg": "late", "levelno": logging.INFO}))
    for _ in range(200):  # the flusher thread writes it within its interval
        if stream.getvalue().endswith("late\n"):
            break
        threading.Event().wait(0.01)
    assert stream.getvalue().endswith("late\n")
    handler.close()


def test_debug_logs_never_show_an_rpc_urls_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """web3 and urllib3 log each request's URL at DEBUG, and an RPC URL holds its API key in
    the path: those loggers stay at INFO even when the service logs at DEBUG."""
    from hexavatar.chain.errors import ChainUnavailable
    from hexavatar.chain.rpc import chain_id_of, connect
    from tests.support.services import free_port

    url = f"http://127.0.0.1:{free_port()}/v3/APIKEY123"  # nothing listens: refused at once

    def logged(*, floors: bool) -> str:
        stream = io.StringIO()
        monkeypatch.setattr("sys.stderr", stream)
        configure_logging(level="debug", fmt="json")
        if not floors:  # the control: what these loggers say when let through
            for name in ("web3", "urllib3"):
                logging.getLogger(name).setLevel(logging.DEBUG)
        with pytest.raises(ChainUnavailable):
            chain_id_of(connect(url, timeout=1))
        assert logs._direct is not None
        logs._direct.flush()
        return stream.getvalue()

    try:
        assert "APIKEY123" in logged(floors=False)
        assert "APIKEY123" not in logged(floors=True)
    finally:
        monkeypatch.undo()
        configure_logging(level="info", fmt="json")
