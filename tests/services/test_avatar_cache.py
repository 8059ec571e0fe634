"""The avatar read path's in-process cache: TTL from the moment a load began, refresh-ahead
marks, the invalidation guard, LRU bound; and the background refresher's batching."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from hexavatar.services.avatar_cache import Refresher, TtlCache


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _cache(
    clock: FakeClock,
    *,
    ttl: float = 10.0,
    refresh_after: float | None = None,
    max_entries: int = 100,
) -> TtlCache[str]:
    return TtlCache(ttl=ttl, refresh_after=refresh_after, max_entries=max_entries, clock=clock)


# --- TtlCache ------------------------------------------------------------------------------


def test_an_entry_expires_ttl_after_its_load_began_not_after_it_was_stored(
    clock: FakeClock,
) -> None:
    cache = _cache(clock)
    loaded_at = clock()
    clock.advance(3)  # the database read took 3 s
    assert cache.put("k", "v", owner=1, loaded_at=loaded_at)
    clock.advance(6.5)  # 9.5 s after the load began
    assert cache.get("k") == "v"
    clock.advance(0.5)  # exactly loaded_at + ttl
    assert cache.get("k") is None
    assert len(cache) == 0  # the expired entry is dropped, not kept around


def test_lookup_says_when_an_entry_is_due_for_refresh(clock: FakeClock) -> None:
    cache = _cache(clock, refresh_after=6.0)
    assert cache.lookup("k") == (None, False)
    assert cache.put("k", "v", owner=1, loaded_at=clock())
    clock.advance(5.5)
    assert cache.lookup("k") == ("v", False)
    clock.advance(0.5)  # exactly at the refresh mark
    assert cache.lookup("k") == ("v", True)
    clock.advance(3.5)  # still served while due, until the TTL
    assert cache.lookup("k") == ("v", True)
    clock.advance(0.5)
    assert cache.lookup("k") == (None, False)


def test_refresh_mark_defaults_to_three_quarters_of_the_ttl_and_never_exceeds_it(
    clock: FakeClock,
) -> None:
    cache = _cache(clock, ttl=8.0)
    assert cache.refresh_after == 6.0
    assert cache.put("k", "v", owner=1, loaded_at=clock())
    clock.advance(5.9)
    assert cache.lookup("k") == ("v", False)
    clock.advance(0.1)
    assert cache.lookup("k") == ("v", True)
    assert _cache(clock, ttl=8.0, refresh_after=20.0).refresh_after == 8.0


def test_put_is_refused_for_a_load_already_older_than_the_ttl(clock: FakeClock) -> None:
    cache = _cache(clock)
    assert not cache.put("old", "v", owner=1, loaded_at=clock() - 10.0)
    assert cache.get("old") is None
    assert len(cache) == 0
    assert cache.put("young", "v", owner=1, loaded_at=clock() - 9.5)
    assert cache.get("young") == "v"


def test_put_is_refused_for_a_load_that_began_before_its_owner_was_invalidated(
    clock: FakeClock,
) -> None:
    cache = _cache(clock)
    before = clock()  # a load of user 1 begins (it may read the previous picture)
    clock.advance(1)
    cache.invalidate(1)  # user 1's avatar changes meanwhile
    at_invalidation = clock()
    clock.advance(1)
    assert not cache.put("alice", "old picture", owner=1, loaded_at=before)
    assert cache.get("alice") is None
    # a load beginning at the very moment of the invalidation may have read the old one too
    assert not cache.put("alice", "old picture", owner=1, loaded_at=at_invalidation)
    assert cache.get("alice") is None
    # another owner is not concerned
    assert cache.put("bob", "bob's", owner=2, loaded_at=before)
    # a load that began after the invalidation read the new picture: stored
    assert cache.put("alice", "new picture", owner=1, loaded_at=at_invalidation + 0.5)
    assert cache.get("alice") == "new picture"


def test_invalidate_drops_every_entry_of_that_owner_only(clock: FakeClock) -> None:
    cache = _cache(clock)
    now = clock()
    assert cache.put(("alice", 64, "png"), "a64", owner=1, loaded_at=now)
    assert cache.put(("alice", 128, "webp"), "a128", owner=1, loaded_at=now)
    assert cache.put(("bob", 64, "png"), "b64", owner=2, loaded_at=now)
    clock.advance(1)
    cache.invalidate(1)
    assert cache.get(("alice", 64, "png")) is None
    assert cache.get(("alice", 128, "webp")) is None
    assert cache.get(("bob", 64, "png")) == "b64"
    assert len(cache) == 1


def test_forgetting_old_invalidation_marks_opens_no_hole_for_stale_loads(
    clock: FakeClock,
) -> None:
    cache = _cache(clock)
    load_began = clock()
    clock.advance(0.5)
    cache.invalidate(1)
    clock.advance(4)
    cache.invalidate(2)  # user 1's mark is younger than the TTL: kept
    assert not cache.put("alice", "stale", owner=1, loaded_at=load_began)
    clock.advance(6)  # user 1's mark is now older than the TTL and may be forgotten
    cache.invalidate(3)
    assert not cache.put("alice", "stale", owner=1, loaded_at=load_began)  # expired anyway
    assert cache.get("alice") is None


def test_discard_removes_one_key(clock: FakeClock) -> None:
    cache = _cache(clock)
    assert cache.put("a", "1", owner=1, loaded_at=clock())
    assert cache.put("b", "2", owner=1, loaded_at=clock())
    cache.discard("a")
    cache.discard("missing")  # no error
    assert cache.get("a") is None
    assert cache.get("b") == "2"
    assert len(cache) == 1


def test_the_least_recently_used_entry_goes_first(clock: FakeClock) -> None:
    cache = _cache(clock, max_entries=2)
    now = clock()
    assert cache.put("a", "1", owner=1, loaded_at=now)
    assert cache.put("b", "2", owner=2, loaded_at=now)
    assert cache.get("a") == "1"  # "a" is now the most recently used
    assert cache.put("c", "3", owner=3, loaded_at=now)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == "1"
    assert cache.get("c") == "3"
    # storing again counts as a use too
    assert cache.put("a", "1'", owner=1, loaded_at=now)
    assert cache.put("d", "4", owner=4, loaded_at=now)
    assert cache.get("c") is None
    assert cache.get("a") == "1'"
    assert cache.get("d") == "4"


def test_a_ttl_of_zero_disables_the_cache(clock: FakeClock) -> None:
    cache = _cache(clock, ttl=0.0)
    assert not cache.put("k", "v", owner=1, loaded_at=clock())
    assert cache.get("k") is None
    assert cache.lookup("k") == (None, False)
    assert len(cache) == 0


# --- Refresher -----------------------------------------------------------------------------


class Recorder:
    """A ``reload`` that records its calls; ``gate`` (when given) holds the first call."""

    def __init__(self, *, gate: threading.Event | None = None, fail_first: bool = False) -> None:
        self.calls: list[list[object]] = []
        self.at: list[float] = []
        self._gate = gate
        self._fail_first = fail_first
        self._changed = threading.Condition()

    def __call__(self, keys: Sequence[object]) -> None:
        with self._changed:
            self.calls.append(list(keys))
            self.at.append(time.monotonic())
            first = len(self.calls) == 1
            self._changed.notify_all()
        if first and self._gate is not None:
            assert self._gate.wait(5), "the test never released the first reload"
        if first and self._fail_first:
            raise RuntimeError("database away")

    def wait_calls(self, n: int, timeout: float = 5.0) -> list[list[object]]:
        return self.wait_for(lambda calls: len(calls) >= n, timeout)

    def wait_for(
        self, predicate: Callable[[list[list[object]]], bool], timeout: float = 5.0
    ) -> list[list[object]]:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.calls), timeout), self.calls
            return list(self.calls)


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _alive(name: str) -> bool:
    return any(t.name == name and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def refreshers() -> Iterator[list[Refresher[object]]]:
    """Refreshers a test makes, closed at its end (their threads are daemons, but still)."""
    made: list[Refresher[object]] = []
    yield made
    for r in made:
        r.close()


def test_linger_gathers_requests_into_one_reload(refreshers: list[Refresher[object]]) -> None:
    reload = Recorder()
    refresher: Refresher[object] = Refresher(reload, linger=0.5)
    refreshers.append(refresher)
    first = time.monotonic()
    for key in range(5):  # five hits within 50 ms, well inside the linger
        refresher.request(key)
        time.sleep(0.01)
    calls = reload.wait_calls(1)
    assert calls[0] == [0, 1, 2, 3, 4]
    assert reload.at[0] - first >= 0.4  # it did wait about ``linger`` for more keys


def test_batches_hold_at_most_batch_keys(refreshers: list[Refresher[object]]) -> None:
    gate = threading.Event()
    reload = Recorder(gate=gate)
    refresher: Refresher[object] = Refresher(reload, batch=3, linger=0.01)
    refreshers.append(refresher)
    refresher.request("first")
    reload.wait_calls(1)  # the first reload is under way and held there
    for key in range(7):
        refresher.request(key)
    gate.set()
    calls = reload.wait_calls(4)
    assert calls == [["first"], [0, 1, 2], [3, 4, 5], [6]]
    assert refresher.rounds >= 3


def test_a_key_requested_while_pending_is_queued_once(refreshers: list[Refresher[object]]) -> None:
    gate = threading.Event()
    reload = Recorder(gate=gate)
    refresher: Refresher[object] = Refresher(reload, linger=0.05)
    refreshers.append(refresher)
    refresher.request("a")
    reload.wait_calls(1)
    for key in ["b", "b", "c", "b", "c"]:
        refresher.request(key)
    gate.set()
    assert reload.wait_calls(2)[1] == ["b", "c"]
    # once reloaded, a key may be requested again (it is not left pending forever)
    _wait_until(lambda: refresher.rounds == 2)
    refresher.request("b")
    assert reload.wait_calls(3)[2] == ["b"]


def test_a_failed_reload_is_logged_and_the_refresher_keeps_working(
    refreshers: list[Refresher[object]], caplog: pytest.LogCaptureFixture
) -> None:
    reload = Recorder(fail_first=True)
    refresher: Refresher[object] = Refresher(reload, linger=0.01)
    refreshers.append(refresher)
    with caplog.at_level(logging.WARNING, logger="hexavatar.services.avatar_cache"):
        refresher.request("a")
        reload.wait_calls(1)
        _wait_until(lambda: refresher.rounds == 1)  # the failure was handled
        refresher.request("a")  # the failed key was dropped, so it can be asked for again
        refresher.request("b")
        calls = reload.wait_for(lambda calls: sum(len(c) for c in calls[1:]) >= 2)
    assert calls[0] == ["a"]
    assert sorted(k for c in calls[1:] for k in c) == ["a", "b"]  # type: ignore[type-var]
    failures = [r for r in caplog.records if r.name == "hexavatar.services.avatar_cache"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], RuntimeError)


def test_close_during_the_linger_stops_promptly_without_reloading() -> None:
    reload = Recorder()
    refresher: Refresher[object] = Refresher(reload, linger=5.0, name="refresher-lingering")
    refresher.request("a")
    _wait_until(lambda: _alive("refresher-lingering"))
    time.sleep(0.05)  # let the thread reach its linger wait (nothing to observe it by)
    started = time.monotonic()
    refresher.close()
    assert time.monotonic() - started < 1.0
    assert not _alive("refresher-lingering")
    assert reload.calls == []  # pending keys are dropped, not reloaded on the way out


def test_close_of_an_idle_refresher_stops_promptly() -> None:
    reload = Recorder()
    # batch=1: a single key is a full batch, reloaded at once without lingering
    refresher: Refresher[object] = Refresher(reload, batch=1, linger=5.0, name="refresher-idle")
    refresher.request("a")
    reload.wait_calls(1)
    _wait_until(lambda: refresher.rounds == 1)  # the thread is back to waiting for work
    started = time.monotonic()
    refresher.close()
    took = time.monotonic() - started
    assert not _alive("refresher-idle")
    assert took < 1.0, f"close() took {took:.2f} s with linger=5"


def test_requests_after_close_are_ignored() -> None:
    reload = Recorder()
    refresher: Refresher[object] = Refresher(reload, linger=0.01, name="refresher-closed")
    refresher.request("a")
    reload.wait_calls(1)
    refresher.close()
    refresher.request("b")
    assert not _alive("refresher-closed")  # no new thread either
    assert reload.calls == [["a"]]
