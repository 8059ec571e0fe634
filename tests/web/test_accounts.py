"""Accounts over HTTP: sign-up, log-in, log-out, bearer tokens, rate limits."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.config import Settings
from tests.web.conftest import signup


def test_signup_sets_a_session_cookie_that_authenticates(client: TestClient) -> None:
    signup(client, "Alice_1")
    assert "hexavatar_session" in client.cookies
    r = client.delete("/api/v1/me/avatar")
    assert r.status_code == 404  # signed in, just no avatar yet
    assert r.json()["error"]["code"] == "no_avatar"


@pytest.mark.parametrize("name", ["ab", "a" * 31, "bad-name", "ünïcode", "with space", ""])
def test_signup_rejects_bad_usernames(client: TestClient, name: str) -> None:
    r = client.post("/api/v1/auth/signup", json={"username": name, "password": "long enough"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] in ("invalid_username", "validation_error")


def test_usernames_are_unique_without_regard_to_case(client: TestClient) -> None:
    signup(client, "carol")
    r = client.post("/api/v1/auth/signup", json={"username": "CAROL", "password": "long enough"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "username_taken"


def test_short_password_refused(client: TestClient) -> None:
    r = client.post("/api/v1/auth/signup", json={"username": "dave", "password": "short"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_password"


def test_login_logout_cycle(client: TestClient) -> None:
    signup(client, "erin")
    client.cookies.clear()
    assert client.delete("/api/v1/me/avatar").status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "ERIN", "password": "correct horse"})
    assert r.status_code == 200 and r.json()["username"] == "erin"
    cookie = client.cookies["hexavatar_session"]
    assert client.post("/api/v1/auth/logout").status_code == 204
    client.cookies.set("hexavatar_session", cookie)  # the old cookie is revoked server-side
    assert client.delete("/api/v1/me/avatar").status_code == 401


def test_wrong_password_is_401(client: TestClient) -> None:
    signup(client, "frank")
    r = client.post("/api/v1/auth/login", json={"username": "frank", "password": "wrong pass"})
    assert r.status_code == 401
    assert r.json() == {
        "error": {"code": "invalid_credentials", "message": "wrong username or password"}
    }


def test_login_rate_limited_per_username(client: TestClient) -> None:
    signup(client, "grace")
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "grace", "password": "nope nope"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "grace", "password": "correct horse"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) > 0


def test_login_rate_limited_per_client_across_usernames(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_max_failures_per_client": 3})
    with TestClient(create_app(limited)) as client:
        signup(client, "heidi")
        for i in range(3):
            body = {"username": f"nobody{i}", "password": "whatever1"}
            assert client.post("/api/v1/auth/login", json=body).status_code == 401
        r = client.post(
            "/api/v1/auth/login", json={"username": "heidi", "password": "correct horse"}
        )
        assert r.status_code == 429


def test_bearer_token_for_apps(client: TestClient) -> None:
    signup(client, "ivan")
    client.cookies.clear()
    r = client.post(
        "/api/v1/auth/tokens",
        json={"username": "ivan", "password": "correct horse", "name": "my app"},
    )
    assert r.status_code == 201
    token = r.json()["token"]
    assert len(token) >= 40
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.delete("/api/v1/me/avatar", headers=headers).json()["error"]["code"] == "no_avatar"
    )
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.delete("/api/v1/me/avatar", headers=bad).status_code == 401


def test_token_without_credentials_is_401(client: TestClient) -> None:
    r = client.post("/api/v1/auth/tokens", json={})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
