"""The single writer thread of the SQLite backend: group commit of queued writes.

SQLite allows one writer at a time and each commit costs an fsync-free but still sizeable WAL
append, so writes from all coroutines are queued to one dedicated thread that drains the queue
and commits everything pending in one transaction (group commit, as databases do with their
log). Each write is checked against the key's latest row inside that transaction, so checks and
inserts are serialised without application locks; the UNIQUE(name, prev_revision) constraint is
the database's own guard behind that check. After the commit the thread hands the batch's events
and outcomes to the event loop in one callback, which wakes watchers and resolves the callers'
futures: a write is acknowledged only once it is durable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from server.storage.interface import (
    Event,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
    StorageError,
)
from server.storage.sqlite_schema import COMPACTED_META, connect, create_schema, recover

logger = logging.getLogger(__name__)

MAX_BATCH = 1000

_SELECT_LATEST = (
    "SELECT id, deleted, create_revision, value FROM kv_log WHERE name = ? ORDER BY id DESC LIMIT 1"
)
_INSERT = (
    "INSERT INTO kv_log (id, name, created, deleted, create_revision, prev_revision, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# Compaction deletes, for every row written in (previous compaction, new compaction], the row it
# superseded, and every tombstone in that range: what is left is exactly the versions visible at
# the compacted revision and after (etcd's compaction keeps the same set).
_DELETE_SUPERSEDED = (
    "DELETE FROM kv_log WHERE id IN (SELECT prev_revision FROM kv_log WHERE id > ? AND id <= ?)"
)
_DELETE_TOMBSTONES = "DELETE FROM kv_log WHERE id > ? AND id <= ? AND deleted = 1"
_SAVE_COMPACTED = "INSERT OR REPLACE INTO kv_meta (name, value) VALUES (?, ?)"

WriteKind = Literal["create", "update", "delete", "compact"]
Outcome = int | KeyValue | None | BaseException
CommitCallback = Callable[[Sequence[Event], Sequence[tuple["asyncio.Future[object]", Outcome]]], None]


@dataclass(slots=True)
class WriteOp:
    """One queued write; ``future`` lives on the event loop and is resolved only there."""

    kind: WriteKind
    key: str
    value: bytes
    expected_revision: int
    future: asyncio.Future[object]


_STOP = object()


class LogWriter:
    """Owns the write connection and the thread that applies queued writes in batches."""

    def __init__(self, path: str, *, loop: asyncio.AbstractEventLoop, on_commit: CommitCallback) -> None:
        self._path = path
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._revision = 0
        self._compacted = 0
        self._ready: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        # Counters read by metrics and tests: how well group commit is batching.
        self.transactions_committed = 0
        self.writes_committed = 0

    async def start(self) -> tuple[int, int]:
        """Open the file and recover; returns the stored (current, compacted) revisions."""
        self._thread.start()
        return await asyncio.wrap_future(self._ready)

    def submit(self, op: WriteOp) -> None:
        self._queue.put(op)

    async def stop(self) -> None:
        """Commit what is already queued, then close the connection and end the thread."""
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            conn = connect(self._path, readonly=False)
            create_schema(conn)
            self._revision, self._compacted = recover(conn)
        except BaseException as error:  # hand any start-up failure to start()'s caller
            self._ready.set_exception(error)
            return
        self._ready.set_result((self._revision, self._compacted))
        try:
            self._serve(conn)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        pending = self._queue
        while True:
            first = pending.get()
            if first is _STOP:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._commit(conn, batch)  # type: ignore[arg-type]
            if stopping:
                return

    def _commit(self, conn: sqlite3.Connection, batch: Sequence[WriteOp]) -> None:
        events: list[Event] = []
        outcomes: list[tuple[asyncio.Future[object], Outcome]] = []
        start_revision, start_compacted = self._revision, self._compacted
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for op in batch:
                    outcomes.append((op.future, self._apply(conn, op, events)))
                conn.execute("COMMIT")
                self.transactions_committed += 1
                self.writes_committed += len(batch)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as error:  # the whole batch failed to commit: fail every write in it
            logger.exception("sqlite commit of %d writes failed", len(batch))
            self._revision, self._compacted = start_revision, start_compacted
            failure = StorageError(f"commit failed: {error}")
            events, outcomes = [], [(op.future, failure) for op in batch]
        try:
            self._loop.call_soon_threadsafe(self._on_commit, events, outcomes)
        except RuntimeError:  # the loop is gone (interpreter shutdown): nobody is waiting
            logger.warning("event loop closed; %d commit outcomes dropped", len(outcomes))

    def _apply(self, conn: sqlite3.Connection, op: WriteOp, events: list[Event]) -> Outcome:
        """Check one write against the key's latest row and append it; a refused write returns
        its error as the outcome and changes nothing."""
        if op.kind == "compact":
            self._compact(conn, op.expected_revision)
            return None
        key = op.key
        row = conn.execute(_SELECT_LATEST, (key,)).fetchone()
        live = row is not None and not row[1]
        revision = self._revision + 1
        if op.kind == "create":
            if live:
                return KeyExistsError(key)
            conn.execute(_INSERT, (revision, key, 1, 0, revision, row[0] if row else 0, op.value))
            kv = KeyValue(key, op.value, revision, revision)
            events.append(Event("PUT", kv, None))
            self._revision = revision
            return revision
        if not live:
            return KeyNotFoundError(key)
        prev = KeyValue(key, row[3], row[2], row[0])
        if op.expected_revision and prev.mod_revision != op.expected_revision:
            return RevisionConflictError(key, prev)
        if op.kind == "update":
            conn.execute(_INSERT, (revision, key, 0, 0, prev.create_revision, prev.mod_revision, op.value))
            kv = KeyValue(key, op.value, prev.create_revision, revision)
            events.append(Event("PUT", kv, prev))
            self._revision = revision
            return revision
        conn.execute(_INSERT, (revision, key, 0, 1, prev.create_revision, prev.mod_revision, prev.value))
        gone = KeyValue(key, prev.value, prev.create_revision, revision)
        events.append(Event("DELETE", gone, prev))
        self._revision = revision
        return gone

    def _compact(self, conn: sqlite3.Connection, revision: int) -> None:
        if revision <= self._compacted:
            return
        conn.execute(_DELETE_SUPERSEDED, (self._compacted, revision))
        conn.execute(_DELETE_TOMBSTONES, (self._compacted, revision))
        conn.execute(_SAVE_COMPACTED, (COMPACTED_META, revision))
        logger.info("compacted sqlite log up to revision %d", revision)
        self._compacted = revision
