"""The HTML pages without a browser (TestClient, no JavaScript): every form works as a plain
POST, CSRF tokens are required, service errors are shown on the page, and the basics of
accessibility hold (labelled inputs, alt text, one h1, a language)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.config import Settings, load_settings
from tests.web.conftest import jpeg_bytes

PASSWORD = "correct horse"


class Page(HTMLParser):
    """What the tests look at in a page: inputs, labels, images, forms, headings, alerts."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labels_for: set[str] = set()
        self.images: list[dict[str, str | None]] = []
        self.forms: list[dict[str, str | None]] = []
        self.h1 = 0
        self.lang: str | None = None
        self._label_depth = 0
        self.feed(source)
        self.text = _unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", source)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labels_for.add(str(a["for"]))
        elif tag in ("input", "textarea", "select"):
            self.inputs.append({**a, "_tag": tag, "_wrapped": "1" if self._label_depth else None})
        elif tag == "img":
            self.images.append(a)
        elif tag == "form":
            self.forms.append(a)
        elif tag == "h1":
            self.h1 += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            i
            for i in self.inputs
            if i.get("type") not in ("hidden", "submit")
            and not i["_wrapped"]
            and i.get("id") not in self.labels_for
            and not i.get("aria-label")
        ]


_unescape = html.unescape


