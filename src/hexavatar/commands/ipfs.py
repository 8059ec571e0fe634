"""CLI: ``hexavatar ipfs add|cat|get`` and ``hexavatar car export|import``.

Owns the command-line face of :mod:`hexavatar.ipfs`: it parses options, opens the local
blockstore (``<data dir>/blocks``, Kubo's flatfs layout; the data dir comes from
``HEXAVATAR_DATA_DIR`` through :func:`hexavatar.config.load_settings`, read inside each command)
and prints results. ``--json`` prints one JSON object (errors too:
``{"error": {"code", "message"}}``); otherwise ``ipfs add`` prints the root CID as its last
line. Bytes written by ``cat`` and ``get`` were verified against their CIDs first.

The lead mounts :data:`ipfs_app` and :data:`car_app` in cli.py as ``hexavatar ipfs`` and
``hexavatar car``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ..ipfs.blockstore import FilesystemBlockstore
    from ..ipfs.fetch import FetchLimits, FetchReport
    from ..ipfs.profiles import ImportProfile

__all__ = ["car_app", "ipfs_app"]

ipfs_app = typer.Typer(help="Content addressing: add, cat and fetch IPFS content.")
car_app = typer.Typer(help="CAR archives: export and import DAGs.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
_BAR_THRESHOLD = 4 * 1024 * 1024  # show a progress bar for files above 4 MiB on a terminal


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(payload, sort_keys=True) if as_json else human)


def _fail(message: str, *, code: str, as_json: bool) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message}}))
    else:
        Console(stderr=True).print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(1)


def _code(exc: Exception, default: str) -> str:
    return str(getattr(exc, "code", "") or default)


def _data_dir() -> Path:
    from ..config import load_settings

    return load_settings().data_dir


def _blockstore() -> FilesystemBlockstore:
    from ..ipfs.blockstore import FilesystemBlockstore

    return FilesystemBlockstore(_data_dir() / "blocks")


def _split_content_path(text: str) -> tuple[str, str]:
    """``(cid, path)`` of ``CID``, ``CID/a/b``, ``/ipfs/CID/a`` or ``ipfs://CID/a``."""
    for prefix in ("ipfs://", "/ipfs/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    cid, _, path = text.partition("/")
    return cid, path


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for big inputs on a terminal; else nothing."""
    console = Console(stderr=True)
    if total < _BAR_THRESHOLD or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


# --- ipfs add / cat / get -----------------------------------------------------------------


def _profile(name: str | None, cid_version: int | None) -> ImportProfile:
    from ..ipfs.errors import ImporterError
    from ..ipfs.profiles import CID_VERSION_1, UNIXFS_V0_2015, get_profile

    if name is not None:
        profile = get_profile(name)
        if cid_version is not None and cid_version != profile.cid_version:
            raise ImporterError(
                f"--cid-version {cid_version} contradicts --profile {name} "
                f"(CIDv{profile.cid_version})"
            )
        return profile
    return CID_VERSION_1 if cid_version == 1 else UNIXFS_V0_2015


@ipfs_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="File (or folder, with -r) to add; - for stdin.")],
    profile: Annotated[
        str | None, typer.Option("--profile", help="Import profile (unixfs-v0-2015, ...).")
    ] = None,
    cid_version: Annotated[
        int | None,
        typer.Option("--cid-version", min=0, max=1, help="0: unixfs-v0-2015; 1: cid-version-1."),
    ] = None,
    only_hash: Annotated[
        bool, typer.Option("--only-hash", "-n", help="Compute the CID only; store nothing.")
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Add a folder.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import FILE into the local blockstore; print its root CID (the last line)."""
    from ..ipfs.errors import IpfsError
    from ..ipfs.importer import import_directory, import_stream

    try:
        chosen = _profile(profile, cid_version)
        store = None if only_hash else _blockstore()
        if file.is_dir():
            if not recursive:
                _fail(
                    f"{str(file)!r} is a folder: add it with -r",
                    code="is_a_folder",
                    as_json=as_json,
                )
            result = import_directory(file, profile=chosen, blockstore=store)
        else:
            with _open_input(file) as stream, _progress(_size(file), file.name) as progress:
                result = import_stream(stream, profile=chosen, blockstore=store, progress=progress)
    except OSError as exc:
        _fail(f"cannot read {str(file)!r}: {exc.strerror}", code="unreadable_file", as_json=as_json)
    except IpfsError as exc:
        _fail(str(exc), code=_code(exc, "import_failed"), as_json=as_json)
    payload = {
        "cid": str(result.cid),
        "size": result.size,
        "name": file.name,
        "profile": chosen.name,
        "stored": not only_hash,
    }
    lines = [f"added {cid} {path}" for path, cid in sorted(result.entries.items())]
    _emit(as_json, payload, "\n".join([*lines, str(result.cid)]))


@contextmanager
def _open_input(file: Path) -> Iterator[IO[bytes]]:
    if str(file) == "-":
        yield typer.get_binary_stream("stdin")
        return
    with file.open("rb") as stream:
        yield stream


def _size(file: Path) -> int:
    try:
        return 0 if str(file) == "-" else file.stat().st_size
    except OSError:
        return 0


@ipfs_app.command("cat")
def cat_cmd(
    content: Annotated[str, typer.Argument(help="CID, CID/path or /ipfs/CID/path.")],
) -> None:
    """Write the file at CONTENT from the local blockstore to stdout (verified)."""
    from ..ipfs.errors import IpfsError
    from ..ipfs.exporter import cat, resolve_trail

    cid, path = _split_content_path(content)
    out = typer.get_binary_stream("stdout")
    try:
        store = _blockstore()
        target = resolve_trail(cid, path, blockstore=store).cid
        for chunk in cat(target, blockstore=store):
            out.write(chunk)
    except IpfsError as exc:
        _fail(str(exc), code=_code(exc, "cat_failed"), as_json=False)
    out.flush()


@ipfs_app.command("get")
def get_cmd(
    content: Annotated[str, typer.Argument(help="CID, CID/path or /ipfs/CID/path.")],
    gateway: Annotated[
        list[str] | None,
        typer.Option("--gateway", help="Trustless gateway base URL (repeat; tried in order)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds for the whole fetch.")] = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Fetch CONTENT from untrusted gateways, verifying every block; write it to -o or stdout."""
    from ..config import load_settings
    from ..ipfs.errors import IpfsError
    from ..ipfs.fetch import FetchLimits, FetchReport

    gateways = list(gateway or load_settings().ipfs_gateways)
    if not gateways:
        _fail("expected at least one --gateway (or HEXAVATAR_IPFS_GATEWAYS)", code="no_gateway",
              as_json=as_json)  # fmt: skip
    if as_json and output is None:
        _fail("--json needs -o FILE (stdout carries the JSON)", code="needs_output", as_json=True)
    cid, path = _split_content_path(content)
    report = FetchReport()
    limits = FetchLimits(total_timeout=timeout, request_timeout=min(30.0, timeout))
    try:
        size = asyncio.run(_fetch_to(cid, path, gateways, output, limits, report))
    except IpfsError as exc:
        _fail(str(exc), code=_code(exc, "fetch_failed"), as_json=as_json)
    if output is not None:
        payload = {
            "cid": cid,
            "path": path,
            "size": size,
            "output": str(output),
            "gateways_used": report.gateways_used,
            "attempts": [
                {"gateway": a.gateway, "mode": a.mode, "outcome": a.outcome, "blocks": a.blocks}
                for a in report.attempts
            ],
        }
        _emit(as_json, payload, f"saved {size} bytes of {content} to {output}")


async def _fetch_to(
    cid: str,
    path: str,
    gateways: list[str],
    output: Path | None,
    limits: FetchLimits,
    report: FetchReport,
) -> int:
    import httpx

    from ..ipfs.fetch import fetch_verified

    size = 0
    async with httpx.AsyncClient(follow_redirects=False) as client:
        chunks = fetch_verified(
            cid, path=path, gateways=gateways, client=client, limits=limits,
            blockstore=_blockstore(), report=report,
        )  # fmt: skip
        with _output(output) as sink:
            async for chunk in chunks:
                sink.write(chunk)
                size += len(chunk)
    return size


@contextmanager
def _output(output: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a temporary file beside ``output`` renamed over it only on success."""
    if output is None or str(output) == "-":
        out = typer.get_binary_stream("stdout")
        yield out
        out.flush()
        return
    temp = output.with_name(f".{output.name}.partial")
    try:
        with temp.open("wb") as sink:
            yield sink
        os.replace(temp, output)
    finally:
        temp.unlink(missing_ok=True)


# --- car export / import ------------------------------------------------------------------


@car_app.command("export")
def export_cmd(
    content: Annotated[str, typer.Argument(help="Root CID of the DAG to export.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CAR file to write (- stdout).")],
    as_json: JsonOpt = False,
) -> None:
    """Write the DAG under CONTENT as a CARv1 (as ``ipfs dag export``: DFS, each block once)."""
    from ..ipfs.car import export_car
    from ..ipfs.cid import CID
    from ..ipfs.errors import IpfsError

    try:
        root = CID.decode(content)
        size = 0
        with _output(output) as sink:
            for chunk in export_car(root, blockstore=_blockstore()):
                sink.write(chunk)
                size += len(chunk)
    except IpfsError as exc:
        _fail(str(exc), code=_code(exc, "export_failed"), as_json=as_json)
    if str(output) != "-":
        payload = {"root": str(root), "size": size, "output": str(output)}
        _emit(as_json, payload, f"exported {root} ({size} bytes) to {output}")


@car_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CARv1 file to import (- for stdin).")],
    as_json: JsonOpt = False,
) -> None:
    """Import a CARv1 into the local blockstore (every block verified); print its roots."""
    from ..ipfs.car import CarReader
    from ..ipfs.errors import IpfsError

    blocks = 0
    try:
        store = _blockstore()
        with _open_input(file) as stream:
            reader = CarReader(stream)
            for block in reader:
                store.put(block.cid, block.data)
                blocks += 1
    except OSError as exc:
        _fail(f"cannot read {str(file)!r}: {exc.strerror}", code="unreadable_file", as_json=as_json)
    except IpfsError as exc:
        _fail(str(exc), code=_code(exc, "invalid_car"), as_json=as_json)
    roots = [str(root) for root in reader.roots]
    _emit(as_json, {"roots": roots, "blocks": blocks}, "\n".join(roots))
