"""The avatar change feed, on both databases: each change made after ``start()`` is reported
once, a missing ID is waited for (up to ``gap_timeout``), and old rows are pruned."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexavatar.app import build_services
from hexavatar.config import load_settings
from hexavatar.services.avatar_changes import ChangeFeed, prune_changes
from hexavatar.services.avatars import record_change
from hexavatar.storage.db import transaction
from hexavatar.storage.models import AvatarChange
from hexavatar.web.deps import Services

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(storage_config: dict[str, str]) -> Iterator[Services]:
    services = build_services(load_settings(**storage_config, nft_enabled=False))
    try:
        yield services
    finally:
        services.close()


class Feed:
    """A ChangeFeed on a fake clock, with the user IDs it reported."""

    def __init__(self, factory: sessionmaker[Session], **kwargs: Any) -> None:
        self.now = 0.0
        self.reported: list[int] = []
        self.feed = ChangeFeed(factory, self.reported.append, clock=lambda: self.now, **kwargs)


def _change(factory: sessionmaker[Session], *user_ids: int, at: datetime = NOW) -> None:
    with transaction(factory) as s:
        record_change(s, user_ids, at=at)


def _rows(factory: sessionmaker[Session], *rows: tuple[int, int]) -> None:
    """Insert ``(id, user_id)`` rows with explicit IDs (as a sequence may hand them out)."""
    with transaction(factory) as s:
        s.add_all(AvatarChange(id=id_, user_id=uid, changed_at=NOW) for id_, uid in rows)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (100, 100), (200, 40, 90)).save(buf, format="PNG")
    return buf.getvalue()


def test_start_skips_earlier_changes_and_each_later_change_is_reported_once(
    services: Services,
) -> None:
    _change(services.factory, 1, 2)
    f = Feed(services.factory)
    f.feed.start()
    assert f.feed.poll() == 0
    assert f.reported == []
    _change(services.factory, 3)
    _change(services.factory, 4, 3)  # a user changed twice: reported twice
    assert f.feed.poll() == 3
    assert sorted(f.reported) == [3, 3, 4]
    assert f.feed.poll() == 0  # nothing new
    assert sorted(f.reported) == [3, 3, 4]
    _change(services.factory, 5)
    assert f.feed.poll() == 1
    assert f.reported[-1] == 5


def test_poll_without_start_begins_after_the_existing_changes(services: Services) -> None:
    _change(services.factory, 1, 2)
    f = Feed(services.factory)
    assert f.feed.poll() == 0
    _change(services.factory, 7)
    assert f.feed.poll() == 1
    assert f.reported == [7]


def test_a_missing_id_that_shows_up_before_the_gap_timeout_is_reported(
    services: Services,
) -> None:
    f = Feed(services.factory, gap_timeout=30)
    f.feed.start()
    _rows(services.factory, (1, 10), (2, 20), (3, 30))
    assert f.feed.poll() == 3
    f.now += 100  # time passing without any gap counts for nothing
    _rows(services.factory, (5, 50))  # ID 4 is handed out but not committed yet
    assert f.feed.poll() == 1
    assert f.reported == [10, 20, 30, 50]
    f.now += 20
    _rows(services.factory, (6, 60))  # later changes are not held up by the gap
    assert f.feed.poll() == 1
    assert f.feed.poll() == 0  # and nothing is reported twice while the gap is open
    f.now += 9.5  # 29.5 s after ID 4 was first missed
    _rows(services.factory, (4, 40))
    assert f.feed.poll() == 1
    assert f.reported == [10, 20, 30, 50, 60, 40]
    assert f.feed.poll() == 0
    _rows(services.factory, (7, 70))
    assert f.feed.poll() == 1
    assert f.reported[-1] == 70


def test_a_missing_id_is_passed_over_after_the_gap_timeout(services: Services) -> None:
    f = Feed(services.factory, gap_timeout=30)
    f.feed.start()
    _rows(services.factory, (1, 10), (3, 30))  # ID 2 missing: rolled back, say
    assert f.feed.poll() == 2
    f.now += 29
    assert f.feed.poll() == 0
    assert f.feed._low == 1  # still waiting for ID 2
    f.now += 1
    assert f.feed.poll() == 0
    assert f.feed._low == 3  # moved on past the gap (and past 3, handled)
    _rows(services.factory, (2, 20))  # too late: no longer looked for
    _rows(services.factory, (4, 40))
    assert f.feed.poll() == 1
    assert f.reported == [10, 30, 40]


def test_rows_beyond_one_batch_are_read_while_a_gap_is_open(services: Services) -> None:
    """``batch`` bounds one poll's read; a gap must not stop later polls reading further."""
    f = Feed(services.factory, gap_timeout=30, batch=2)
    f.feed.start()
    _rows(services.factory, (1, 10), (3, 30), (4, 40), (5, 50))  # ID 2 is missing
    for _ in range(5):  # the clock stands still: the gap stays open
        f.feed.poll()
    assert f.reported == [10, 30, 40, 50]


