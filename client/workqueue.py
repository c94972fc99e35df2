"""The key workqueue between informer handlers and a controller's workers.

Mirrors client-go's ``util/workqueue`` rate-limiting delaying queue, which is what makes
controllers correct under bursts:
- a key is queued at most once however many events arrive for it (the *dirty* set);
- a key being worked on (*processing*) is never handed to a second worker; if it changes
  meanwhile it is queued again when the first worker calls `done`;
- `add_after` delays a key (keeping the earliest of several requested times), and
  `add_rate_limited` delays it by the rate limiter's answer (per-key exponential backoff and a
  global token bucket, `client.ratelimit`); `forget` resets the key's backoff after a success;
- `shutdown` wakes every waiting worker with `QueueShutDown`.
It lives in one event loop; delays are ``loop.call_later`` timers, not a polling loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable

from client.ratelimit import RateLimiter, default_controller_rate_limiter


class QueueShutDown(Exception):
    """`WorkQueue.get` after `WorkQueue.shutdown` (and nothing left to hand out)."""


class WorkQueue:
    """A deduplicating, rate-limited queue of keys."""

    def __init__(self, name: str = "", *, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self._rate_limiter = rate_limiter or default_controller_rate_limiter()
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    def __len__(self) -> int:
        """Keys ready to be handed out (not those delayed or being processed)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: Hashable) -> None:
        """Queue ``key`` unless it is already queued; a key being processed is queued on `done`."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one_getter()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending time for it wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        handle = loop.call_later(delay, self._delay_elapsed, key)
        self._waiting[key] = (ready_at, handle)

    def add_rate_limited(self, key: Hashable) -> None:
        """Queue ``key`` after the rate limiter's delay (a retry after a failure)."""
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its next failure starts the backoff from the beginning."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self._rate_limiter.num_requeues(key)

    async def get(self) -> Hashable:
        """The next key; the caller must call `done(key)` when finished with it."""
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._wake_one_getter()  # pass the wake-up we consumed to another worker
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        """Processing of ``key`` finished; if it was added meanwhile, queue it again now."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one_getter()

    def shutdown(self) -> None:
        """Stop accepting keys, drop delayed ones, and release every waiting `get`."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _delay_elapsed(self, key: Hashable) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _wake_one_getter(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
