"""The avatar read path under concurrency: cache misses coalesced into batched loads
(web/avatar_loader.py), answered by the fast lane as well as hits (web/fastpath.py), and hits
answered before ASGI under ``hexavatar serve``'s HTTP protocol (web/wire.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from hexavatar.app import create_app
from hexavatar.config import Settings
from hexavatar.services.errors import InvalidCredentials
from hexavatar.storage.models import User
from hexavatar.web.fastpath import AvatarFastPath
from hexavatar.web.wire import CoalescingHttpToolsProtocol
from tests.support.services import free_port, wait_port
from tests.web.conftest import jpeg_bytes, signup

WEBP = {"Accept": "image/webp"}


def _forget(client: TestClient, username: str) -> None:
    """Drop ``username``'s cached answers (as a change would)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.factory() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
    services.avatars.invalidate(user_id)


def _slow_counting_loads(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, delay: float = 0.1
) -> list[int]:
    """Record the size of every batch the loader reads (each read made ``delay`` slower, so
    that concurrent misses pile up behind it)."""
    avatars = client.app.state.services.avatars  # type: ignore[attr-defined]
    real = avatars.load_many
    sizes: list[int] = []
    lock = threading.Lock()

    def load_many(keys: Sequence[Any]) -> Any:
        with lock:
            sizes.append(len(keys))
        time.sleep(delay)
        return real(keys)

    monkeypatch.setattr(avatars, "load_many", load_many)
    return sizes


def test_concurrent_misses_of_many_users_share_a_few_queries(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [f"user{i}" for i in range(24)]
    for name in users:
        signup(client, name)
    sizes = _slow_counting_loads(monkeypatch, client)
    with ThreadPoolExecutor(len(users)) as pool:
        answers = list(
            pool.map(lambda n: client.get(f"/u/{n}/avatar?size=64", headers=WEBP), users)
        )
    assert [r.status_code for r in answers] == [200] * len(users)
    assert len({r.headers["etag"] for r in answers}) == len(users)  # each user's own picture
    assert sum(sizes) == len(users)  # every answer read once
    assert len(sizes) <= 6, sizes  # in a few batches, not one query a request


def test_concurrent_misses_of_one_answer_wait_for_one_load(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(client, "bob")
    assert client.post(
        "/api/v1/me/avatar", files={"file": ("a.jpg", jpeg_bytes(colour="navy"), "image/jpeg")}
    ).is_success
    _forget(client, "bob")
    sizes = _slow_counting_loads(monkeypatch, client)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: client.get("/u/bob/avatar", headers=WEBP), range(10)))
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    assert sizes == [1]


