"""Bad uploads each get a clear 4xx and leave nothing behind (no row, no object)."""

from __future__ import annotations

import io
import socket
import time
import zipfile

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from hexavatar.app import create_app
from hexavatar.config import Settings
from hexavatar.storage.models import Avatar, Rendition
from tests.support.live import live_server
from tests.web.conftest import jpeg_bytes, signup


def _upload(client: TestClient, data: bytes, name: str = "x.png", ctype: str = "image/png") -> dict:  # type: ignore[type-arg]
    r = client.post("/api/v1/me/avatar", files={"file": (name, data, ctype)})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return {"status": r.status_code, **body["error"]}


def _nothing_stored(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.factory() as s:
        assert s.scalar(select(func.count()).select_from(Avatar)) == 0
        assert s.scalar(select(func.count()).select_from(Rendition)) == 0
    assert list(services.store.list("")) == []


def _png_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")  # 400 MP, a few kB compressed
    return buf.getvalue()


def _truncated_jpeg() -> bytes:
    data = jpeg_bytes((640, 480), colour="orange", quality=95)
    return data[: len(data) // 2]


BAD = {
    "empty": (b"", "empty_file", 400),
    "truncated_jpeg": (_truncated_jpeg(), "corrupt_image", 422),
    "svg_named_png": (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported_format", 415),
    "html_named_png": (b"<!doctype html><script>alert(1)</script>", "unsupported_format", 415),
    "garbage": (b"\x00\x01\x02" * 100, "unsupported_format", 415),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_refused_and_leave_nothing(client: TestClient, case: str) -> None:
    data, code, status = BAD[case]
    signup(client)
    err = _upload(client, data)
    assert (err["status"], err["code"]) == (status, code)
    _nothing_stored(client)


def test_png_decompression_bomb_refused_from_the_header(client: TestClient) -> None:
    signup(client)
    err = _upload(client, _png_bomb())
    assert (err["status"], err["code"]) == (422, "image_too_large")
    assert "40000000" in err["message"].replace(",", "").replace("_", "") or "MP" in err["message"]
    _nothing_stored(client)


def test_jpeg_with_zip_appended_stores_no_zip_bytes(client: TestClient) -> None:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("secret.txt", "PAYLOAD-THAT-MUST-NOT-SURVIVE" * 10)
    signup(client)
    r = client.post(
        "/api/v1/me/avatar", files={"file": ("a.jpg", jpeg_bytes() + zbuf.getvalue(), "image/jpeg")}
    )
    assert r.status_code == 201, r.text
    store = client.app.state.services.store  # type: ignore[attr-defined]
    for info in store.list(""):
        blob = store.get(info.key)
        assert b"PK\x03\x04" not in blob and b"PAYLOAD-THAT" not in blob


def test_jpeg_gps_exif_is_stripped(client: TestClient) -> None:
    img = Image.new("RGB", (300, 200), "green")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.34), 3: "E", 4: (13.0, 24.0, 56.78)}
    exif[0x010F] = "CameraMakerXYZ"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    signup(client)
    r = client.post("/api/v1/me/avatar", files={"file": ("gps.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 201, r.text
    store = client.app.state.services.store  # type: ignore[attr-defined]
    for info in store.list(""):
        blob = store.get(info.key)
        assert b"Exif" not in blob and b"CameraMakerXYZ" not in blob
        assert not Image.open(io.BytesIO(blob)).getexif()


@pytest.mark.parametrize(
    "body,ctype",
    [
        (
            b"--b\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\nabc",
            "multipart/form-data; boundary=b",
        ),
        (b"not multipart at all", "multipart/form-data; boundary=zzz"),
        (b"{}", "application/json"),
        (b"--b\r\nX: y\r\n\r\nabc\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"", "multipart/form-data"),
    ],
)  # fmt: skip
def test_malformed_multipart_is_400(client: TestClient, body: bytes, ctype: str) -> None:
    signup(client)
    r = client.post("/api/v1/me/avatar", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "malformed_multipart"
    _nothing_stored(client)


def test_missing_file_field_is_400(client: TestClient) -> None:
    signup(client)
    r = client.post("/api/v1/me/avatar", files={"other": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_field"


def test_11_mib_upload_with_length_is_413(client: TestClient) -> None:
    signup(client)
    err = _upload(client, b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
    assert (err["status"], err["code"]) == (413, "file_too_large")
    _nothing_stored(client)


def test_11_mib_chunked_upload_stops_reading(settings: Settings) -> None:
    """Without a Content-Length the limit is checked as the body streams in: offered a 64 MiB
    body, the server answers 413 and closes after about 10 MiB, long before the end (the
    slack is what the kernel's socket buffers absorb)."""
    with TestClient(create_app(settings)) as tc:
        signup(tc)
        cookie = tc.cookies["hexavatar_session"]
    with live_server(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(10)
        head = (
            "POST /api/v1/me/avatar HTTP/1.1\r\nHost: x\r\n"
            f"Cookie: hexavatar_session={cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=BB\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        preamble = b'--BB\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(preamble), preamble))
        chunk = b"\xff" * 65536
        sent = 0
        response = b""
        deadline = time.monotonic() + 30
        while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break  # the server closed the connection: it stopped reading
            sent += len(chunk)
            sock.setblocking(False)
            try:
                response += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if response:
                break
        sock.settimeout(10)
        while b"\r\n\r\n" not in response:
            more = sock.recv(65536)
            if not more:
                break
            response += more
        sock.close()
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert sent < 32 * 1024 * 1024


def test_db_failure_after_objects_written_leaves_no_dangling_row(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects first, then the row: a failed transaction leaves only orphans, which gc removes."""
    from datetime import timedelta

    from hexavatar.storage import db as dbmod

    signup(client)
    services = client.app.state.services  # type: ignore[attr-defined]
    real = dbmod.transaction

    def broken(factory):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr("hexavatar.services.avatars.transaction", broken)
    with pytest.raises(RuntimeError):
        services.avatars.set_upload(1, jpeg_bytes())
    monkeypatch.setattr("hexavatar.services.avatars.transaction", real)
    with services.factory() as s:
        assert s.scalar(select(func.count()).select_from(Rendition)) == 0
    orphans = [i.key for i in services.store.list("")]
    assert len(orphans) == 8
    assert services.avatars.gc(grace=timedelta(hours=1)).objects_removed == []  # still fresh
    report = services.avatars.gc(grace=timedelta(seconds=-1))
    assert sorted(report.objects_removed) == sorted(orphans)
    assert list(services.store.list("")) == []


def test_gc_keeps_referenced_objects_and_collects_replaced_ones(client: TestClient) -> None:
    from datetime import timedelta

    signup(client)
    services = client.app.state.services  # type: ignore[attr-defined]
    first = client.post(
        "/api/v1/me/avatar", files={"file": ("a.jpg", jpeg_bytes(colour="red"), "image/jpeg")}
    ).json()
    second = client.post(
        "/api/v1/me/avatar", files={"file": ("a.jpg", jpeg_bytes(colour="blue"), "image/jpeg")}
    ).json()
    report = services.avatars.gc(grace=timedelta(seconds=-1))
    assert report.avatars_removed == 1
    removed = {k.rsplit("/", 1)[-1] for k in report.objects_removed}
    assert removed == {
        u.rsplit("/", 1)[-1]
        for u in (*first["renditions"].values(), *first["renditions_png"].values())
    }
    for url in second["renditions"].values():
        assert client.get(url.removeprefix("http://testserver")).status_code == 200


def test_nul_characters_in_text_are_refused_not_stored(client: TestClient) -> None:
    """PostgreSQL cannot store a NUL in text: every text input refuses it with a 4xx (it used to
    be a 500 on PostgreSQL), on both databases."""
    signup(client, "nora")
    r = client.post("/api/v1/auth/tokens", json={"name": "ci\u0000x"})
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/auth/login", json={"username": "no\u0000ra", "password": "x" * 8})
    assert r.status_code in (401, 422), r.text
    r = client.post(
        "/api/v1/me/wallets", json={"message": "a\u0000b", "signature": "0x" + "00" * 65}
    )
    assert r.status_code == 422, r.text
    r = client.post(
        "/api/v1/nfts",
        files={"image": ("a.jpg", jpeg_bytes(), "image/jpeg")},
        data={"name": "bad\u0000name", "description": "d"},
    )
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
    assert client.post("/api/v1/auth/tokens", json={"name": "fine"}).status_code == 201
