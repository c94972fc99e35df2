"""The revisioned key-value contract every storage backend implements.

Shaped like etcd v3 (and kine's Backend) so that an etcd backend is a drop-in: one global revision
counter that every write advances; reads at a revision; writes guarded by the expected
mod-revision of the key; a watch that replays history from a revision and then follows live
writes; compaction that forgets history older than a revision.

Values are opaque bytes (the API server stores serialized JSON). Keys are '/'-separated strings
such as ``/registry/pods/system/default/web``; listing is by key prefix, in key order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One version of one key, as etcd's mvccpb.KeyValue.

    Backends set only the first four fields. The value transformer between the registry and a
    backend (`server.storage.transforming`, encryption at rest) adds what upstream's etcd3 store
    learns from its transformer: ``stale`` when the value was read through a key other than the
    one that writes (a rewrite would change the stored bytes, so an unchanged update must still
    be written), and ``unreadable`` when the stored value could not be transformed at all (then
    ``value`` is empty and the text says why).
    """

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    stale: bool = False
    unreadable: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one key.

    ``type`` is ``"PUT"`` for a create or update and ``"DELETE"`` for a delete. ``kv`` is the new
    version; for a DELETE it carries the deleted value with ``mod_revision`` set to the revision of
    the delete. ``prev`` is the version that the change replaced (None for a create).
    """

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type == "PUT" and self.prev is None


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of a prefix listing, read at one consistent ``revision``.

    ``more`` says whether keys after the last returned one exist at that revision; ``remaining``
    counts them (as etcd's ``count - len(kvs)``), used for ``metadata.remainingItemCount``.
    """

    items: list[KeyValue]
    revision: int
    more: bool
    remaining: int


class StorageError(Exception):
    """Base of the storage layer's exception tree; the registry converts these to API Status."""


class UnreadableError(StorageError):
    """A stored value this server cannot read: it did not decrypt (``KeyValue.unreadable``) or it
    is not the JSON the registry wrote. The registry answers upstream's 500 for it."""


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflictError(StorageError):
    """The key's mod-revision is not the expected one; ``current`` is what is stored now."""

    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"revision conflict on {key}: now at {current.mod_revision}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision is older than the compacted revision (Kubernetes answers 410)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} is compacted (oldest kept: {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current: {current})")
        self.requested = requested
        self.current = current


class StorageUnavailableError(StorageError):
    """The store cannot be reached or has no quorum (etcd down, connection refused): the API
    answers 503, and the request may be retried."""


class StorageRequestTooLargeError(StorageError):
    """The store refused a write for its size (etcd's ``--max-request-bytes``, "etcdserver: request
    is too large"): the client's object is too big, so the API answers 413, not a server error."""


class StorageTimeoutError(StorageError):
    """The store did not answer within its deadline (etcd stalled, partitioned): the API answers
    504, as upstream answers a request whose storage call ran out of time."""


class Backend(Protocol):
    """What the API server needs from a store. All methods are coroutines except ``watch``."""

    async def start(self) -> None:
        """Open files/connections and recover; must be called before anything else."""

    async def close(self) -> None:
        """Flush and release everything; ends every open watch."""

    async def check_health(self) -> None:
        """Raise StorageUnavailableError / StorageTimeoutError when the store cannot serve now
        (the ``etcd`` check of /readyz, /livez and /healthz)."""

    async def current_revision(self) -> int:
        """The revision of the latest write (0 for an empty embedded store; an etcd cluster that
        was never written to is at revision 1, as etcd counts)."""

    async def compacted_revision(self) -> int:
        """The revision up to which history has been forgotten (0 if never compacted). On etcd,
        which does not report it, the mark this process has compacted to or been told of."""

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        """The key's version at ``revision`` (0 = latest), or None if absent then.

        Raises CompactedError / FutureRevisionError for revisions outside the kept history.
        """

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        """Keys starting with ``prefix`` and sorting after ``start_after``, in key order, as of
        ``revision`` (0 = latest). ``limit`` 0 means no limit."""

    async def count(self, prefix: str) -> int:
        """Live keys under ``prefix`` at the latest revision."""

    async def create(self, key: str, value: bytes) -> int:
        """Create an absent key; returns the new revision. Raises KeyExistsError."""

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace the key if its mod-revision is ``expected_revision``; returns the new revision.

        Raises KeyNotFoundError if absent, RevisionConflictError if changed since.
        """

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete the key (guarded by ``expected_revision`` unless 0); returns the deleted value
        with ``mod_revision`` set to the delete's revision. Raises KeyNotFoundError /
        RevisionConflictError."""

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        """Every change under ``prefix`` with revision > ``after_revision``, history first, then
        live, in revision order, until the iterator is closed or the store closes.

        Raises CompactedError (on first iteration) if ``after_revision`` < compacted revision.
        A watcher that falls too far behind is ended with CompactedError rather than blocking
        writers (kine drops slow watchers the same way); the caller re-lists.
        """

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``; latest versions of live keys are kept."""


def resolve_revision(requested: int, *, current: int, compacted: int) -> int:
    """The revision a read at ``requested`` (0 = latest) sees; raises when it is outside the kept
    history, as etcd's range does (ErrCompacted / ErrFutureRev)."""
    if requested == 0:
        return current
    if requested < compacted:
        raise CompactedError(requested, compacted)
    if requested > current:
        raise FutureRevisionError(requested, current)
    return requested
