"""An in-process backend that keeps everything in dictionaries: the reference for unit tests.

It implements the same contract as the SQLite backend (and etcd): a global revision advanced by
every write, full per-key history for reads at old revisions, compaction, and watches that replay
the log and then follow live writes. Every method runs to completion without awaiting, so each
write is atomic with respect to the event loop and no locking is needed.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from server.storage.interface import (
    CompactedError,
    Event,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
    resolve_revision,
)
from server.storage.watchers import WatchHub, follow

DEFAULT_WATCH_QUEUE = 10_000


@dataclass(slots=True)
class _KeyHistory:
    """One key's versions: ``kvs[i]`` is the value from ``revisions[i]`` on (None = deleted)."""

    revisions: list[int] = field(default_factory=list)
    kvs: list[KeyValue | None] = field(default_factory=list)

    def at(self, revision: int) -> KeyValue | None:
        index = bisect.bisect_right(self.revisions, revision) - 1
        return self.kvs[index] if index >= 0 else None

    def latest(self) -> KeyValue | None:
        return self.kvs[-1] if self.kvs else None


class MemoryBackend:
    """The ``Backend`` contract held in memory; lost when the process exits."""

    def __init__(self, *, watch_queue_size: int = DEFAULT_WATCH_QUEUE) -> None:
        self._histories: dict[str, _KeyHistory] = {}
        self._sorted_keys: list[str] = []
        self._log: list[Event] = []
        self._revision = 0
        self._compacted = 0
        self._closed = False
        self._hub = WatchHub(watcher_limit=watch_queue_size)

    async def start(self) -> None:
        """Nothing to open; present for the contract."""

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    async def check_health(self) -> None:
        if self._closed:
            raise StorageUnavailableError("storage is closed")

    async def current_revision(self) -> int:
        return self._revision

    async def compacted_revision(self) -> int:
        return self._compacted

    def _read_revision(self, revision: int) -> int:
        return resolve_revision(revision, current=self._revision, compacted=self._compacted)

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        at = self._read_revision(revision)
        history = self._histories.get(key)
        return history.at(at) if history is not None else None

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        at = self._read_revision(revision)
        keys = self._sorted_keys
        if start_after >= prefix:
            index = bisect.bisect_right(keys, start_after)
        else:
            index = bisect.bisect_left(keys, prefix)
        items: list[KeyValue] = []
        remaining = 0
        for key in keys[index:]:
            if not key.startswith(prefix):
                break
            kv = self._histories[key].at(at)
            if kv is None:
                continue
            if limit and len(items) >= limit:
                remaining += 1
            else:
                items.append(kv)
        return ListResult(items=items, revision=at, more=remaining > 0, remaining=remaining)

    async def count(self, prefix: str) -> int:
        index = bisect.bisect_left(self._sorted_keys, prefix)
        total = 0
        for key in self._sorted_keys[index:]:
            if not key.startswith(prefix):
                break
            if self._histories[key].latest() is not None:
                total += 1
        return total

    def _current(self, key: str) -> tuple[_KeyHistory | None, KeyValue | None]:
        history = self._histories.get(key)
        return history, history.latest() if history is not None else None

    def _append(self, key: str, history: _KeyHistory | None, kv: KeyValue | None, event: Event) -> int:
        if self._closed:
            raise StorageError("storage is closed")
        if history is None:
            history = self._histories[key] = _KeyHistory()
            bisect.insort(self._sorted_keys, key)
        revision = event.kv.mod_revision
        history.revisions.append(revision)
        history.kvs.append(kv)
        self._log.append(event)
        self._revision = revision
        self._hub.publish((event,))
        return revision

    async def create(self, key: str, value: bytes) -> int:
        history, current = self._current(key)
        if current is not None:
            raise KeyExistsError(key)
        revision = self._revision + 1
        kv = KeyValue(key, value, revision, revision)
        return self._append(key, history, kv, Event("PUT", kv, None))

    def _guard(self, key: str, current: KeyValue | None, expected_revision: int) -> KeyValue:
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision and current.mod_revision != expected_revision:
            raise RevisionConflictError(key, current)
        return current

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        history, current = self._current(key)
        prev = self._guard(key, current, expected_revision)
        revision = self._revision + 1
        kv = KeyValue(key, value, prev.create_revision, revision)
        return self._append(key, history, kv, Event("PUT", kv, prev))

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        history, current = self._current(key)
        prev = self._guard(key, current, expected_revision)
        gone = KeyValue(key, prev.value, prev.create_revision, self._revision + 1)
        self._append(key, history, None, Event("DELETE", gone, prev))
        return gone

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        if self._closed:
            return

        async def read_history(after: int, up_to: int) -> AsyncIterator[Event]:
            for event in self.log_since(prefix, after, up_to):
                yield event

        async for event in follow(
            self._hub, prefix, after_revision=after_revision, read_history=read_history
        ):
            yield event

    async def compact(self, revision: int) -> None:
        if revision <= self._compacted:
            return
        at = self._read_revision(revision)
        for key in [k for k, h in self._histories.items() if h.revisions[0] <= at]:
            self._compact_key(key, at)
        if self._log:
            drop = at - self._log[0].kv.mod_revision + 1
            del self._log[: max(drop, 0)]
        self._compacted = at

    def _compact_key(self, key: str, at: int) -> None:
        """Keep only the version visible at ``at`` and later ones; a tombstone at or before ``at``
        goes with the versions it ended (etcd forgets deleted keys on compaction the same way)."""
        history = self._histories[key]
        index = bisect.bisect_right(history.revisions, at) - 1
        if history.kvs[index] is None:
            index += 1
        del history.revisions[:index]
        del history.kvs[:index]
        if not history.revisions:
            del self._histories[key]
            self._sorted_keys.pop(bisect.bisect_left(self._sorted_keys, key))

    def log_since(self, prefix: str, after_revision: int, up_to: int) -> Sequence[Event]:
        """Logged events under ``prefix`` in ``(after_revision, up_to]``."""
        if not self._log:
            return []
        first = self._log[0].kv.mod_revision
        start = max(after_revision + 1 - first, 0)
        stop = up_to + 1 - first
        return [e for e in self._log[start:stop] if e.kv.key.startswith(prefix)]