def test_a_miss_is_answered_by_the_fast_lane_and_errors_by_the_route(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(client, "carol")
    reference = client.get("/u/carol/avatar?size=64", headers=WEBP)  # through the route
    _forget(client, "carol")

    def not_the_route(*_a: object, **_k: object) -> None:
        raise AssertionError("the route answered a request the fast lane understands")

    monkeypatch.setattr("hexavatar.web.images.image_response", not_the_route)
    miss = client.get("/u/carol/avatar?size=64", headers=WEBP)
    assert miss.status_code == 200 and miss.content == reference.content
    assert miss.headers["x-request-id"] and miss.headers["etag"] == reference.headers["etag"]
    monkeypatch.undo()
    missing = client.get("/u/nobody/avatar?size=64", headers={**WEBP, "X-Request-ID": "r-404"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "user_not_found"
    assert missing.headers["x-request-id"] == "r-404"


def test_the_loader_reports_a_database_error_to_every_waiter(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(client, "dave")
    avatars = client.app.state.services.avatars  # type: ignore[attr-defined]
    _forget(client, "dave")

    def down(_keys: Sequence[Any]) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(avatars, "load_many", down)
    with pytest.raises(ConnectionError, match="unreachable"):  # the route's try: not swallowed
        client.get("/u/dave/avatar?size=64", headers=WEBP)
    monkeypatch.undo()
    assert client.get("/u/dave/avatar?size=64", headers=WEBP).status_code == 200  # recovered


def test_the_fast_lane_answers_head_and_conditional_requests_on_a_miss_too(
    client: TestClient,
) -> None:
    signup(client, "erin")
    full = client.get("/u/erin/avatar?size=64", headers=WEBP)
    _forget(client, "erin")
    head = client.head("/u/erin/avatar?size=64", headers=WEBP)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    _forget(client, "erin")
    cond = client.get(
        "/u/erin/avatar?size=64", headers={**WEBP, "If-None-Match": full.headers["etag"]}
    )
    assert cond.status_code == 304 and cond.content == b""
    assert cond.headers["etag"] == full.headers["etag"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("size=abc", 422),
        ("size=", 200),  # blank: the default, as in the route
        ("size=15", 400),
        ("size=513", 400),
        ("size=64&shape=circle", 422),
        ("size=64&size=128", 200),
        ("size=%36%34", 200),
        ("x=" + "a" * 5000, 200),
    ],
)
def test_odd_queries_get_the_routes_answer(client: TestClient, query: str, status: int) -> None:
    signup(client, "fay")
    r = client.get(f"/u/fay/avatar?{query}", headers=WEBP)
    assert r.status_code == status, r.text
    if status != 200:
        assert "error" in r.json() or "detail" in r.json()


def test_odd_usernames_are_not_found_not_errors(client: TestClient) -> None:
    for name in ("%00", "a%00b", "ü" * 10, "a" * 64, "..", "%2e%2e", "' OR 1=1 --"):
        r = client.get(f"/u/{name}/avatar?size=64", headers=WEBP)
        assert r.status_code == 404, (name, r.status_code)
        assert client.get(f"/api/v1/users/{name}").status_code == 404, name
        assert client.get(f"/@{name}").status_code == 404, name


def test_a_log_in_with_a_nul_in_the_name_is_refused(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "al\u0000ice", "password": "x" * 8})
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]
    accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    with pytest.raises(InvalidCredentials):  # the service itself: a failed log-in, counted
        accounts.login("al\x00ice", "x" * 8, client="127.0.0.1")


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[str, list[tuple[str, int | None]]]]:
    """The app served by uvicorn with ``hexavatar serve``'s HTTP protocol (web/wire.py); the
    list records every request the fast lane's ``answer_at_once`` saw: (path, status or None)."""
    seen: list[tuple[str, int | None]] = []
    real = AvatarFastPath.answer_at_once

    def spy(self: AvatarFastPath, method: str, path: str, query: bytes, headers: Any) -> Any:
        answer = real(self, method, path, query, headers)
        seen.append((path, None if answer is None else answer[0]))
        return answer

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None,
        http=CoalescingHttpToolsProtocol, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AvatarFastPath, "answer_at_once", spy)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_port(port)
        try:
            yield f"http://127.0.0.1:{port}", seen
        finally:
            server.should_exit = True
            thread.join(10)


def test_served_hits_are_answered_at_once_as_the_asgi_way_answers(
    live: tuple[str, list[tuple[str, int | None]]],
) -> None:
    """Under ``hexavatar serve``'s protocol, a cached avatar is answered before ASGI: the same
    status, headers (in order) and bytes as the ASGI way's answer, and counted the same."""
    base, seen = live
    url, ignore = "/u/gina/avatar?size=100", {b"date", b"x-request-id"}
    with httpx.Client(base_url=base, headers=WEBP) as http:
        signup(http, "gina")  # type: ignore[arg-type]
        first = http.get(url)  # a miss: the ASGI way (the loader) fills the cache
        again = http.get(url, headers={"X-Request-ID": "req-at-once"})
        head = http.head(url)
        cond = http.get(url, headers={"If-None-Match": first.headers["etag"]})
        png = http.get(url, headers={"Accept": "image/png"})  # another answer: a miss
        metrics = http.get("/metrics").text
    assert [p for p in seen if p[0].startswith("/u/")] == [
        ("/u/gina/avatar", None), ("/u/gina/avatar", 200), ("/u/gina/avatar", 200),
        ("/u/gina/avatar", 304), ("/u/gina/avatar", None),
    ]  # fmt: skip
    assert again.status_code == 200 and again.content == first.content
    assert [h for h in again.headers.raw if h[0].lower() not in ignore] == [
        h for h in first.headers.raw if h[0].lower() not in ignore
    ]
    assert again.headers["x-request-id"] == "req-at-once" and "date" in again.headers
    assert head.content == b"" and head.headers["content-length"] == str(len(first.content))
    assert cond.status_code == 304 and cond.content == b"" and "content-length" not in cond.headers
    assert png.headers["content-type"] == "image/png"
    counted = sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("hexavatar_http_requests_total{")
        and 'route="/u/{username}/avatar"' in line
    )
    assert counted == 5
