"""The regular profile-picture flow over HTTP, on SQLite + folder and PostgreSQL + S3."""

from __future__ import annotations

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hexavatar.app import create_app
from hexavatar.config import Settings
from tests.web.conftest import jpeg_bytes, signup


def _upload(client: TestClient, data: bytes, name: str = "a.jpg", ctype: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/me/avatar", files={"file": (name, data, ctype)})


def test_upload_creates_renditions_with_urls(client: TestClient) -> None:
    signup(client)
    data = jpeg_bytes((400, 300))
    r = _upload(client, data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (400, 300)
    assert set(body["renditions"]) == {"64", "128", "256", "512"}
    for size, url in body["renditions"].items():
        got = client.get(url.removeprefix("http://testserver"))
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/webp"
        assert "immutable" in got.headers["cache-control"]
        assert Image.open(io.BytesIO(got.content)).size == (int(size), int(size))
        assert hashlib.sha256(got.content).hexdigest() in url
    png = client.get(body["renditions_png"]["512"].removeprefix("http://testserver"))
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_shows_the_avatar(client: TestClient) -> None:
    signup(client, "bob")
    created = _upload(client, jpeg_bytes()).json()
    profile = client.get("/api/v1/users/BOB").json()
    assert profile["username"] == "bob"
    assert profile["avatar"]["id"] == created["id"]
    assert profile["avatar_url"] == "http://testserver/u/bob/avatar"


def test_avatar_endpoint_sizes_etag_and_negotiation(client: TestClient) -> None:
    signup(client)
    _upload(client, jpeg_bytes())
    r = client.get("/u/alice/avatar?size=100", headers={"Accept": "image/webp,*/*"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(r.content)).size == (128, 128)  # smallest rendition >= 100
    assert r.headers["vary"] == "Accept"
    etag = r.headers["etag"]
    again = client.get(
        "/u/alice/avatar?size=100", headers={"Accept": "image/webp", "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    png = client.get("/u/alice/avatar?size=512", headers={"Accept": "image/png"})
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (512, 512)
    head = client.head("/u/alice/avatar?size=64", headers={"Accept": "image/webp"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    since = client.get(
        "/u/alice/avatar?size=64",
        headers={"Accept": "image/webp", "If-Modified-Since": r.headers["last-modified"]},
    )
    assert since.status_code == 304


def test_replacing_changes_what_is_served(client: TestClient) -> None:
    signup(client)
    _upload(client, jpeg_bytes(colour="red"))
    first = client.get("/u/alice/avatar?size=64").headers["etag"]
    _upload(client, jpeg_bytes(colour="blue"))
    second = client.get("/u/alice/avatar?size=64").headers["etag"]
    assert first != second


def test_default_is_an_identicon_until_upload_and_after_delete(client: TestClient) -> None:
    signup(client)
    r = client.get("/u/alice/avatar?size=64")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    default_tag = r.headers["etag"]
    _upload(client, jpeg_bytes())
    assert client.get("/u/alice/avatar?size=64").headers["etag"] != default_tag
    assert client.delete("/api/v1/me/avatar").status_code == 204
    assert client.get("/u/alice/avatar?size=64").headers["etag"] == default_tag
    assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_unknown_user_and_bad_size(client: TestClient) -> None:
    assert client.get("/u/nobody/avatar").json()["error"]["code"] == "user_not_found"
    assert client.get("/api/v1/users/nobody").status_code == 404
    signup(client)
    for bad in ("15", "513", "-1", "abc", "1e3"):
        r = client.get(f"/u/alice/avatar?size={bad}")
        assert r.status_code in (400, 422), bad
        assert set(r.json()["error"]) == {"code", "message"}


def test_upload_needs_a_signed_in_user(client: TestClient) -> None:
    r = _upload(client, jpeg_bytes())
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"


def test_readyz_and_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "object_store": "ok"}


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for p in ("/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/tokens",
              "/api/v1/auth/logout", "/api/v1/me/avatar", "/api/v1/users/{username}",
              "/u/{username}/avatar"):  # fmt: skip
        assert p in paths, p
    upload = paths["/api/v1/me/avatar"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_redirect_mode_points_at_the_immutable_url(settings: Settings) -> None:
    redirecting = settings.model_copy(update={"avatar_serving": "redirect"})
    with TestClient(create_app(redirecting), follow_redirects=False) as client:
        signup(client)
        body = _upload(client, jpeg_bytes()).json()
        r = client.get("/u/alice/avatar?size=256", headers={"Accept": "image/webp"})
        assert r.status_code == 302
        assert r.headers["location"] == body["renditions"]["256"]
        assert r.headers["cache-control"] == "public, max-age=60"
        target = client.get(r.headers["location"].removeprefix("http://testserver"))
        assert target.status_code == 200 and "immutable" in target.headers["cache-control"]
        # No stored picture: the generated default is streamed, not redirected.
        signup(client, "bob")
        assert client.get("/u/bob/avatar").status_code == 200


def test_cache_serves_repeats_and_forgets_on_change(settings: Settings) -> None:
    # The change feed off: its poll reads this process's own upload back a moment later and
    # drops the entry once more (harmless, but then the deleted objects below would be read).
    with TestClient(create_app(settings.model_copy(update={"avatar_change_poll_seconds": 0}))) as c:
        _cache_serves_repeats_and_forgets_on_change(c)


def _cache_serves_repeats_and_forgets_on_change(client: TestClient) -> None:
    signup(client)
    _upload(client, jpeg_bytes(colour="red"))
    services = client.app.state.services  # type: ignore[attr-defined]
    first = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/webp"})
    # Remove the stored objects behind the service's back: a cached answer needs no store.
    for info in list(services.store.list("a/")):
        services.store.delete(info.key)
    again = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/webp"})
    assert again.status_code == 200 and again.content == first.content
    _upload(client, jpeg_bytes(colour="green"))  # a change through this process
    changed = client.get("/u/alice/avatar?size=64", headers={"Accept": "image/webp"})
    assert changed.headers["etag"] != first.headers["etag"]


def test_cache_hits_take_the_fast_lane_with_the_same_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request fills the cache through the route, the second is answered by the fast
    lane: same bytes and same headers, 304 and HEAD too, still counted under the template."""
    signup(client)
    _upload(client, jpeg_bytes(colour="purple"))
    url, accept = "/u/alice/avatar?size=100", {"Accept": "image/webp"}
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.avatars.cached("alice", size=100, fmt="webp") is None
    slow = client.get(url, headers=accept)
    assert services.avatars.cached("alice", size=100, fmt="webp") is not None

    def not_the_route(*_a: object, **_k: object) -> None:
        raise AssertionError("the route answered a cache hit")

    monkeypatch.setattr("hexavatar.web.images.image_response", not_the_route)
    fast = client.get(url, headers=accept)
    assert fast.status_code == 200 and fast.content == slow.content
    ignore = {"date", "server", "x-request-id"}
    assert {k: v for k, v in fast.headers.items() if k not in ignore} == {
        k: v for k, v in slow.headers.items() if k not in ignore
    }
    cond = client.get(url, headers={**accept, "If-None-Match": fast.headers["etag"]})
    assert cond.status_code == 304 and cond.content == b""
    head = client.head(url, headers=accept)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(slow.content))
    monkeypatch.undo()
    # Anything it does not fully understand goes to the route (and its errors).
    assert client.get("/u/alice/avatar?size=9999").status_code == 400
    assert client.get("/u/alice/avatar?size=100&other=1", headers=accept).status_code == 200
    metrics = client.get("/metrics").text
    assert 'route="/u/{username}/avatar"' in metrics and "alice" not in metrics
