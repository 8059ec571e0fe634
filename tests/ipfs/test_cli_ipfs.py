"""`hexavatar ipfs add|cat|get` and `hexavatar car export|import`, through typer's CliRunner."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from hexavatar.commands.ipfs import car_app, ipfs_app
from hexavatar.ipfs.blockstore import FilesystemBlockstore, MemoryBlockstore
from hexavatar.ipfs.car import encode_header, encode_section
from hexavatar.ipfs.cid import CID, RAW, compute_cid
from hexavatar.ipfs.importer import import_bytes
from hexavatar.ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015

from .conftest import load_vectors, random_input
from .test_gateway_support import gateway_app, serve

HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
HELLO_V1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("HEXAVATAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HEXAVATAR_CONFIG_FILE", raising=False)
    monkeypatch.delenv("HEXAVATAR_IPFS_GATEWAYS", raising=False)
    app = typer.Typer()
    app.add_typer(ipfs_app, name="ipfs")
    app.add_typer(car_app, name="car")
    return app


def invoke(app: typer.Typer, *args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world\n")
    return path


def test_add_prints_kubos_cid_as_the_last_line(cli: typer.Typer, hello: Path) -> None:
    result = invoke(cli, "ipfs", "add", str(hello))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == HELLO_V0
    result = invoke(cli, "ipfs", "add", "--cid-version", "1", str(hello))
    assert result.stdout.splitlines()[-1] == HELLO_V1


def test_add_json_and_where_blocks_go(cli: typer.Typer, hello: Path, tmp_path: Path) -> None:
    result = invoke(cli, "ipfs", "add", "--only-hash", "--json", str(hello))
    assert json.loads(result.stdout) == {
        "cid": HELLO_V0,
        "name": "hello.txt",
        "profile": "unixfs-v0-2015",
        "size": 12,
        "stored": False,
    }
    assert not (tmp_path / "data" / "blocks").exists()
    result = invoke(cli, "ipfs", "add", "--json", "--cid-version", "1", str(hello))
    assert json.loads(result.stdout)["cid"] == HELLO_V1
    assert FilesystemBlockstore(tmp_path / "data" / "blocks").has(CID.decode(HELLO_V1))


def test_add_with_a_named_profile_matches_the_vectors(cli: typer.Typer, tmp_path: Path) -> None:
    vector = next(v for v in load_vectors("unixfs.json")["vectors"] if v["size"] == 1048576)
    path = tmp_path / "rand.bin"
    path.write_bytes(random_input(1, 1048576))
    for profile in ("unixfs-v0-2015", "cid-version-1", "unixfs-v1-2025"):
        result = invoke(cli, "ipfs", "add", "--only-hash", "--profile", profile, str(path))
        assert result.stdout.splitlines()[-1] == vector[profile]


def test_add_refuses_bad_options_with_a_json_error(cli: typer.Typer, hello: Path) -> None:
    result = invoke(cli, "ipfs", "add", "--json", "--profile", "nope", str(hello))
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "import_failed"
    assert error["message"].startswith("expected a profile name")
    result = invoke(cli, "ipfs", "add", "--cid-version", "2", str(hello))
    assert result.exit_code == 2
    result = invoke(
        cli, "ipfs", "add", "--json", "--profile", "cid-version-1", "--cid-version", "0", str(hello)
    )
    assert result.exit_code == 1
    assert "contradicts" in json.loads(result.stdout)["error"]["message"]
    result = invoke(cli, "ipfs", "add", "--json", str(hello.parent / "missing.txt"))
    assert json.loads(result.stdout)["error"]["code"] == "unreadable_file"


def test_add_from_stdin_and_a_folder(cli: typer.Typer, tmp_path: Path) -> None:
    result = invoke(cli, "ipfs", "add", "-", input=b"hello world\n")
    assert result.stdout.splitlines()[-1] == HELLO_V0
    folder = tmp_path / "site"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "a.txt").write_bytes(b"hello world\n")
    assert invoke(cli, "ipfs", "add", str(folder)).exit_code == 1  # needs -r
    result = invoke(cli, "ipfs", "add", "-r", str(folder))
    lines = result.stdout.splitlines()
    assert f"added {HELLO_V0} img/a.txt" in lines
    root = lines[-1]
    assert CID.decode(root).version == 0
    shown = invoke(cli, "ipfs", "cat", f"/ipfs/{root}/img/a.txt")
    assert shown.stdout_bytes == b"hello world\n"


def test_cat_writes_the_verified_bytes(cli: typer.Typer, tmp_path: Path) -> None:
    data = random.Random(4).randbytes(600_000)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    root = invoke(cli, "ipfs", "add", str(path)).stdout.splitlines()[-1]
    result = invoke(cli, "ipfs", "cat", root)
    assert result.exit_code == 0
    assert result.stdout_bytes == data
    missing = invoke(cli, "ipfs", "cat", str(compute_cid(b"absent", codec=RAW)))
    assert missing.exit_code == 1
    assert missing.stdout_bytes == b""


def test_car_export_then_import_round_trips(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(8).randbytes(700_000)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    root = invoke(cli, "ipfs", "add", "--cid-version", "1", str(path)).stdout.splitlines()[-1]
    car = tmp_path / "out.car"
    result = invoke(cli, "car", "export", root, "-o", str(car), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["size"] == car.stat().st_size
    monkeypatch.setenv("HEXAVATAR_DATA_DIR", str(tmp_path / "elsewhere"))
    assert invoke(cli, "ipfs", "cat", root).exit_code == 1
    result = invoke(cli, "car", "import", str(car))
    assert result.stdout.splitlines() == [root]
    assert invoke(cli, "ipfs", "cat", root).stdout_bytes == data
    result = invoke(cli, "car", "import", "--json", str(car))
    assert json.loads(result.stdout) == {"roots": [root], "blocks": 4}


def test_car_import_rejects_a_tampered_car(cli: typer.Typer, tmp_path: Path) -> None:
    good = compute_cid(b"good block", codec=RAW)
    bad = compute_cid(b"bad block", codec=RAW)
    car = tmp_path / "bad.car"
    car.write_bytes(
        encode_header([good]) + encode_section(good, b"good block") + encode_section(bad, b"evil")
    )
    result = invoke(cli, "car", "import", "--json", str(car))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_car"
    store = FilesystemBlockstore(tmp_path / "data" / "blocks")
    assert store.has(good) and not store.has(bad)


def test_get_fetches_verified_from_gateways(cli: typer.Typer, tmp_path: Path) -> None:
    data = random.Random(9).randbytes(400_000)
    remote = MemoryBlockstore()
    root = import_bytes(data, profile=CID_VERSION_1, blockstore=remote).cid
    out = tmp_path / "got.bin"
    with serve(gateway_app(remote, prefix="/gw")) as base:
        result = invoke(
            cli, "ipfs", "get", str(root), "--gateway", f"{base}/nowhere", "--gateway",
            f"{base}/gw", "-o", str(out), "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["size"] == len(data)
        assert report["gateways_used"] == [f"{base}/gw"]
        assert [a["outcome"] for a in report["attempts"]][:2] == ["http_status", "http_status"]
        assert out.read_bytes() == data
        streamed = invoke(cli, "ipfs", "get", str(root), "--gateway", f"{base}/gw")
        assert streamed.stdout_bytes == data
    # fetched blocks landed in the local blockstore: cat works offline now
    assert invoke(cli, "ipfs", "cat", str(root)).stdout_bytes == data


def test_a_failed_get_leaves_no_file(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "never.bin"
    with serve(gateway_app(MemoryBlockstore())) as base:
        result = invoke(
            cli, "ipfs", "get", str(compute_cid(b"absent", codec=RAW)), "--gateway", base,
            "-o", str(out), "--json",
        )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "fetch_failed"
    assert not out.exists()
    assert not list(tmp_path.glob(".never.bin*"))
    result = invoke(cli, "ipfs", "get", HELLO_V0, "--json", "-o", str(out))
    assert json.loads(result.stdout)["error"]["code"] == "no_gateway"


def test_a_big_add_on_a_terminal_shows_progress_on_stderr_only(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats stderr as a terminal
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(5 * 1024 * 1024))
    result = invoke(cli, "ipfs", "add", "--only-hash", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        str(import_bytes(path.read_bytes(), profile=UNIXFS_V0_2015).cid)
    ]
    assert "\x1b[" in result.stderr  # the bar was drawn (and cleared) on stderr
