"""The revisioned key-value storage layer: the contract, its backends, and how to pick one by URL.

The API server is configured with a storage URL (``--storage``); ``open_backend`` turns it into a
backend that is not yet started (the caller awaits ``start()`` in its start-up hook).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from server.storage.interface import (
    Backend,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    StorageError,
)

__all__ = [
    "Backend",
    "CompactedError",
    "Event",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "RevisionConflictError",
    "StorageError",
    "open_backend",
]


def open_backend(url: str) -> Backend:
    """``sqlite:///abs/path.db`` → SqliteBackend on that file; ``memory://`` → MemoryBackend."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        from server.storage.memory import MemoryBackend

        return MemoryBackend()
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"sqlite storage URL needs an absolute path (sqlite:///abs/path.db): {url}")
        from server.storage.sqlite import SqliteBackend

        return SqliteBackend(parts.path)
    raise ValueError(f"unsupported storage URL {url!r} (expected sqlite:///abs/path.db or memory://)")
