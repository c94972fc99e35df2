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
import os
import signal
import sys
from pathlib import Path

from server.storage.interface import RevisionConflictError
from server.storage.sqlite import SqliteBackend

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys
from server.storage.sqlite import SqliteBackend

async def main(path: str) -> None:
    store = SqliteBackend(path)
    await store.start()

    async def writer(worker: int) -> None:
        serial = 0
        while True:
            key = f"/crash/{worker}/{serial}"
            revision = await store.create(key, key.encode())
            sys.stdout.write(f"{key} {revision}\\n")
            sys.stdout.flush()
            serial += 1

    await asyncio.gather(*(writer(w) for w in range(32)))

asyncio.run(main(sys.argv[1]))
"""

ACKNOWLEDGED_BEFORE_KILL = 600


async def run_until_killed(path: Path) -> dict[str, int]:
    """Run the writer child, kill -9 it mid-stream; returns every acknowledged key → revision."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    acknowledged: dict[str, int] = {}
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            line = await asyncio.wait_for(child.stdout.readline(), 30)
            assert line, "the writer child exited early"
            key, revision = line.decode().split()
            acknowledged[key] = int(revision)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
    # Lines already in the pipe were acknowledged before the kill too; a torn last line was not.
    for tail_line in (await child.stdout.read()).decode().splitlines(keepends=True):
        if tail_line.endswith("\n"):
            key, revision = tail_line.split()
            acknowledged[key] = int(revision)
    assert child.returncode == -signal.SIGKILL
    return acknowledged


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
