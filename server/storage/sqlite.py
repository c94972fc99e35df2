"""The embedded default backend: the revisioned key-value contract on one SQLite file.

This module is the asyncio face of the store; the log table lives in ``sqlite_schema``, writes go
through the group-committing thread in ``sqlite_writer`` and reads through the pool in
``sqlite_reads``. Watchers are woken straight from the commit callback (no polling, unlike kine,
because one process owns the file); a ring of recent events serves watch replay from memory and
the log table serves older history, down to the compacted revision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from server.storage import sqlite_reads
from server.storage.interface import (
    CompactedError,
    Event,
    KeyValue,
    ListResult,
    StorageError,
    StorageUnavailableError,
    resolve_revision,
)
from server.storage.sqlite_lock import SqliteFileLock
from server.storage.sqlite_reads import ReadPool
from server.storage.sqlite_writer import LogWriter, Outcome, WriteKind, WriteOp
from server.storage.watchers import EventRing, WatchHub, follow

logger = logging.getLogger(__name__)

DEFAULT_WATCH_QUEUE = 10_000
DEFAULT_RING_SIZE = 8192
DEFAULT_READ_THREADS = 2
HISTORY_CHUNK = 1000


class SqliteBackend:
    """The ``Backend`` contract on a SQLite file; survives restarts and ``kill -9``."""

    def __init__(
        self,
        path: str,
        *,
        watch_queue_size: int = DEFAULT_WATCH_QUEUE,
        ring_size: int = DEFAULT_RING_SIZE,
        read_threads: int = DEFAULT_READ_THREADS,
    ) -> None:
        self.path = path
        self._read_threads = read_threads
        self._hub = WatchHub(watcher_limit=watch_queue_size)
        self._ring = EventRing(capacity=ring_size)
        self._compacted = 0
        self._writer: LogWriter | None = None
        self._reads: ReadPool | None = None
        self._closed = False
        self._lock = SqliteFileLock(path)

    async def start(self) -> None:
        # The store's directory is made as etcd makes its --data-dir (a new path just works).
        await asyncio.to_thread(Path(self.path).parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self._lock.acquire)  # one server per file (sqlite_lock)
        loop = asyncio.get_running_loop()
        self._writer = LogWriter(self.path, loop=loop, on_commit=self._on_commit)
        current, self._compacted = await self._writer.start()
        self._hub.revision = current
        self._reads = ReadPool(self.path, threads=self._read_threads)
        logger.info(
            "sqlite store %s opened at revision %d (compacted %d)", self.path, current, self._compacted
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub.close()
        if self._writer is not None:
            await self._writer.stop()
        if self._reads is not None:
            await asyncio.to_thread(self._reads.close)
        self._lock.release()

    @property
    def commit_counts(self) -> tuple[int, int]:
        """(transactions, writes) committed since start: the group-commit batching ratio."""
        if self._writer is None:
            return 0, 0
        return self._writer.transactions_committed, self._writer.writes_committed

    async def check_health(self) -> None:
        if self._writer is None or self._closed:
            raise StorageUnavailableError("storage is not open")

    async def current_revision(self) -> int:
        return self._hub.revision

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- reads ---------------------------------------------------------------------------------

    def _pool(self) -> ReadPool:
        if self._reads is None or self._closed:
            raise StorageError("storage is not open")
        return self._reads

    def _read_revision(self, revision: int) -> int:
        # Latest means "latest acknowledged": the same revision watchers have been told about, so a
        # list at revision R followed by a watch after R neither misses nor repeats an event.
        return resolve_revision(revision, current=self._hub.revision, compacted=self._compacted)

    def _still_kept(self, revision: int) -> None:
        """A compaction that started while a read at an old revision ran may have removed rows it
        needed; such a read is answered with CompactedError instead of a partial result."""
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        at = self._read_revision(revision)
        kv = await self._pool().run(sqlite_reads.get_at, key, at)
        self._still_kept(at)
        return kv

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        at = self._read_revision(revision)
        items, remaining = await self._pool().run(
            sqlite_reads.list_at, prefix, at, start_after=start_after, limit=limit
        )
        self._still_kept(at)
        return ListResult(items=items, revision=at, more=remaining > 0, remaining=remaining)

    async def count(self, prefix: str) -> int:
        return await self._pool().run(sqlite_reads.count_live, prefix, self._hub.revision)

    # -- writes --------------------------------------------------------------------------------

    async def _write(self, kind: WriteKind, key: str, value: bytes, expected_revision: int) -> object:
        if self._writer is None or self._closed:
            raise StorageError("storage is not open")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._writer.submit(WriteOp(kind, key, value, expected_revision, future))
        return await future

    def _on_commit(
        self, events: Sequence[Event], outcomes: Sequence[tuple[asyncio.Future[object], Outcome]]
    ) -> None:
        """Runs on the loop after each committed batch: wake watchers, then acknowledge writers,
        so a writer that then watches from its own revision finds its event already published."""
        if events:
            self._ring.extend(events)
            self._hub.publish(events)
        for future, outcome in outcomes:
            if future.cancelled():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def create(self, key: str, value: bytes) -> int:
        revision = await self._write("create", key, value, 0)
        assert isinstance(revision, int)
        return revision

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        revision = await self._write("update", key, value, expected_revision)
        assert isinstance(revision, int)
        return revision

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        gone = await self._write("delete", key, b"", expected_revision)
        assert isinstance(gone, KeyValue)
        return gone

    async def compact(self, revision: int) -> None:
        if revision <= self._compacted:
            return
        at = resolve_revision(revision, current=self._hub.revision, compacted=self._compacted)
        # Refuse reads below the new mark before rows start disappearing.
        self._compacted = at
        await self._write("compact", "", b"", at)

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        if self._closed:
            return

        async def read_history(after: int, up_to: int) -> AsyncIterator[Event]:
            recent = self._ring.since(after, up_to)
            if recent is not None:
                for event in recent:
                    if event.kv.key.startswith(prefix):
                        yield event
                return
            async for event in self._read_logged(prefix, after, up_to):
                yield event

        async for event in follow(
            self._hub, prefix, after_revision=after_revision, read_history=read_history
        ):
            yield event

    async def _read_logged(self, prefix: str, after: int, up_to: int) -> AsyncIterator[Event]:
        """History older than the ring, from the log table, a chunk at a time."""
        while after < up_to:
            chunk = await self._pool().run(
                sqlite_reads.events_between, prefix, after, up_to, limit=HISTORY_CHUNK
            )
            self._still_kept(after)
            for event in chunk:
                yield event
            if len(chunk) < HISTORY_CHUNK:
                return
            after = chunk[-1].kv.mod_revision
