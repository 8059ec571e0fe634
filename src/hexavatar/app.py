"""Builds the web app from Settings: wires the services in the lifespan and mounts the routes."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__
from .chain.errors import ChainError
from .config import Settings, load_settings
from .ipfs.blockstore import FilesystemBlockstore
from .ipfs.errors import IpfsError
from .ipfs.fetch import FetchReport
from .logs import RequestLogMiddleware, configure_logging
from .media import ImageLimits
from .media.errors import MediaError
from .resolve.errors import ResolveError
from .services.accounts import Accounts, LoginLimits
from .services.avatar_changes import ChangeFeed
from .services.avatars import Avatars
from .services.chainlink import chain_reader, open_chain, unsafe_allow_policy
from .services.errors import ServiceError
from .services.ipfs_content import ContentReader, kubo_pinner
from .services.minting import Minting
from .services.nft_avatars import NftAvatars
from .services.wallets import Wallets
from .services.watcher import OwnershipWatcher, WatchReport
from .storage.db import make_engine, make_session_factory
from .storage.errors import StorageError
from .storage.migrate import upgrade
from .storage.objects import open_object_store
from .web import api, gateway, health, images, nft_avatars, nfts, pages, wallets
from .web.avatar_loader import AvatarLoader
from .web.deps import Services
from .web.errors import ApiError, install_error_handlers
from .web.fastpath import Answer, AvatarFastPath
from .web.metrics import Metrics, MetricsMiddleware, install_metrics
from .web.multipart import BodyTooLarge, MalformedForm
from .web.openapi import OPENAPI_TAGS, operation_id

__all__ = ["HexavatarApp", "build_services", "build_watcher", "create_app"]


class HexavatarApp(FastAPI):
    """FastAPI with three layers *outside* the framework's own middleware stack: the avatar fast
    lane, the request log (request ID, one access record a request), then the metrics.

    Outside, because the framework's outermost layer turns an unhandled exception into a 500:
    that answer, too, carries the request's ``X-Request-ID`` and is logged and counted. The
    fast lane (``web/fastpath.py``) comes first and answers the hot path with none of the other
    layers (they cost more than answering a cached avatar); it logs and counts its answers
    itself, the same way."""

    metrics: Metrics | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.middleware_stack is not None and not self.root_path:
            # What Starlette does for a request, without FastAPI's OpenTelemetry check in front
            # (turned off below): the hot path's requests cost a few microseconds each.
            scope["app"] = self
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> Answer | None:
        """A cached avatar's answer, made without ASGI (see web/fastpath.py), else None: the
        hook ``hexavatar serve``'s HTTP protocol (web/wire.py) calls for each request."""
        stack = self.middleware_stack
        if not isinstance(stack, AvatarFastPath) or self.root_path:
            return None  # not started yet (the first request builds the stack)
        return stack.answer_at_once(method, path, query, headers)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.metrics is not None:
            stack = MetricsMiddleware(stack, metrics=self.metrics)
        return AvatarFastPath(RequestLogMiddleware(stack), owner=self)


