"""The writer child of the crash tests, and the parent's handle on it.

``python test/storage/crash_writer.py STORAGE_URL`` opens the store with ``open_backend`` and makes
creates from 32 concurrent writers, printing ``key revision`` after each create returned (its
acknowledgement), until killed. A create that failed because the store was unreachable is retried
with the same key, as a client retries; one refused as existing (an earlier attempt committed but
its answer was lost) is not acknowledged. `WriterChild` runs it and collects the acknowledgements,
including the complete lines still in the pipe when it was killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(__file__).resolve())
WRITERS = 32


async def _write_forever(url: str) -> None:
    from server.storage import open_backend
    from server.storage.interface import KeyExistsError, StorageError

    store = open_backend(url)
    await store.start()

    async def writer(worker: int) -> None:
        serial = 0
        while True:
            key = f"/crash/{worker}/{serial}"
            try:
                revision = await store.create(key, key.encode())
            except KeyExistsError:
                serial += 1
                continue
            except StorageError:
                await asyncio.sleep(0.05)
                continue
            sys.stdout.write(f"{key} {revision}\n")
            sys.stdout.flush()
            serial += 1

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))


class WriterChild:
    """One running writer child; ``acknowledged`` maps each acknowledged key to its revision."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.acknowledged: dict[str, int] = {}

    @classmethod
    async def start(cls, url: str) -> WriterChild:
        process = await asyncio.create_subprocess_exec(
            sys.executable, SCRIPT, url, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=asyncio.subprocess.PIPE)
        return cls(process)

    def _take(self, line: str) -> None:
        key, revision = line.split()
        self.acknowledged[key] = int(revision)

    async def read(self, count: int) -> None:
        """Wait for ``count`` more acknowledgements."""
        assert self._process.stdout is not None
        target = len(self.acknowledged) + count
        while len(self.acknowledged) < target:
            line = await asyncio.wait_for(self._process.stdout.readline(), 30)
            assert line, "the writer child exited early"
            self._take(line.decode())

    async def kill(self) -> None:
        """SIGKILL; lines already in the pipe were acknowledged before it, a torn last one not."""
        assert self._process.stdout is not None
        if self._process.returncode is None:
            os.kill(self._process.pid, signal.SIGKILL)
        await self._process.wait()
        for tail_line in (await self._process.stdout.read()).decode().splitlines(keepends=True):
            if tail_line.endswith("\n"):
                self._take(tail_line)
        assert self._process.returncode == -signal.SIGKILL


if __name__ == "__main__":
    asyncio.run(_write_forever(sys.argv[1]))
