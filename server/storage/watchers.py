"""Fan-out of committed events to watchers, shared by every backend.

A backend publishes each batch of committed events here, on the event loop, right after the
commit (no polling, unlike kine's one-second poll loop, because one process owns the store). Each
watcher has a bounded buffer; a watcher that falls too far behind is ended with CompactedError
instead of blocking the writer, as kine and etcd drop slow watchers and make the client re-list.

``EventRing`` keeps the most recent events in memory so that a watch starting at a recent
revision replays from memory rather than from the database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable

from server.storage.interface import CompactedError, Event


class Watcher:
    """One subscriber: the events under ``prefix`` that were published since it subscribed."""

    __slots__ = ("_buffer", "_ended", "_error", "_limit", "_wakeup", "prefix")

    def __init__(self, prefix: str, *, limit: int) -> None:
        self.prefix = prefix
        self._limit = limit
        self._buffer: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    def offer(self, event: Event) -> bool:
        """Queue ``event``; returns False (and ends the watcher) if the buffer is full."""
        if self._ended:
            return False
        if len(self._buffer) >= self._limit:
            # The watcher lost this event: tell it the history it needs is gone, like a 410.
            self.end(CompactedError(event.revision, event.revision))
            return False
        self._buffer.append(event)
        self._wakeup.set()
        return True

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, error: BaseException | None = None) -> None:
        """Stop the watcher. A clean end still delivers what is buffered; an ``error`` is raised at
        once, so a dropped watcher never sees a stream with a gap in it."""
        if not self._ended:
            self._ended = True
            self._error = error
            self._wakeup.set()

    async def next(self) -> Event | None:
        """The next buffered event, waiting for one; None once the watcher has ended cleanly."""
        while True:
            if self._error is not None:
                raise self._error
            if self._buffer:
                return self._buffer.popleft()
            if self._ended:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()


class WatchHub:
    """The set of live watchers and the latest revision published to them."""

    def __init__(self, *, watcher_limit: int) -> None:
        self._watcher_limit = watcher_limit
        self._watchers: set[Watcher] = set()
        self.revision = 0
        self.closed = False

    def subscribe(self, prefix: str) -> Watcher:
        """Register a watcher; it receives every event published after this call."""
        watcher = Watcher(prefix, limit=self._watcher_limit)
        if self.closed:
            watcher.end()
        else:
            self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def publish(self, events: Iterable[Event]) -> None:
        """Hand committed events (in revision order) to every watcher whose prefix matches."""
        watchers = self._watchers
        dropped: list[Watcher] = []
        for event in events:
            self.revision = event.kv.mod_revision
            key = event.kv.key
            for watcher in watchers:
                if key.startswith(watcher.prefix) and not watcher.offer(event):
                    dropped.append(watcher)
        for watcher in dropped:
            watchers.discard(watcher)

    def close(self) -> None:
        """End every watch cleanly (the store is shutting down)."""
        self.closed = True
        for watcher in self._watchers:
            watcher.end()
        self._watchers.clear()


class EventRing:
    """The last ``capacity`` events, contiguous in revision, for fast watch replay."""

    def __init__(self, *, capacity: int) -> None:
        self._capacity = capacity
        self._events: list[Event] = []

    def extend(self, events: Iterable[Event]) -> None:
        self._events.extend(events)
        # Trim in bulk (amortised O(1) per event) rather than popping one at a time.
        if len(self._events) > 2 * self._capacity:
            del self._events[: len(self._events) - self._capacity]

    def since(self, after_revision: int, up_to: int) -> list[Event] | None:
        """Events with ``after_revision < revision <= up_to``; None if the ring does not reach
        back that far. Revisions are contiguous (every write is one revision), so this is a slice."""
        events = self._events
        if not events:
            return None if after_revision < up_to else []
        first = events[0].kv.mod_revision
        if after_revision + 1 < first:
            return None
        start = after_revision + 1 - first
        stop = up_to + 1 - first
        return events[start:stop] if stop > start else []


HistoryReader = Callable[[int, int], AsyncIterator[Event]]
"""``(after_revision, up_to)`` → the stored events under a prefix in that range, in order."""


async def follow(
    hub: WatchHub, prefix: str, *, after_revision: int, read_history: HistoryReader
) -> AsyncIterator[Event]:
    """Replay history after ``after_revision`` and then follow live events, without gap or repeat.

    The watcher subscribes *before* history is read, so nothing committed in between is missed;
    live events already covered by the replay are skipped by revision.
    """
    watcher = hub.subscribe(prefix)
    try:
        published = hub.revision
        if after_revision < published:
            async for event in read_history(after_revision, published):
                yield event
        last = max(after_revision, published)
        while (live := await watcher.next()) is not None:
            if live.kv.mod_revision > last:
                yield live
    finally:
        hub.unsubscribe(watcher)
