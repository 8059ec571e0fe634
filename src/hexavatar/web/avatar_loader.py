"""Cache misses of ``/u/{username}/avatar``, coalesced: requests that miss at the same time share
one database query.

A miss asks :meth:`AvatarLoader.load` for its answer and waits (on the event loop, holding no
thread). The first miss starts a batch at once (no added delay on a quiet server); misses that
arrive while batches are running wait for the next one, which takes every key waiting then. Two
requests for the same answer wait for the same load. A batch is one call of
:meth:`~hexavatar.services.avatars.Avatars.load_many` in a worker thread: one query, whatever
the number of users. After a restart or a cold spell, hundreds of concurrent misses so cost a few
queries instead of hundreds of connections, threads and round trips.

Why by hand: the data-loader pattern has no well-kept library for asyncio with a thread-bound
loader, and it is a few dozen lines.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from ..services.avatars import AnswerKey, Avatars, ImageFormat, Served

__all__ = ["AvatarLoader"]


class AvatarLoader:
    def __init__(self, avatars: Avatars, *, max_batch: int = 256, max_in_flight: int = 2) -> None:
        self._avatars = avatars
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._waiting: dict[AnswerKey, asyncio.Future[Served | None]] = {}
        self._queue: list[AnswerKey] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def answer(
        self, username: str, *, size: int, fmt: ImageFormat, shape: str
    ) -> Served | None:
        """What ``/u/{username}/avatar`` answers: the cached answer, else the loaded one (None:
        no such user). Raises the service's error for a bad size."""
        hit = self._avatars.cached(username, size=size, fmt=fmt, shape=shape)
        if hit is not None:
            return hit
        return await self.load(self._avatars.key(username, size=size, fmt=fmt, shape=shape))

    async def load(self, key: AnswerKey) -> Served | None:
        """The answer for ``key`` (None: no such user), read with whatever else is missing."""
        future = self._waiting.get(key)
        if future is None or future.get_loop() is not asyncio.get_running_loop():
            future = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
            self._queue.append(key)
            self._start()
        # shielded: a request that goes away must not cancel the answer others wait for
        return await asyncio.shield(future)

    def _start(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[AnswerKey]) -> None:
        try:
            found = await run_in_threadpool(self._avatars.load_many, batch)
        except BaseException as exc:  # every waiter gets the error (the route reports it)
            for key in batch:
                future = self._waiting.pop(key, None)
                if future is not None and not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: no "never retrieved" warning if none waits
            if not isinstance(exc, Exception):
                raise
        else:
            for key in batch:
                future = self._waiting.pop(key, None)
                if future is not None and not future.done():
                    future.set_result(found.get(key))
        finally:
            self._in_flight -= 1
            self._start()
