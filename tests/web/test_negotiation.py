"""WebP or PNG from ``Accept`` (web/images.py): WebP only where the client names it with a
quality above 0 and at least PNG's, as RFC 9110 weighs media ranges."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hexavatar.web.images import negotiate
from tests.web.conftest import signup


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, "png"),
        ("", "png"),
        ("*/*", "png"),
        ("image/*", "png"),
        ("image/webp", "webp"),
        ("IMAGE/WEBP", "webp"),
        # what browsers send for an <img>
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "webp"),
        ("image/webp,*/*", "webp"),
        ("image/png", "png"),
        ("image/webp;q=0", "png"),
        ("image/webp; q=0.0, image/png", "png"),
        ("image/webp;q=0.5, image/png", "png"),
        ("image/webp;q=0.5, image/*;q=0.4", "webp"),
        ("image/webp;q=0.5, image/*", "png"),
        ("image/webp, image/png;q=0.9", "webp"),
        ("image/webp;q=0.9, image/png;q=0.9", "webp"),
        ("image/png;q=0, image/webp", "webp"),
        ("image/webp;q=abc", "webp"),  # a bad quality counts as 1
        ("image/webpx", "png"),
        ("text/html, application/xhtml+xml", "png"),
        (" , ;q=1, image/webp ;level=1; q=0.7", "webp"),
    ],
)
def test_accept_picks_the_format(accept: str | None, fmt: str) -> None:
    assert negotiate(accept) == fmt


def test_the_avatar_route_and_its_fast_lane_negotiate_alike(client: TestClient) -> None:
    signup(client)
    for accept, ctype in (("image/webp;q=0, */*", "image/png"), ("image/webp", "image/webp")):
        for _ in range(2):  # a miss (the loader), then a hit (from the cache)
            r = client.get("/u/alice/avatar?size=64", headers={"Accept": accept})
            assert r.status_code == 200 and r.headers["content-type"] == ctype
            assert r.headers["vary"] == "Accept"
