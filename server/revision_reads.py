"""Consistent reads share their reads of the store's current revision.

A consistent read from the watch cache first learns the store's current revision (with several
API servers, another server's writes reach this cache only through its store watch), then waits
for the cache to reach it (`WatchCache.catch_up`). On etcd that is a round trip per read; a
server answering thousands of GETs a second would spend most of its time on them. Reads that
overlap can share one: the revision must come from a request *sent after* the read began (a read
must see every write acknowledged before it began), so a read that arrives while a request is in
flight waits for the next request, and every read that arrived meanwhile shares that next one. At
most one request is in flight and one waits, whatever the load (etcd's own linearizable reads
batch their ReadIndex requests the same way).

When the store answers without suspending (SQLite and memory keep the revision in the process)
nothing is ever in flight and each read simply asks the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class RevisionReads:
    """``current()``: the store's current revision, from a request sent after the call began."""

    def __init__(self, read: Callable[[], Awaitable[int]]) -> None:
        self._read = read
        self._in_flight = False
        # The readers waiting for the request after the one in flight (None: nobody waits).
        self._next: asyncio.Future[int] | None = None
        # Shared requests, referenced until done (each ends with its request: the store's own
        # deadline bounds it).
        self._tasks: set[asyncio.Task[None]] = set()

    async def current(self) -> int:
        if not self._in_flight:
            self._in_flight = True
            try:
                return await self._read()
            finally:
                self._done()
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # Nobody may be left to retrieve a failure: keep asyncio from warning about it.
            self._next.add_done_callback(_retrieve)
        # Shielded: one reader giving up (its client went away) must not cancel the others' read.
        return await asyncio.shield(self._next)

    def _done(self) -> None:
        """The request in flight ended: send the next one for the readers that arrived meanwhile."""
        self._in_flight = False
        if self._next is None:
            return
        waiting, self._next = self._next, None
        self._in_flight = True
        task = asyncio.get_running_loop().create_task(self._read_for(waiting), name="revision read")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_for(self, waiting: asyncio.Future[int]) -> None:
        try:
            revision = await self._read()
        except asyncio.CancelledError:
            waiting.cancel()
            raise
        except Exception as e:  # handed to every waiting reader, which raises it as its own
            if not waiting.done():
                waiting.set_exception(e)
        else:
            if not waiting.done():
                waiting.set_result(revision)
        finally:
            self._done()


def _retrieve(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()
