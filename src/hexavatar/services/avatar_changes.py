"""Avatar changes made by other processes, read from the database so that every web process can
drop its cached answers for the users concerned (docs/deployment.md, "How fresh an avatar is").

Each change of the avatar a profile shows writes an ``avatar_changes`` row in the change's own
transaction (:func:`~hexavatar.services.avatars.record_change`). :class:`ChangeFeed` reads the
rows with an ID above the last one it has handled, one small indexed query per poll, whatever
the number of users or cached entries: with it the cache's entries can live long (their TTL is
only a safety net) and a change still shows everywhere within one poll interval.

IDs come from a sequence and are handed out before their transactions commit, so a row can
become visible after a higher ID did: a missing ID (a gap) is not skipped over until it appears
or ``gap_timeout`` has passed (the transaction was rolled back, or is longer than any of ours);
each poll reads the IDs above the highest seen and the missing ones. At start-up the last
``START_WINDOW`` IDs are checked the same way. Times are this process's own clock: nothing
depends on clocks agreeing between machines. IDs are never reused (AUTOINCREMENT on SQLite),
so pruning old rows cannot hide a new one.

Why by hand: a poll of one table; LISTEN/NOTIFY would need PostgreSQL (SQLite is supported
too) and still a catch-up read after every reconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import transaction
from ..storage.models import AvatarChange

__all__ = ["ChangeFeed", "prune_changes"]

log = logging.getLogger(__name__)
START_WINDOW = 1000  # IDs below the highest at start-up that may still be uncommitted


class ChangeFeed:
    def __init__(
        self,
        factory: sessionmaker[Session],
        on_change: Callable[[int], None],
        *,
        gap_timeout: float = 30.0,
        batch: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._on_change = on_change
        self._gap_timeout = gap_timeout
        self._batch = batch
        self._clock = clock
        self._low: int | None = None  # every ID up to this one is handled
        self._seen: set[int] = set()  # handled IDs above ``_low``
        self._gaps: dict[int, float] = {}  # missing ID above ``_low`` → when first missed

    def start(self) -> None:
        """Begin after the changes already made (a new process has nothing cached); the last
        ``START_WINDOW`` IDs below the highest are gaps unless present, since a transaction
        that took one of them may not have committed yet."""
        with self._factory() as s:
            top = s.scalar(select(func.max(AvatarChange.id))) or 0
            low = max(0, top - START_WINDOW)
            present = s.scalars(select(AvatarChange.id).where(AvatarChange.id > low)).all()
        self._low = low
        self._seen = set(present)
        self._gaps.clear()
        self._advance()

    def poll(self) -> int:
        """Read the new changes and report each user once per change; how many were new."""
        if self._low is None:
            self.start()
        assert self._low is not None
        top = max(self._seen, default=self._low)
        wanted = AvatarChange.id > top
        if self._gaps:  # and the missing IDs below it, which may have committed since
            wanted = or_(wanted, AvatarChange.id.in_(sorted(self._gaps)))
        with self._factory() as s:
            rows = s.execute(
                select(AvatarChange.id, AvatarChange.user_id)
                .where(wanted)
                .order_by(AvatarChange.id)
                .limit(self._batch)
            ).all()
        new = [(id_, uid) for id_, uid in rows if id_ not in self._seen and id_ > self._low]
        for id_, uid in new:
            self._seen.add(id_)
            self._gaps.pop(id_, None)
            self._on_change(uid)
        self._advance()
        return len(new)

    def _advance(self) -> None:
        """Move ``_low`` over handled IDs and over gaps older than ``gap_timeout``."""
        assert self._low is not None
        now = self._clock()
        top = max(self._seen, default=self._low)
        for id_ in range(self._low + 1, top):
            if id_ not in self._seen:
                self._gaps.setdefault(id_, now)
        while self._low < top:
            nxt = self._low + 1
            if nxt in self._seen:
                self._seen.discard(nxt)
            elif now - self._gaps.get(nxt, now) >= self._gap_timeout:
                log.info("avatar change %d never appeared: passed over", nxt)
                del self._gaps[nxt]
            else:
                break
            self._low = nxt

    def run_forever(self, stop: threading.Event, *, interval: float) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set (a daemon thread's loop)."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception:  # the database away: cached entries keep their TTL bound
                log.warning("reading avatar changes failed", exc_info=True)
            stop.wait(interval)


def prune_changes(factory: sessionmaker[Session], *, before: datetime) -> int:
    """Delete change rows older than ``before`` (every process has read them by then)."""
    with transaction(factory) as s:
        result = s.execute(delete(AvatarChange).where(AvatarChange.changed_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
