"""The ownership watcher's lease: several workers on one database, one works at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hexavatar.services.avatars import Avatars
from hexavatar.services.nft_avatars import NftAvatars
from hexavatar.services.wallets import Wallets
from hexavatar.services.watcher import OwnershipWatcher
from hexavatar.storage.db import make_engine, make_session_factory
from hexavatar.storage.migrate import upgrade
from hexavatar.storage.objects import LocalObjectStore
from tests.support.services import new_database


@pytest.fixture(params=["sqlite", "postgres"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_admin_url"))
    engine = make_engine(url)
    upgrade(engine)
    return make_session_factory(engine)


def _watcher(factory: Any, tmp_path: Path, clock: list[datetime]) -> OwnershipWatcher:
    wallets = Wallets(factory, public_url="http://x", chain_ids=[31337])
    avatars = Avatars(factory, LocalObjectStore(tmp_path / "o"), public_url="http://x")
    nfts = NftAvatars(factory, avatars=avatars, wallets=wallets, chains=lambda _c: None, ipfs=None)  # type: ignore[arg-type]
    return OwnershipWatcher(factory, nfts, lambda _c: None, lease_seconds=30, now=lambda: clock[0])


def test_one_worker_holds_the_lease_until_it_lapses(factory: Any, tmp_path: Path) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    first, second = _watcher(factory, tmp_path, clock), _watcher(factory, tmp_path, clock)
    assert first.run_once().leader
    assert not second.run_once().leader
    assert first.run_once().leader  # renewing its own lease
    clock[0] += timedelta(seconds=31)  # the first one died and its lease ran out
    assert second.run_once().leader
    assert not first.run_once().leader
    second.release()
    assert first.take_lease()
