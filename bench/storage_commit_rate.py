"""How fast the SQLite storage backend writes and lists, against the raw SQLite commit rate.

The raw rate (plain sqlite3, WAL, synchronous=NORMAL, one row per commit) is the ceiling a
one-commit-per-write design would hit; group commit should let 64 concurrent writers through
the backend reach a good fraction of it (target: at least 25%). Run:

    .venv/bin/python bench/storage_commit_rate.py [--loop asyncio|uvloop] [--writes N]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.storage.sqlite import SqliteBackend

VALUE = b"x" * 1024  # about the size of a small Pod's JSON


def raw_commit_rate(path: Path, writes: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value BLOB)")
    started = time.perf_counter()
    for i in range(writes):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (name, value) VALUES (?, ?)", (f"/k/{i}", VALUE))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return writes / elapsed


async def backend_create_rate(path: Path, writes: int, concurrency: int) -> tuple[float, float]:
    """Creates per second through SqliteBackend, and writes per transaction achieved."""
    store = SqliteBackend(str(path))
    await store.start()
    per_worker = writes // concurrency

    async def worker(index: int) -> None:
        for serial in range(per_worker):
            await store.create(f"/registry/pods/w{index}/{serial:06d}", VALUE)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    transactions, committed = store.commit_counts
    await store.close()
    return per_worker * concurrency / elapsed, committed / max(transactions, 1)


async def list_time(path: Path, keys: int) -> tuple[float, float, float]:
    """Seconds to list ``keys`` keys at once, one 500-key page, and to count them (best of 5)."""
    store = SqliteBackend(str(path))
    await store.start()
    await asyncio.gather(*(store.create(f"/registry/configmaps/k{i:06d}", VALUE) for i in range(keys)))
    # A second version of every tenth key, as a store that has seen updates holds.
    for i in range(0, keys, 10):
        key = f"/registry/configmaps/k{i:06d}"
        current = await store.get(key)
        assert current is not None
        await store.update(key, VALUE, expected_revision=current.mod_revision)
    full = page = counting = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        result = await store.list("/registry/configmaps/")
        full = min(full, time.perf_counter() - started)
        assert len(result.items) == keys
        started = time.perf_counter()
        first = await store.list("/registry/configmaps/", limit=500)
        page = min(page, time.perf_counter() - started)
        assert first.remaining == keys - 500
        started = time.perf_counter()
        assert await store.count("/registry/configmaps/") == keys
        counting = min(counting, time.perf_counter() - started)
    await store.close()
    return full, page, counting


async def backend_figures(folder: Path, writes: int) -> None:
    rate, batch = await backend_create_rate(folder / "one.db", writes // 4, 1)
    print(f"sqlite_backend_creates_1_writer: {rate:.0f} creates/s")
    rate, batch = await backend_create_rate(folder / "many.db", writes, 64)
    print(f"sqlite_backend_creates_64_writers: {rate:.0f} creates/s")
    print(f"sqlite_backend_writes_per_transaction_64_writers: {batch:.1f} writes")
    full, page, counting = await list_time(folder / "list.db", 10_000)
    print(f"sqlite_backend_list_10k_keys: {full * 1000:.1f} ms")
    print(f"sqlite_backend_list_first_500_of_10k: {page * 1000:.1f} ms")
    print(f"sqlite_backend_count_10k_keys: {counting * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--writes", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        raw = raw_commit_rate(folder / "raw.db", args.writes)
        print(f"raw_sqlite_single_row_commits: {raw:.0f} commits/s")
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(backend_figures(folder, args.writes))
        else:
            asyncio.run(backend_figures(folder, args.writes))


if __name__ == "__main__":
    main()