def build_services(
    settings: Settings,
    *,
    with_chain: bool = False,
    on_fetch: Callable[[FetchReport], None] | None = None,
) -> Services:
    """Open the database (migrated to head), the object store and the blockstore, and build the
    services; ``with_chain`` also connects to (or starts) the chain when NFTs are enabled."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    store = open_object_store(
        settings.effective_object_store_url,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        public_base_url=settings.object_public_base_url,
    )
    accounts = Accounts(
        factory,
        limits=LoginLimits(
            per_user=settings.login_max_failures_per_user,
            per_client=settings.login_max_failures_per_client,
            window=timedelta(seconds=settings.login_window_seconds),
        ),
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
    )
    avatars = Avatars(
        factory,
        store,
        public_url=settings.effective_public_url,
        limits=ImageLimits(
            max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
        ),
        cache_ttl=settings.avatar_cache_ttl_seconds,
    )
    limits = ImageLimits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    blockstore = FilesystemBlockstore(settings.data_dir / "blocks")
    chain = open_chain(settings) if with_chain and settings.nft_enabled else None
    minting = Minting(
        factory,
        blockstore,
        chain,
        confirmations=settings.chain_confirmations,
        timeout=settings.chain_timeout_seconds,
        limits=limits,
        pin=kubo_pinner(settings.kubo_rpc_url, blockstore) if settings.kubo_rpc_url else None,
    )
    chain_ids = set(settings.chains) | ({chain.chain_id} if chain is not None else set())
    wallets = Wallets(
        factory,
        public_url=settings.effective_public_url,
        chain_ids=chain_ids,
        w3_for=lambda chain_id: (
            chain.w3 if chain is not None and chain.chain_id == chain_id else None
        ),
    )
    nft_avatars = NftAvatars(
        factory,
        avatars=avatars,
        wallets=wallets,
        chains=chain_reader(settings, chain),
        ipfs=ContentReader(
            blockstore,
            gateways=settings.ipfs_gateways,
            policy=unsafe_allow_policy(settings.fetch_unsafe_allow),
            on_report=on_fetch,
        ),
        http_policy=unsafe_allow_policy(settings.fetch_unsafe_allow),
        image_limits=limits,
        own_contract=(chain.chain_id, chain.contract) if chain is not None else None,
    )
    return Services(
        settings=settings,
        engine=engine,
        factory=factory,
        store=store,
        accounts=accounts,
        avatars=avatars,
        blockstore=blockstore,
        minting=minting,
        wallets=wallets,
        nft_avatars=nft_avatars,
        chain=chain,
    )


def build_watcher(
    services: Services, *, on_report: Callable[[WatchReport], None] | None = None
) -> OwnershipWatcher:
    settings = services.settings
    return OwnershipWatcher(
        services.factory,
        services.nft_avatars,
        chain_reader(settings, services.chain),
        depth=settings.chain_confirmations,
        full_every=settings.watcher_full_every_seconds,
        on_report=on_report,
    )


def _every(
    run_forever: Callable[..., None], stop: threading.Event, interval: float, name: str
) -> threading.Thread:
    """A daemon thread running ``run_forever(stop, interval=interval)`` (a service's loop)."""
    return threading.Thread(
        target=run_forever, args=(stop,), kwargs={"interval": interval}, daemon=True, name=name
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app. Settings are read here (not at import) unless given."""
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    metrics = Metrics() if settings.metrics_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        on_fetch = metrics.observe_fetch if metrics else None
        services = await run_in_threadpool(
            build_services, settings, with_chain=True, on_fetch=on_fetch
        )
        app.state.services = services
        app.state.avatar_loader = AvatarLoader(services.avatars)
        background: list[threading.Thread] = []
        stop = threading.Event()
        if settings.avatar_change_poll_seconds > 0 and settings.avatar_cache_ttl_seconds > 0:
            # Changes made by other processes drop this process's cached answers.
            feed = ChangeFeed(services.factory, services.avatars.invalidate)
            await run_in_threadpool(feed.start)  # before the first request fills the cache
            poll = settings.avatar_change_poll_seconds
            background.append(_every(feed.run_forever, stop, poll, "avatar-changes"))
        if services.chain is not None:
            # Finish mints a crash or an outage left unfinished (at start-up and then every
            # half minute), without holding up start-up; keep NFT avatars honest.
            background.append(
                threading.Thread(target=services.minting.recover_forever, args=(stop,), daemon=True)
            )
            on_report = metrics.observe_watch if metrics else None
            watcher = build_watcher(services, on_report=on_report)
            background.append(
                _every(watcher.run_forever, stop, settings.watcher_interval_seconds, "watcher")
            )
        for thread in background:
            thread.start()
        # Start-up objects (~200k) leave the cycle collector's view: a full collection of them
        # took 130-170 ms (measured), a pause for every request in flight.
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            for thread in background:
                thread.join(timeout=settings.chain_timeout_seconds)
            if metrics is not None:
                metrics.close()  # what this process counted last reaches the collectors
            services.close()

    app = HexavatarApp(
        # FastAPI's own OpenTelemetry hooks: off (metrics are Prometheus', /metrics); left on,
        # they look for OpenTelemetry providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="Hexavatar",
        version=__version__,
        description="Profile pictures with verifiable NFT avatars.",
        openapi_tags=OPENAPI_TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    install_error_handlers(
        app,
        coded=(
            ServiceError,
            MediaError,
            StorageError,
            ChainError,
            IpfsError,
            ResolveError,
            ApiError,
            MalformedForm,
            BodyTooLarge,
        ),
    )
    app.include_router(images.router)  # first: routes match in order, /u/… is the hot path
    app.include_router(api.router)
    app.include_router(nfts.router)
    app.include_router(wallets.router)
    app.include_router(nft_avatars.router)
    app.include_router(gateway.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("hexavatar.web", "static")]), name="static")
    if metrics is not None:
        app.metrics = metrics
        install_metrics(app, metrics)
    return app