def csrf_of(source: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', source)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=str(tmp_path / "data"), public_url="http://testserver",
                         nft_enabled=False)  # fmt: skip


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def sign_up(client: TestClient, name: str = "alice") -> None:
    token = csrf_of(client.get("/signup").text)
    r = client.post("/signup", data={"username": name, "password": PASSWORD, "csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/settings", r.text


def upload(client: TestClient, data: bytes, name: str = "me.jpg") -> object:
    token = csrf_of(client.get("/settings").text)
    return client.post(
        "/settings/avatar", data={"csrf": token}, files={"file": (name, data, "image/jpeg")}
    )


def test_sign_up_sets_the_session_cookie_and_shows_a_flash(client: TestClient) -> None:
    sign_up(client)
    assert client.cookies.get("hexavatar_session")
    page = client.get("/settings")
    assert page.status_code == 200 and "Your account is ready" in page.text
    assert "Your account is ready" not in client.get("/settings").text  # shown once
    me = client.get("/api/v1/users/alice")  # the API sees the same account
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_a_form_without_its_token_is_refused_and_does_nothing(client: TestClient) -> None:
    client.get("/signup")
    r = client.post("/signup", data={"username": "mallory", "password": PASSWORD})
    assert r.status_code == 403 and "security token" in r.text
    assert 'role="alert"' in r.text
    assert client.get("/api/v1/users/mallory").status_code == 404


def test_a_token_from_another_session_is_refused(settings: Settings) -> None:
    with (
        TestClient(create_app(settings), follow_redirects=False) as alice,
        TestClient(create_app(settings), follow_redirects=False) as bob,
    ):
        sign_up(alice, "alice")
        sign_up(bob, "bob")
        bobs = csrf_of(bob.get("/settings").text)
        r = alice.post("/logout", data={"csrf": bobs})
        assert r.status_code == 403
        assert alice.get("/settings").status_code == 200  # still signed in
        r = alice.post("/logout", data={"csrf": csrf_of(alice.get("/settings").text)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert alice.get("/settings").headers["location"] == "/login?next=/settings"


def test_log_in_errors_are_shown_on_the_form(client: TestClient) -> None:
    sign_up(client)
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": "alice", "password": "nope nope", "csrf": token})
    assert r.status_code == 401
    page = Page(r.text)
    assert "wrong username or password" in page.text and 'value="alice"' in r.text
    r = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf": token, "next": "/mint"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/mint"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_log_in_never_redirects_off_site(client: TestClient, target: str) -> None:
    sign_up(client)
    client.cookies.delete("hexavatar_session")
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf": token, "next": target}
    )
    assert r.status_code == 303 and r.headers["location"] == "/@alice"


def test_sign_up_errors_keep_the_username(client: TestClient) -> None:
    token = csrf_of(client.get("/signup").text)
    r = client.post("/signup", data={"username": "al", "password": PASSWORD, "csrf": token})
    assert r.status_code == 422 and "3-30 characters" in r.text and 'value="al"' in r.text
    sign_up(client, "alice")
    client.cookies.delete("hexavatar_session")
    token = csrf_of(client.get("/signup").text)
    r = client.post("/signup", data={"username": "alice", "password": PASSWORD, "csrf": token})
    assert r.status_code == 409 and "already taken" in r.text


def test_upload_and_remove_without_javascript(client: TestClient) -> None:
    sign_up(client)
    r = upload(client, jpeg_bytes())
    assert r.status_code == 303 and r.headers["location"] == "/settings"  # type: ignore[attr-defined]
    settings_page = client.get("/settings").text
    assert "Your new picture is saved" in settings_page
    profile = client.get("/@alice")
    assert profile.status_code == 200
    imgs = Page(profile.text).images
    avatar = next(i for i in imgs if "avatar" in str(i.get("class")))
    assert "avatar--circle" in str(avatar["class"]) and avatar["alt"] == "Profile picture of alice"
    src = str(avatar["src"])
    assert src.startswith("/a/") and src.endswith(".webp")  # path on whatever host serves it
    assert client.get(src).headers["content-type"] == "image/webp"
    token = csrf_of(settings_page)
    r = client.post("/settings/avatar/delete", data={"csrf": token})
    assert r.status_code == 303
    assert "Your picture is removed" in client.get("/settings").text
    profile = Page(client.get("/@alice").text)
    assert any(str(i.get("src")).startswith("/u/alice/avatar") for i in profile.images)


def test_a_bad_upload_shows_the_services_message(client: TestClient) -> None:
    sign_up(client)
    r = upload(client, b"this is not an image", "notes.jpg")
    assert r.status_code == 415  # type: ignore[attr-defined]
    assert "Not done" in r.text and "expected" in r.text  # type: ignore[attr-defined]
    token = csrf_of(client.get("/settings").text)
    r2 = client.post("/settings/avatar", data={"csrf": token}, files={"other": ("x", b"x")})
    assert r2.status_code == 400 and "choose a picture file" in r2.text


def test_an_upload_with_a_wrong_token_is_refused(client: TestClient) -> None:
    sign_up(client)
    r = client.post(
        "/settings/avatar", data={"csrf": "0" * 64}, files={"file": ("a.jpg", jpeg_bytes())}
    )
    assert r.status_code == 403
    assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_signed_out_visitors_are_sent_to_log_in(client: TestClient) -> None:
    for path in ("/settings", "/mint", "/wallets", "/nfts"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


def test_an_unknown_profile_is_a_404_page(client: TestClient) -> None:
    r = client.get("/@nobody")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no user named 'nobody'" in Page(r.text).text


def test_minting_disabled_is_explained(client: TestClient) -> None:
    sign_up(client)
    page = client.get("/mint").text
    assert "Minting is not enabled" in page
    r = client.post(
        "/mint",
        data={"csrf": csrf_of(page), "name": "x", "key": "k1"},
        files={"image": ("a.jpg", jpeg_bytes(), "image/jpeg")},
    )
    assert r.status_code == 503 and "not enabled" in r.text


def test_pages_send_a_strict_content_security_policy(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert client.get("/static/hexavatar.css").status_code == 200
    assert (
        client.get("/static/wallet.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )


def test_accessibility_basics_on_every_page(client: TestClient) -> None:
    public = ["/", "/signup", "/login"]
    for path in public:
        check_page(client, path)
    sign_up(client)
    upload(client, jpeg_bytes())
    for path in ("/settings", "/mint", "/wallets", "/nfts", "/@alice"):
        check_page(client, path)


def check_page(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    page = Page(r.text)
    assert page.lang == "en", path
    assert page.h1 == 1, path
    assert page.unlabelled() == [], (path, page.unlabelled())
    assert all(i.get("alt") for i in page.images), (path, page.images)
    assert 'name="viewport"' in r.text, path
    for form in page.forms:
        assert form.get("method") == "post", (path, form)


def test_pictures_on_a_public_object_store_keep_their_host(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=str(tmp_path / "data"), public_url="http://testserver", nft_enabled=False,
        object_public_base_url="https://cdn.example/avatars",
    )  # fmt: skip
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_up(client)
        upload(client, jpeg_bytes())
        r = client.get("/@alice")
        avatar = next(i for i in Page(r.text).images if "avatar" in str(i.get("class")))
        assert str(avatar["src"]).startswith("https://cdn.example/avatars/a/")
        assert (
            "img-src 'self' data: blob: https://cdn.example;"
            in (r.headers["content-security-policy"])
        )


def test_a_file_over_the_limit_is_refused_on_the_page(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=str(tmp_path / "data"), public_url="http://testserver", nft_enabled=False,
        max_upload_bytes=4096,
    )  # fmt: skip
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_up(client)
        for size in (10_000, 200_000):  # over the file limit; over the whole-body limit too
            r = upload(client, os.urandom(size))
            assert r.status_code == 413  # type: ignore[attr-defined]
            page = Page(r.text)  # type: ignore[attr-defined]
            assert "larger than" in page.text and "Not done" in page.text
        assert client.get("/api/v1/users/alice").json()["avatar"] is None


def test_a_nul_character_in_a_form_field_is_refused(client: TestClient) -> None:
    token = csrf_of(client.get("/signup").text)
    r = client.post("/signup", data={"username": "a\x00b", "password": PASSWORD, "csrf": token})
    assert r.status_code == 400, r.text
    sign_up(client, "nul_free")  # and the form still works
