"""Durability and group commit of the SQLite backend, with a real process crash.

Covers: a child process doing concurrent creates is killed with SIGKILL; every create it had
acknowledged (printed after ``create`` returned) is in the reopened file, revisions have no gap
or repeat, and the store continues from the right revision. Also that concurrent writes are
committed in shared transactions (group commit) and all of them are readable afterwards.

Leaves out: power loss (synchronous=NORMAL in WAL mode does not promise survival of that, by
design), disk-full and I/O errors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from crash_writer import WriterChild

from server.storage.interface import RevisionConflictError
from server.storage.sqlite import SqliteBackend

ACKNOWLEDGED_BEFORE_KILL = 600


async def run_until_killed(path: Path) -> dict[str, int]:
    """Run the writer child, kill -9 it mid-stream; returns every acknowledged key → revision."""
    child = await WriterChild.start(f"sqlite://{path}")
    try:
        await child.read(ACKNOWLEDGED_BEFORE_KILL)
    finally:
        await child.kill()
    return child.acknowledged


async def test_every_acknowledged_create_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    acknowledged = await run_until_killed(path)

    store = SqliteBackend(str(path))
    await store.start()
    try:
        current = await store.current_revision()
        listed = await store.list("/crash/")
        stored = {kv.key: kv for kv in listed.items}
        for key, revision in acknowledged.items():
            kv = stored.get(key)
            assert kv is not None, f"acknowledged {key} lost"
            assert (kv.value, kv.mod_revision, kv.create_revision) == (key.encode(), revision, revision)
        # Only creates were made: revisions 1..current each belong to exactly one stored key.
        assert sorted(kv.mod_revision for kv in listed.items) == list(range(1, current + 1))
        assert current >= max(acknowledged.values())
        assert await store.create("/after/crash", b"x") == current + 1
    finally:
        await store.close()


async def test_concurrent_writes_share_transactions(tmp_path: Path) -> None:
    store = SqliteBackend(str(tmp_path / "batch.db"))
    await store.start()
    try:
        keys = [f"/batch/{i:02d}" for i in range(64)]
        revisions = await asyncio.gather(*(store.create(key, key.encode()) for key in keys))
        assert sorted(revisions) == list(range(1, 65))
        transactions, writes = store.commit_counts
        assert writes == 64
        assert transactions <= 8, f"64 concurrent creates took {transactions} transactions"
        listed = await store.list("/batch/")
        assert [(kv.key, kv.value) for kv in listed.items] == [(k, k.encode()) for k in keys]
        # Conflicting writes in one batch: exactly one of many racing updates of a key wins.
        outcomes = await asyncio.gather(
            *(store.update(keys[0], b"racer", expected_revision=revisions[0]) for _ in range(16)),
            return_exceptions=True,
        )
        assert sum(isinstance(outcome, int) for outcome in outcomes) == 1
        assert sum(isinstance(outcome, RevisionConflictError) for outcome in outcomes) == 15
    finally:
        await store.close()
