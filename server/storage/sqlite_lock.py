"""One API server per SQLite file: an exclusive lock on ``FILE.lock`` held while the store is open.

The SQLite backend keeps its revision counter and wakes its watchers in its own process, so a
second process writing the same file would hand out revisions twice and its writes would never
reach the first one's watchers: the store would be corrupt. Several API servers need etcd; the
embedded store says so at start-up instead. ``flock`` is released by the kernel when the holder
exits in any way, kill -9 included, so a crashed server never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from server.storage.interface import StorageError


class StoreInUseError(StorageError):
    """Another process holds the SQLite file."""


class SqliteFileLock:
    """The lock file beside one database file."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreInUseError naming the holder (blocking open: call in a thread)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreInUseError(
                f"the SQLite store {self.path.removesuffix('.lock')} is in use by another API server "
                f"(pid {holder}): SQLite serves one API server only; run several on etcd "
                "(--storage etcd://host:port)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None
