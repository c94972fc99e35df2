"""The SQLite log table that holds every revision, and how connections to it are opened.

Modelled on kine's SQL backend: one append-only table whose INTEGER PRIMARY KEY *is* the revision
(AUTOINCREMENT, so a revision number is never reused even after compaction deletes the newest
row), and ``UNIQUE(name, prev_revision)`` so that the database itself refuses two writes based on
the same previous version (a lost update) even if the application check were ever bypassed.

A row is one change: ``created`` marks the write that made the key exist, ``deleted`` marks a
tombstone (which carries the deleted value, so a DELETE event can be rebuilt from it), and
``prev_revision`` points at the row it replaced (0 for the first create of a name).
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    UNIQUE (name, prev_revision)
);
-- (name, id) finds a key's latest row at a revision; ``deleted`` rides along so that counting
-- live keys reads the index alone.
CREATE INDEX IF NOT EXISTS kv_log_name_id ON kv_log (name, id, deleted);
CREATE TABLE IF NOT EXISTS kv_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

COMPACTED_META = "compacted_revision"

# Busy timeout only matters if another process opens the file; ours never blocks on itself.
_BUSY_TIMEOUT_MS = 5000


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=NORMAL.

    In WAL mode synchronous=NORMAL syncs at checkpoints, not per commit: a committed transaction
    survives the process being killed (it is in the WAL file the OS holds), though not a power
    loss of the machine — the trade etcd's embedded users and kine's SQLite default also make.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=64)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def recover(conn: sqlite3.Connection) -> tuple[int, int]:
    """The (current, compacted) revisions stored in the file.

    The current revision is the AUTOINCREMENT high-water mark rather than ``MAX(id)``: compaction
    may delete the newest row (a tombstone), and the revision must not go backwards.
    """
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv_log'").fetchone()
    current = int(row[0]) if row is not None else 0
    row = conn.execute("SELECT value FROM kv_meta WHERE name = ?", (COMPACTED_META,)).fetchone()
    compacted = int(row[0]) if row is not None else 0
    return current, compacted


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None for "").

    Keys compare as UTF-8 bytes in SQLite and by code point in Python; both orders agree.
    """
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