def test_prune_deletes_only_older_rows(services: Services) -> None:
    before = NOW - timedelta(days=1)
    _change(services.factory, 1, 2, at=NOW - timedelta(days=3))
    _change(services.factory, 3, at=before - timedelta(seconds=1))
    _change(services.factory, 4, at=before)  # not older: kept
    _change(services.factory, 5, at=NOW)
    assert prune_changes(services.factory, before=before) == 3
    with services.factory() as s:
        left = sorted(s.scalars(select(AvatarChange.user_id)).all())
    assert left == [4, 5]
    assert prune_changes(services.factory, before=before) == 0


def test_a_change_after_a_prune_that_emptied_the_table_is_reported(services: Services) -> None:
    """``Avatars.gc`` prunes every change older than its grace; after a quiet spell that is all
    of them, and the next change must still get an ID above those the feeds have handled."""
    _change(services.factory, 1, 2, 3, at=NOW - timedelta(days=2))
    f = Feed(services.factory)
    f.feed.start()
    assert prune_changes(services.factory, before=NOW - timedelta(days=1)) == 3
    _change(services.factory, 7)
    assert f.feed.poll() == 1
    assert f.reported == [7]


@pytest.mark.parametrize("storage_config", ["postgres-s3"], indirect=True)
def test_a_change_committed_after_start_with_an_id_below_the_start_is_reported(
    services: Services,
) -> None:
    """IDs are handed out before commit: a transaction under way when a process starts may
    commit a lower ID than the highest one already visible (PostgreSQL only: SQLite has one
    writer at a time, its IDs become visible in order)."""
    assert services.engine.dialect.name == "postgresql"
    slow = services.factory()
    slow.begin()
    slow.add(AvatarChange(user_id=1, changed_at=NOW))
    slow.flush()  # ID taken, not committed yet
    _change(services.factory, 2)  # a higher ID, committed first
    f = Feed(services.factory)
    f.feed.start()
    slow.commit()
    slow.close()
    f.feed.poll()
    assert f.reported == [1]


def test_uploads_and_deletions_through_avatars_reach_a_started_feed(services: Services) -> None:
    bob = services.accounts.signup("bob", "correct horse battery")
    services.avatars.set_upload(bob.id, _png())  # before the feed started: not reported
    f = Feed(services.factory)
    f.feed.start()
    alice = services.accounts.signup("alice", "correct horse battery")
    assert f.feed.poll() == 0  # signing up changes no avatar
    services.avatars.set_upload(alice.id, _png())
    assert f.feed.poll() == 1
    assert f.reported == [alice.id]
    services.avatars.delete(alice.id)
    assert f.feed.poll() == 1
    assert f.reported == [alice.id, alice.id]
    services.avatars.set_upload(bob.id, _png())
    assert f.feed.poll() == 1
    assert f.reported == [alice.id, alice.id, bob.id]
    assert f.feed.poll() == 0
