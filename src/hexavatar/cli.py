"""The command line: ``hexavatar serve | db | users | avatar | gc`` (and the sub-apps mounted here).

Every command takes ``--json`` to print one JSON object instead of human text. Settings come from
env ``HEXAVATAR_*`` and ``--config FILE``, read once here.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from .commands.ipfs import car_app, ipfs_app
from .config import Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Hexavatar: profile pictures with verifiable NFT avatars.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
avatar_app = typer.Typer(help="Profile pictures.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(avatar_app, name="avatar")
chain_app = typer.Typer(help="The chain: the embedded development chain.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file.", envvar="HEXAVATAR_CONFIG_FILE"),
]
_err = Console(stderr=True)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config, **overrides)
    except ValueError as e:
        fail(f"invalid settings: {e}", code="invalid_settings")


def emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    """Print ``payload`` as one JSON object, or ``human`` text."""
    if as_json:
        typer.echo(json.dumps(payload, default=str, sort_keys=True))
    else:
        typer.echo(human)


def fail(message: str, *, code: str, as_json: bool = False, exit_code: int = 1) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message}}))
    else:
        _err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(exit_code)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    config: ConfigOpt = None,
) -> None:
    """Run the web service (migrates the database first). On SIGTERM or SIGINT it stops
    accepting connections, lets requests in flight finish (up to SHUTDOWN_TIMEOUT_SECONDS),
    then exits 0."""
    import signal

    import uvicorn

    from .logs import configure_logging

    settings = settings_from(config, host=host, port=port)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    _migrate(settings)
    _reset_multiproc_metrics()
    _err.print(f"Hexavatar on {settings.effective_public_url}", highlight=False)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # configure_logging above (and in each worker's create_app)
        "access_log": False,  # the app logs each request with its request ID
        "server_header": False,
        "http": "hexavatar.web.wire:CoalescingHttpToolsProtocol",  # one write a response
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }
    # uvicorn re-raises the signal once it has shut down gracefully; with the default handler
    # that would kill the process, so a no-op handler makes a graceful stop exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    if workers > 1:
        # Worker processes build their app from the environment: hand them the flags.
        _export_settings(config, host=settings.host, port=settings.port)
        uvicorn.run("hexavatar.app:create_app", factory=True, workers=workers, **options)
        return
    from .app import create_app

    uvicorn.run(create_app(settings), **options)


def _migrate(settings: Settings) -> None:
    from .storage.db import make_engine
    from .storage.migrate import upgrade

    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()


def _reset_multiproc_metrics() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR of a previous run's metric files (a fresh start)."""
    import os

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from .web.metrics import wipe_multiproc_dir

        Path(path).mkdir(parents=True, exist_ok=True)
        wipe_multiproc_dir(path)


def _export_settings(config: Path | None, *, host: str, port: int) -> None:
    import os

    if config is not None:
        os.environ["HEXAVATAR_CONFIG_FILE"] = str(config)
    os.environ["HEXAVATAR_HOST"] = host
    os.environ["HEXAVATAR_PORT"] = str(port)


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Apply the database migrations up to the newest."""
    from .storage.db import make_engine
    from .storage.migrate import upgrade

    settings = settings_from(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    revision = upgrade(make_engine(settings.effective_database_url))
    emit(as_json, {"revision": revision}, f"database at revision {revision}")


def _services(config: Path | None, *, with_chain: bool = False) -> Any:
    from .app import build_services

    return build_services(settings_from(config), with_chain=with_chain)


@users_app.command("create")
def users_create(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Create a user account."""
    from .services.errors import ServiceError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
    services = _services(config)
    try:
        user = services.accounts.signup(name, password)
    except ServiceError as e:
        fail(str(e), code=e.code, as_json=as_json)
    emit(as_json, {"username": user.username, "id": user.id}, f"created user {user.username}")


