"""The OpenAPI document against the running service.

The document is valid OpenAPI 3.1 (openapi-spec-validator), its operation ids are unique and
pinned, and every error response it lists is the error body ``{"error": {"code", "message"}}``.
Then the service runs under uvicorn on 127.0.0.1 and every response it gives here goes through
:meth:`Spec.check` (an httpx response hook): the status must be one the document lists for the
operation, with a documented content type, its required headers, and a JSON body valid against
the documented schema. Generic walks come from the document itself (every GET, every operation
that needs a user); the other tests call representative operations for their documented errors.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from PIL import Image

from hexavatar.app import create_app
from hexavatar.config import Settings, load_settings
from hexavatar.ipfs.blockstore import FilesystemBlockstore
from hexavatar.ipfs.importer import import_bytes, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1
from hexavatar.web.deps import SESSION_COOKIE
from tests.conftest import DevChain
from tests.support.keys import dev_address, dev_key
from tests.support.live import live_server
from tests.web.conftest import jpeg_bytes
from tests.web.test_nft_avatars import post_wallet_link

PASSWORD = "correct horse"
HELLO = b"hello world\n"
OPERATION_IDS = {
    "avatar_status", "create_token", "delete_avatar", "get_mint", "get_profile", "healthz",
    "ipfs_path", "ipfs_root", "link_wallet", "list_wallets", "login", "logout", "mint",
    "my_mints", "my_nfts", "readyz", "remove_nft_avatar", "set_nft_avatar", "signup",
    "siwe_nonce", "stored_object", "transfer", "unlink_wallet", "upload_avatar", "user_avatar",
}  # fmt: skip
ERROR_BODY = {"$ref": "#/components/schemas/ErrorOut"}
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OWNER_KEY, OWNER = dev_key(11), dev_address(11)  # accounts no other test uses
ELSEWHERE = dev_address(12)


# --- the document and the conformance check -------------------------------------------------


@dataclass
class Spec:
    """The document, and a check of a response against the operation it answers."""

    doc: dict[str, Any]

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for template, item in self.doc["paths"].items():
            for method, op in item.items():
                yield method.upper(), template, op

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for op_method, template, op in self.operations():
            # a parameter may be empty: /ipfs/{cid}/ is the directory {cid} itself
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]*", re.escape(template))
            if op_method == method and re.fullmatch(pattern, path):
                return template, op
        raise AssertionError(f"{method} {path}: no operation in the document")

    def validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        root = {**schema, "components": self.doc["components"]}
        errors = list(OAS31Validator(root).iter_errors(instance))
        assert not errors, f"{where}: body does not match the schema: {errors[0].message}"

    def check(self, response: httpx.Response) -> None:
        request = response.request
        template, op = self.operation(request.method, request.url.path)
        where = f"{request.method} {template} → {response.status_code}"
        documented = op["responses"]
        assert str(response.status_code) in documented, (
            f"{where}: status not documented (documented: {sorted(documented)}); "
            f"body {response.read()[:200]!r}"
        )
        spec = documented[str(response.status_code)]
        for name, header in spec.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in response.headers, f"{where}: no {name} header"
        body = response.read()
        content = spec.get("content", {})
        if not content:
            assert body == b"", f"{where}: documented without a body, found {body[:80]!r}"
            return
        media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        key = _media_key(content, media_type)
        assert key is not None, f"{where}: {media_type!r} is not among {sorted(content)}"
        if media_type == "application/json" and content[key].get("schema"):
            self.validate(response.json(), content[key]["schema"], where)


def _media_key(content: dict[str, Any], media_type: str) -> str | None:
    """The documented media type (range) that ``media_type`` falls under, the most exact first."""
    kind = media_type.partition("/")[0]
    for key in (media_type, f"{kind}/*", "*/*"):
        if key in content:
            return key
    return None


# --- the running service ------------------------------------------------------------------


@dataclass
class Site:
    base: str
    spec: Spec
    token: str  # alice's API token
    cookie: str  # alice's session cookie
    rendition: str  # the path of one of alice's renditions, /a/<sha256>.webp
    file_cid: str  # a file in the gateway's blockstore
    dir_cid: str  # a directory holding hello.txt

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client whose every response is checked against the document."""
        return httpx.Client(
            base_url=self.base, event_hooks={"response": [self.spec.check]}, **kwargs
        )

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _site_settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(
        data_dir=str(data_dir),
        public_url="http://testserver",
        max_upload_bytes=64 * 1024,
        login_max_failures_per_user=2,
        login_max_failures_per_client=1000,
        **{"nft_enabled": False, **overrides},
    )


