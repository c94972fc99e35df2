"""The revisioned key-value storage layer: the contract, its backends, and how to pick one by URL.

The API server is configured with a storage URL (``--storage``); ``open_backend`` turns it into a
backend that is not yet started (the caller awaits ``start()`` in its start-up hook). etcd's TLS
files (``--etcd-cafile``, ``--etcd-certfile``, ``--etcd-keyfile``) travel beside the URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from server.storage.etcd_connection import EtcdTLS
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
    "EtcdTLS",
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


def open_backend(url: str, *, etcd_tls: EtcdTLS | None = None) -> Backend:
    """``sqlite:///abs/path.db`` → SqliteBackend on that file; ``memory://`` → MemoryBackend;
    ``etcd://host:port[,host:port...]`` → EtcdBackend on those members (TLS with ``etcd_tls``)."""
    parts = urlsplit(url)
    if parts.scheme == "etcd":
        from server.storage.etcd import EtcdBackend
        from server.storage.etcd_connection import parse_etcd_url

        return EtcdBackend(parse_etcd_url(url), tls=etcd_tls)
    if parts.scheme == "memory":
        from server.storage.memory import MemoryBackend

        return MemoryBackend()
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"sqlite storage URL needs an absolute path (sqlite:///abs/path.db): {url}")
        from server.storage.sqlite import SqliteBackend

        return SqliteBackend(parts.path)
    raise ValueError(f"unsupported storage URL {url!r} (expected sqlite:///abs/path.db, "
                     "etcd://host:port[,host:port...] or memory://)")
