"""The request timeout, kept cheap enough for every request: one timer per second, not per request.

Upstream's WithTimeoutForNonLongRunningRequests gives each request a context deadline. Here a
request's handler task joins the set of tasks that started in the same second; one timer per set
fires ``timeout`` seconds after that second ends and cancels the tasks still in it, so a request
times out between ``timeout`` and ``timeout`` + 1 s after it started. A per-request
``asyncio.timeout`` (a timer scheduled and cancelled for each request) cost about a third of a
cached GET's own time; joining and leaving a set costs next to nothing.
"""

from __future__ import annotations

import asyncio
import math


class Deadlines:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._second = -1
        self._current: set[asyncio.Task[object]] = set()
        self._expired: set[asyncio.Task[object]] = set()

    def track(self, task: asyncio.Task[object]) -> set[asyncio.Task[object]]:
        """Start ``task``'s clock; the caller removes it from the returned set when it is done."""
        loop = asyncio.get_running_loop()
        second = math.floor(loop.time())
        if second != self._second:
            self._second, self._current = second, set()
            loop.call_at(second + 1 + self.timeout, self._expire, self._current)
        self._current.add(task)
        return self._current

    def _expire(self, tasks: set[asyncio.Task[object]]) -> None:
        for task in tasks:
            if not task.done():
                self._expired.add(task)
                task.cancel()
        tasks.clear()

    def timed_out(self, task: asyncio.Task[object]) -> bool:
        """True for a task `_expire` cancelled, if no one else cancelled it too (then the
        cancellation goes on as what it is)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() == 0

    def forget(self, task: asyncio.Task[object], tracked: set[asyncio.Task[object]]) -> None:
        """``task`` is done (however it ended)."""
        tracked.discard(task)
        self._expired.discard(task)