def _signup(client: httpx.Client, name: str) -> str:
    """Sign ``name`` up; the client keeps the session cookie. Returns an API token."""
    r = client.post("/api/v1/auth/signup", json={"username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/auth/tokens", json={"name": "openapi"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _upload(client: httpx.Client, data: bytes, **kwargs: Any) -> httpx.Response:
    return client.post("/api/v1/me/avatar", files={"file": ("a.jpg", data, "image/jpeg")}, **kwargs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The service on 127.0.0.1 (no chain), its document as it serves it, alice signed up with
    a picture, a file and a directory in the gateway's blockstore."""
    data_dir = tmp_path_factory.mktemp("openapi")
    blocks = FilesystemBlockstore(data_dir / "blocks")
    file_cid = str(import_bytes(HELLO, profile=CID_VERSION_1, blockstore=blocks).cid)
    tree = import_tree({"hello.txt": HELLO}, profile=CID_VERSION_1, blockstore=blocks)
    with live_server(create_app(_site_settings(data_dir))) as base:
        spec = Spec(httpx.get(f"{base}/openapi.json").raise_for_status().json())
        site = Site(base, spec, "", "", "", file_cid, str(tree.cid))
        with site.client() as c:
            site.token = _signup(c, "alice")
            site.cookie = str(c.cookies[SESSION_COOKIE])
            avatar = _upload(c, jpeg_bytes())
            assert avatar.status_code == 201, avatar.text
            site.rendition = httpx.URL(avatar.json()["renditions"]["64"]).path
        yield site


@pytest.fixture
def spec(site: Site) -> Spec:
    return site.spec


def _error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# --- the document ----------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(spec: Spec) -> None:
    validate_spec(spec.doc)  # raises on any error
    assert spec.doc["openapi"].startswith("3.1.")


def test_operation_ids_are_unique_and_pinned(spec: Spec) -> None:
    ids = [op["operationId"] for _, _, op in spec.operations()]
    assert len(ids) == len(set(ids))
    assert set(ids) == OPERATION_IDS  # a client generated from the document keeps its names


def test_every_operation_has_a_documented_tag(spec: Spec) -> None:
    declared = {t["name"] for t in spec.doc["tags"]}
    for method, template, op in spec.operations():
        assert op.get("tags") and set(op["tags"]) <= declared, f"{method} {template}"


def test_every_error_response_is_the_error_body(spec: Spec) -> None:
    assert "HTTPValidationError" not in spec.doc["components"]["schemas"]  # never answered
    for method, template, op in spec.operations():
        for status, response in op["responses"].items():
            if int(status) < 400 or (template, status) == ("/readyz", "503"):
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == ERROR_BODY or ERROR_BODY in schema.get("anyOf", []), (
                f"{method} {template} {status}: {schema}"
            )


def test_both_ways_of_signing_in_are_security_schemes(spec: Spec) -> None:
    schemes = spec.doc["components"]["securitySchemes"]
    bearer, cookie = schemes["bearerAuth"], schemes["sessionCookie"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", SESSION_COOKIE)
    secured = {op["operationId"] for _, _, op in spec.operations() if op.get("security")}
    assert {"upload_avatar", "mint", "link_wallet", "set_nft_avatar"} <= secured
    assert not {"get_profile", "user_avatar", "ipfs_root", "healthz"} & secured


# --- walks driven by the document ------------------------------------------------------------


def _path_for(template: str, site: Site) -> str:
    samples = {
        "username": "alice",
        "name": site.rendition.removeprefix("/a/"),
        "cid": site.dir_cid,
        "path": "hello.txt",
        "mint_id": "no-such-mint",
        "address": ELSEWHERE,
    }
    return re.sub(r"\{([^}]+)\}", lambda m: samples[m.group(1)], template)


def _needs_user(op: dict[str, Any]) -> bool:
    return bool(op.get("security")) and {} not in op["security"]


def test_every_get_answers_as_documented(site: Site) -> None:
    """Every GET of the document, anonymous, with the bearer token, with the session cookie:
    each answer documented; only those that need a user refuse the anonymous call."""
    gets = [(t, op) for m, t, op in site.spec.operations() if m == "GET"]
    assert len(gets) >= 10
    with (
        site.client() as anonymous,
        site.client(headers=site.bearer()) as bearer,
        site.client(cookies={SESSION_COOKIE: site.cookie}) as cookie,
    ):
        for template, op in gets:
            path = _path_for(template, site)
            r = anonymous.get(path)
            assert (r.status_code == 401) == _needs_user(op), f"{template}: {r.status_code}"
            for client in (bearer, cookie):
                r = client.get(path)
                assert r.status_code not in (401, 403) and r.status_code < 500, template


def test_operations_that_need_a_user_refuse_without_one(site: Site) -> None:
    """Every operation whose security needs a user answers 401 with the error body when
    called with no credentials (or an unknown bearer token), before it looks at the body."""
    needing = [(m, t) for m, t, op in site.spec.operations() if _needs_user(op)]
    assert len(needing) >= 10
    with site.client() as c:
        for method, template in needing:
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                r = c.request(method, _path_for(template, site), headers=headers)
                assert r.status_code == 401, f"{method} {template}: {r.status_code}"
                assert _error_code(r) == "unauthenticated"


# --- representative operations ---------------------------------------------------------------


def test_accounts(site: Site) -> None:
    with site.client() as c:
        first = c.post("/api/v1/auth/signup", json={"username": "bob", "password": PASSWORD})
        assert first.status_code == 201
        again = c.post("/api/v1/auth/signup", json={"username": "bob", "password": PASSWORD})
        assert (again.status_code, _error_code(again)) == (409, "username_taken")
        bad = c.post("/api/v1/auth/signup", json={"username": "b b", "password": PASSWORD})
        assert (bad.status_code, _error_code(bad)) == (422, "invalid_username")
        broken = c.post(
            "/api/v1/auth/signup", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert (broken.status_code, _error_code(broken)) == (422, "validation_error")
        ok = c.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
        assert ok.status_code == 200
        assert c.post("/api/v1/auth/logout").status_code == 204
        anonymous = c.post("/api/v1/auth/tokens", json={})
        assert (anonymous.status_code, _error_code(anonymous)) == (401, "unauthenticated")
        by_password = c.post("/api/v1/auth/tokens", json={"username": "bob", "password": PASSWORD})
        assert by_password.status_code == 201
        codes = [
            c.post("/api/v1/auth/login", json={"username": "bob", "password": "wrong"})
            for _ in range(3)
        ]
        assert [r.status_code for r in codes] == [401, 401, 429]
        assert int(codes[-1].headers["retry-after"]) > 0


def test_uploads(site: Site) -> None:
    with site.client() as c:
        _signup(c, "carol")
        cases = [
            ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 400),
            ({"files": {"other": ("a.jpg", jpeg_bytes(), "image/jpeg")}}, 400),
            ({"files": {"file": ("a.jpg", b"", "image/jpeg")}}, 400),
            ({"files": {"file": ("a.jpg", b"\xff" * (80 * 1024), "image/jpeg")}}, 413),
            ({"files": {"file": ("a.txt", b"hello, world" * 4, "text/plain")}}, 415),
            ({"files": {"file": ("a.jpg", jpeg_bytes()[:200], "image/jpeg")}}, 422),
        ]
        for kwargs, status in cases:
            r = c.post("/api/v1/me/avatar", **kwargs)
            assert r.status_code == status, r.text
        assert c.delete("/api/v1/me/avatar").status_code == 404
        assert _upload(c, jpeg_bytes()).status_code == 201
        assert c.delete("/api/v1/me/avatar").status_code == 204
        profile = c.get("/api/v1/users/carol")
        assert profile.status_code == 200 and profile.json()["avatar"] is None
        assert c.get("/api/v1/users/nobody").status_code == 404


def test_pictures(site: Site) -> None:
    with site.client() as c:
        png = c.get("/u/alice/avatar", params={"size": 64})
        assert png.headers["content-type"] == "image/png"
        webp = c.get("/u/alice/avatar", headers={"Accept": "image/webp"})
        assert webp.headers["content-type"] == "image/webp"
        hexagon = c.get("/u/alice/avatar", params={"shape": "hexagon"})
        assert hexagon.headers["content-type"] == "image/png"
        same = c.get("/u/alice/avatar?size=64", headers={"If-None-Match": png.headers["etag"]})
        assert same.status_code == 304
        for query, status, code in [
            ("size=8", 400, "invalid_size"),
            ("size=513", 400, "invalid_size"),
            ("size=big", 422, "validation_error"),
            ("shape=circle", 422, "validation_error"),
        ]:
            r = c.get(f"/u/alice/avatar?{query}")
            assert (r.status_code, _error_code(r)) == (status, code), query
        assert _error_code(c.get("/u/nobody/avatar")) == "user_not_found"
        stored = c.get(site.rendition)
        assert stored.status_code == 200 and stored.headers["content-type"] == "image/webp"
        assert _error_code(c.get("/a/nothing.gif")) == "not_found"
        assert _error_code(c.get(f"/a/{'0' * 64}.png")) == "object_not_found"


def test_pictures_by_redirect(spec: Spec, tmp_path: Path) -> None:
    settings = _site_settings(tmp_path, avatar_serving="redirect")
    with live_server(create_app(settings)) as base:
        site = Site(base, spec, "", "", "", "", "")
        with site.client() as c:
            _signup(c, "dave")
            assert _upload(c, jpeg_bytes()).status_code == 201
            r = c.get("/u/dave/avatar", params={"size": 256})
            assert r.status_code == 302 and "/a/" in r.headers["location"]


def test_minting_and_wallets_without_a_chain(site: Site) -> None:
    with site.client(headers=site.bearer()) as c:
        r = c.post(
            "/api/v1/nfts",
            files={"image": ("a.jpg", jpeg_bytes(), "image/jpeg")},
            data={"name": "A cat"},
        )
        assert (r.status_code, _error_code(r)) == (503, "chain_unavailable")
        assert _error_code(c.get("/api/v1/nfts/no-such-mint")) == "mint_not_found"
        assert c.get("/api/v1/me/mints").json() == []
        bad_transfer = c.post("/api/v1/nfts/x/transfer", json={})
        assert (bad_transfer.status_code, _error_code(bad_transfer)) == (422, "validation_error")
        transfer = c.post("/api/v1/nfts/x/transfer", json={"to": ELSEWHERE})
        assert transfer.status_code == 503
        assert c.get("/api/v1/auth/siwe/nonce").status_code == 200
        link = c.post("/api/v1/me/wallets", json={"message": "hello", "signature": "0x00"})
        assert (link.status_code, _error_code(link)) == (422, "siwe_malformed")
        assert c.get("/api/v1/me/wallets").json() == []
        assert _error_code(c.delete(f"/api/v1/me/wallets/{ELSEWHERE}")) == "wallet_not_found"
        for ref, code in [
            ("nope", "bad_nft_ref"),
            (f"eip155:1/erc721:{CONTRACT}/1", "unknown_chain"),
        ]:
            r = c.put("/api/v1/me/avatar/nft", json={"ref": ref})
            assert (r.status_code, _error_code(r)) == (422, code)
        assert _error_code(c.delete("/api/v1/me/avatar/nft")) == "no_nft_avatar"
        assert c.get("/api/v1/users/alice/avatar/status").json()["showing"] == "upload"
        assert c.get("/api/v1/me/nfts").json() == []


def test_the_gateway(site: Site) -> None:
    file, folder = site.file_cid, site.dir_cid
    with site.client() as c:
        whole = c.get(f"/ipfs/{file}")
        assert whole.status_code == 200 and whole.content == HELLO
        raw = c.get(f"/ipfs/{file}", params={"format": "raw"})
        assert raw.headers["content-type"] == "application/vnd.ipld.raw"
        car = c.get(f"/ipfs/{folder}", headers={"Accept": "application/vnd.ipld.car"})
        assert car.headers["content-type"].startswith("application/vnd.ipld.car")
        part = c.get(f"/ipfs/{file}", headers={"Range": "bytes=0-4"})
        assert (part.status_code, part.content) == (206, HELLO[:5])
        outside = c.get(f"/ipfs/{file}", headers={"Range": "bytes=100-"})
        assert (outside.status_code, _error_code(outside)) == (416, "range_not_satisfiable")
        cached = c.get(f"/ipfs/{file}", headers={"If-None-Match": whole.headers["etag"]})
        assert cached.status_code == 304
        assert c.get(f"/ipfs/{folder}").status_code == 301
        listing = c.get(f"/ipfs/{folder}/")
        assert listing.status_code == 200 and "hello.txt" in listing.text
        assert c.get(f"/ipfs/{folder}/hello.txt").content == HELLO
        car2 = {"Accept": "application/vnd.ipld.car; version=2"}
        for path, headers, status in [
            ("/ipfs/not-a-cid", {}, 400),
            (f"/ipfs/{folder}/missing.txt", {}, 404),
            (f"/ipfs/{file}", car2, 406),
            ("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
             {"Cache-Control": "only-if-cached"}, 412),
        ]:  # fmt: skip
            assert c.get(path, headers=headers).status_code == status, path


def test_health(site: Site) -> None:
    with site.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json()["status"] == "ready"


# --- on a chain --------------------------------------------------------------------------------


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, "PNG")
    return buf.getvalue()


def _mint(c: httpx.Client, *, name: str = "Gold", **data: str) -> httpx.Response:
    return c.post(
        "/api/v1/nfts",
        files={"image": ("i.png", _png("gold"), "image/png")},
        data={"name": name, "description": "a test", **data},
    )


@pytest.mark.chain
def test_minting_wallets_and_nft_avatars_on_a_chain(
    spec: Spec, dev_chain: DevChain, tmp_path: Path
) -> None:
    settings = _site_settings(tmp_path, nft_enabled=True, **dev_chain.settings())
    with live_server(create_app(settings)) as base:
        site = Site(base, spec, "", "", "", "", "")
        with site.client() as c, site.client() as other:
            _signup(c, "erin")
            _signup(other, "frank")
            held = _mint(c)
            assert held.status_code == 201 and held.json()["custodial"], held.text
            minted = _mint(c, to=OWNER)
            assert minted.status_code == 201, minted.text
            assert _error_code(_mint(c, name=" ")) == "invalid_name"
            held_id = held.json()["id"]
            assert c.get(f"/api/v1/nfts/{held_id}").json()["status"] == "confirmed"
            assert len(c.get("/api/v1/me/mints").json()) == 2
            assert post_wallet_link(c, OWNER_KEY).status_code == 201
            taken = post_wallet_link(other, OWNER_KEY)
            assert (taken.status_code, _error_code(taken)) == (409, "wallet_taken")
            moved = c.post(f"/api/v1/nfts/{held_id}/transfer", json={"to": OWNER})
            assert moved.status_code == 200 and moved.json()["transfer_status"] == "confirmed"
            busy = c.post(f"/api/v1/nfts/{held_id}/transfer", json={"to": ELSEWHERE})
            assert (busy.status_code, _error_code(busy)) == (409, "transfer_busy")
            owned = {t["token_id"] for t in c.get("/api/v1/me/nfts").json()}
            assert owned == {held.json()["token_id"], minted.json()["token_id"]}
            ref = f"eip155:31337/erc721:{minted.json()['contract']}/{minted.json()['token_id']}"
            shown = c.put("/api/v1/me/avatar/nft", json={"ref": ref})
            assert shown.status_code == 200 and shown.json()["kind"] == "nft", shown.text
            assert other.put("/api/v1/me/avatar/nft", json={"ref": ref}).status_code == 403
            assert c.get("/api/v1/users/erin/avatar/status").json()["showing"] == "nft"
            assert c.get("/u/erin/avatar", params={"shape": "hexagon"}).status_code == 200
            assert c.delete("/api/v1/me/avatar/nft").status_code == 204
            assert c.delete(f"/api/v1/me/wallets/{OWNER}").status_code == 204