@avatar_app.command("set")
def avatar_set(name: str, file: Path, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Set a user's profile picture from an image file."""
    from .media.errors import MediaError
    from .services.errors import ServiceError

    services = _services(config)
    try:
        data = file.read_bytes()
        user = services.accounts.get_user(name)
        view = services.avatars.set_upload(user.id, data)
    except OSError as e:
        fail(f"cannot read {str(file)!r}: {e.strerror}", code="unreadable_file", as_json=as_json)
    except (ServiceError, MediaError) as e:
        fail(str(e), code=e.code, as_json=as_json)
    payload = {
        "id": view.id,
        "sha256": view.sha256,
        "width": view.width,
        "height": view.height,
        "renditions": {str(k): v for k, v in view.renditions.items()},
        "renditions_png": {str(k): v for k, v in view.renditions_png.items()},
    }
    emit(as_json, payload, "\n".join(f"{k:>4} px  {v}" for k, v in view.renditions.items()))


@app.command()
def gc(
    grace: Annotated[
        int | None, typer.Option(help="Seconds an unreferenced object must be old.")
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Remove stored objects that no database row references, older than a grace period."""
    services = _services(config)
    seconds = services.settings.gc_grace_seconds if grace is None else grace
    report = services.avatars.gc(grace=timedelta(seconds=seconds))
    emit(
        as_json,
        {"avatars_removed": report.avatars_removed, "objects_removed": report.objects_removed},
        f"removed {len(report.objects_removed)} objects, {report.avatars_removed} old avatars",
    )


@app.command()
def mint(
    image: Path,
    name: Annotated[str, typer.Option("--name", help="Token name.")],
    description: Annotated[str, typer.Option("--description", help="Token description.")] = "",
    to: Annotated[str | None, typer.Option("--to", help="Owner address (EIP-55).")] = None,
    attributes: Annotated[str | None, typer.Option(help="JSON array of attributes.")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Mint IMAGE as an ERC-721 token (metadata and image on IPFS)."""
    from .chain.errors import ChainError
    from .ipfs.errors import IpfsError
    from .media.errors import MediaError
    from .services.errors import ServiceError
    from .services.minting import MintRequest

    try:
        data = image.read_bytes()
    except OSError as e:
        fail(f"cannot read {str(image)!r}: {e.strerror}", code="unreadable_file", as_json=as_json)
    services = None
    try:
        req = MintRequest.parse(
            image=data, name=name, description=description, attributes=attributes, to=to,
            idempotency_key=None,
        )  # fmt: skip
        services = _services(config, with_chain=True)
        view = services.minting.submit(None, req)
    except (ServiceError, MediaError, ChainError, IpfsError) as e:
        fail(str(e), code=getattr(e, "code", "mint_failed"), as_json=as_json)
    finally:
        if services is not None:
            services.close()
    payload = {
        "id": view.id,
        "status": view.status,
        "token_id": view.token_id,
        "metadata_uri": view.metadata_uri,
        "image_uri": view.image_uri,
        "tx_hash": view.tx_hash,
        "contract": view.contract,
        "chain_id": view.chain_id,
        "owner": view.owner,
    }
    if view.status != "confirmed":
        message = view.error["message"] if view.error else f"mint is {view.status}"
        fail(message, code=view.error["code"] if view.error else "mint_pending", as_json=as_json)
    emit(as_json, payload, "\n".join(f"{k:>13}  {v}" for k, v in payload.items()))


@chain_app.command("up")
def chain_up_cmd(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Start the embedded development chain (anvil), deploy the contract once, and keep it
    running until interrupted. State is kept in the data dir, so tokens survive restarts."""
    import signal
    import threading

    from .chain.errors import ChainError
    from .services.chainlink import open_chain

    settings = settings_from(config, chain_rpc_url="")
    settings = settings.model_copy(update={"chain_rpc_url": ""})
    try:
        link = open_chain(settings)
    except ChainError as e:
        fail(str(e), code=e.code, as_json=as_json)
    payload = {"rpc_url": link.rpc_url, "chain_id": link.chain_id, "contract": link.contract}
    emit(as_json, payload, f"chain {link.chain_id} at {link.rpc_url}, contract {link.contract}")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        link.close()


nft_app = typer.Typer(help="NFTs: resolve and inspect any NFT.", no_args_is_help=True)
app.add_typer(ipfs_app, name="ipfs")
app.add_typer(car_app, name="car")
app.add_typer(nft_app, name="nft")


@nft_app.command("show")
def nft_show(
    ref: Annotated[str, typer.Argument(help="eip155:<chain>/erc721:<contract>/<token id>")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Resolve REF step by step (contract, metadata, image) and say what was verified."""
    services = _services(config, with_chain=True)
    try:
        res, steps, error = services.nft_avatars.inspect(ref)
    finally:
        services.close()
    payload: dict[str, Any] = {
        "ref": ref,
        "ok": error is None,
        "steps": [s.as_dict() for s in steps],
    }
    if res is not None and res.metadata_source is not None and res.image is not None:
        payload.update(
            standard=res.standard,
            block=res.block,
            token_uri=res.token_uri,
            metadata=res.metadata,
            metadata_uri=res.metadata_source.uri,
            metadata_cid=res.metadata_source.cid,
            metadata_verified=res.metadata_source.verified,
            image_uri=res.image.uri,
            image_cid=res.image.cid,
            image_verified=res.image.verified,
            image_bytes=len(res.image.data),
        )
    lines = [f"{'ok ' if s.ok else 'ERR'} {s.step:<12} {s.detail}" for s in steps]
    emit(as_json, payload, "\n".join(lines))
    if error is not None:
        raise typer.Exit(1)


@app.command()
def demo(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Run the whole story on the embedded defaults and print each step's real outputs:
    upload, mint, transfer, wallet link, NFT avatar with verification, revocation."""
    from .demo import run_demo

    def show(title: str, data: dict[str, Any]) -> None:
        if as_json:
            return
        typer.echo(f"\n{title}")
        for key, value in data.items():
            if isinstance(value, dict):
                typer.echo(f"  {key}:")
                for k, v in value.items():
                    typer.echo(f"    {k}: {v}")
            elif isinstance(value, list):
                typer.echo(f"  {key}:")
                for v in value:
                    typer.echo(f"    - {v}")
            else:
                text = str(value).replace("\n", "\n    | ")
                typer.echo(f"  {key}: {text}")

    services = _services(config, with_chain=True)
    try:
        result = run_demo(services, report=show)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(result, default=str, sort_keys=True))


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run one round and exit.")] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics (watcher lag) on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address of the metrics server.")] = (
        "127.0.0.1"
    ),
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Run the ownership watcher: follow Transfer logs and re-verify NFT avatars, dropping
    those whose token left the user's wallets. Several workers may run; one works at a time."""
    import signal
    import threading

    from prometheus_client import start_http_server

    from .app import build_watcher
    from .web.metrics import Metrics

    services = _services(config, with_chain=True)
    on_report = None
    if metrics_port is not None:
        metrics = Metrics()
        start_http_server(metrics_port, addr=metrics_host, registry=metrics.registry)
        on_report = metrics.observe_watch
    watcher = build_watcher(services, on_report=on_report)
    try:
        if once:
            r = watcher.run_once()
            payload = {"leader": r.leader, "chains": r.chains, "dropped": r.dropped}
            emit(as_json, payload, f"dropped {len(r.dropped)} NFT avatars")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        watcher.run_forever(stop, interval=services.settings.watcher_interval_seconds)
    finally:
        services.close()


def main() -> None:
    app()
