"""Read queries of the SQLite backend and the small thread pool that runs them.

Reads never block the event loop or the writer: they run on their own connections in a few
worker threads (WAL lets readers proceed while the writer commits). Every query is bounded by a
revision (``id <= ?``); rows at or below a committed revision never change except by compaction,
so a single statement sees a consistent snapshot without holding a read transaction open.

"Latest version of each key as of revision R" is the row whose id is the key's largest id <= R,
found through the (name, id, deleted) index; tombstones are then filtered out.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from server.storage.interface import Event, KeyValue
from server.storage.sqlite_schema import connect, prefix_end

T = TypeVar("T")

_GET_AT = (
    "SELECT id, deleted, create_revision, value FROM kv_log"
    " WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)
# The names' upper bound: a key is never greater than this (U+10FFFF is the last code point).
_NO_UPPER_BOUND = "\U0010ffff"


def _count_rows(lower: str) -> str:
    """SQL counting the names in a range whose latest row at a revision is not a tombstone.

    kine's shape (``MAX(id) ... GROUP BY name``); SQLite takes the bare ``deleted`` column from
    the row holding the maximum, and the (name, id, deleted) index covers it all.
    Parameters: lower bound, upper bound (exclusive), revision.
    """
    return (
        "SELECT COUNT(*) FROM (SELECT MAX(id) AS id, deleted FROM kv_log"
        f" WHERE name {lower} ? AND name < ? AND id <= ? GROUP BY name) WHERE deleted = 0"
    )


def _page_rows(lower: str) -> str:
    """SQL for a page of latest live rows, in name order.

    Walking the (name, id) index in order with a correlated MAX(id) per row returns rows already
    sorted, so a page of 500 stops after 500 keys and a full list needs no temporary B-tree:
    measured here 2.6 ms vs 35 ms (500 of 10k) and 50 ms vs 270 ms (all 10k, 1 KiB values)
    against the GROUP BY-and-join form. Parameters: lower bound, upper bound, revision, limit.
    """
    return (
        "SELECT l.name, l.value, l.create_revision, l.id FROM kv_log AS l"
        f" WHERE l.name {lower} ? AND l.name < ?"
        " AND l.id = (SELECT MAX(m.id) FROM kv_log AS m WHERE m.name = l.name AND m.id <= ?)"
        " AND l.deleted = 0 ORDER BY l.name LIMIT ?"
    )


_LIST_FROM = _page_rows(">=")
_LIST_AFTER = _page_rows(">")
_COUNT_FROM = _count_rows(">=")
_COUNT_AFTER = _count_rows(">")

_EVENTS = (
    "SELECT l.id, l.name, l.created, l.deleted, l.create_revision, l.prev_revision, l.value,"
    " p.value, p.create_revision"
    " FROM kv_log AS l LEFT JOIN kv_log AS p ON p.id = l.prev_revision AND l.created = 0"
    " WHERE l.id > ? AND l.id <= ? AND l.name >= ? AND l.name < ? ORDER BY l.id LIMIT ?"
)


def get_at(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    row = conn.execute(_GET_AT, (key, revision)).fetchone()
    if row is None or row[1]:
        return None
    return KeyValue(key, row[3], row[2], row[0])


def list_at(
    conn: sqlite3.Connection, prefix: str, revision: int, *, start_after: str, limit: int
) -> tuple[list[KeyValue], int]:
    """Live keys under ``prefix`` after ``start_after`` at ``revision``: (page, how many follow)."""
    upper = prefix_end(prefix) or _NO_UPPER_BOUND
    if start_after >= prefix:
        sql, lower = _LIST_AFTER, start_after
    else:
        sql, lower = _LIST_FROM, prefix
    rows = conn.execute(sql, (lower, upper, revision, limit + 1 if limit else -1)).fetchall()
    items = [KeyValue(name, value, created, mod) for name, value, created, mod in rows]
    if not limit or len(items) <= limit:
        return items, 0
    del items[limit:]
    # Only a truncated page pays for counting the rest (metadata.remainingItemCount).
    (remaining,) = conn.execute(_COUNT_AFTER, (items[-1].key, upper, revision)).fetchone()
    return items, int(remaining)


def count_live(conn: sqlite3.Connection, prefix: str, revision: int) -> int:
    upper = prefix_end(prefix) or _NO_UPPER_BOUND
    (total,) = conn.execute(_COUNT_FROM, (prefix, upper, revision)).fetchone()
    return int(total)


def events_between(
    conn: sqlite3.Connection, prefix: str, after_revision: int, up_to: int, *, limit: int
) -> list[Event]:
    """Up to ``limit`` logged changes under ``prefix`` in ``(after_revision, up_to]``, in order."""
    upper = prefix_end(prefix) or _NO_UPPER_BOUND
    rows = conn.execute(_EVENTS, (after_revision, up_to, prefix, upper, limit)).fetchall()
    return [_event(row) for row in rows]


def _event(row: Any) -> Event:
    rev, name, created, deleted, create_rev, prev_rev, value, prev_value, prev_create = row
    if deleted:
        # A tombstone carries the deleted value; the version it ended had the same value.
        prev = KeyValue(name, value, create_rev, prev_rev)
        return Event("DELETE", KeyValue(name, value, create_rev, rev), prev)
    kv = KeyValue(name, value, create_rev, rev)
    if created or prev_value is None:
        return Event("PUT", kv, None)
    return Event("PUT", kv, KeyValue(name, prev_value, prev_create, prev_rev))


class ReadPool:
    """A few threads, each with its own read-only connection, that run read queries."""

    def __init__(self, path: str, *, threads: int) -> None:
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite-read")

    async def run(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: query(self._connection(), *args, **kwargs))

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Wait for running queries, then close every connection."""
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
