"""One etcd watch stream behind the storage contract's ``watch``: replay from a revision, follow,
survive a lost member, and hand events to a bounded buffer.

etcd does the hard part (history from ``start_revision``, then live writes, in revision order,
with ``prev_kv``). What this module adds is what etcd's own Go client adds around it: when the
stream breaks (member killed, leader lost — the watch asks for a leader as upstream's
``WithRequireLeader``), it is opened again from the revision after the last event delivered, so
the consumer sees neither a gap nor a repeat; only compaction of that revision ends the watch,
with CompactedError (the API's 410). A pump task reads the stream into a `Watcher` buffer; a
consumer that falls too far behind is ended with CompactedError, like the other backends, rather
than letting gRPC's flow control stall the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aetcd import rpc
from grpc import aio

from server.storage.etcd_connection import is_transient, storage_error
from server.storage.interface import CompactedError, Event, KeyValue, StorageError
from server.storage.watchers import Watcher

logger = logging.getLogger(__name__)

# etcd cancels the watch when its member has no leader, instead of leaving it silent.
_REQUIRE_LEADER = (("hasleader", "true"),)
_RETRY_FIRST, _RETRY_MAX = 0.1, 2.0
_DELETE = 1  # mvccpb.Event.EventType.DELETE


def key_range(prefix: str) -> tuple[bytes, bytes]:
    """The etcd range ``[key, range_end)`` holding every key that starts with ``prefix``."""
    if not prefix:
        return b"\0", b"\0"  # etcd's "every key"
    start = prefix.encode()
    end = bytearray(start)
    for i in reversed(range(len(end))):
        if end[i] < 0xFF:
            end[i] += 1
            return start, bytes(end[: i + 1])
    return start, b"\0"


def key_value(kv: Any) -> KeyValue:
    """An etcd ``mvccpb.KeyValue`` as ours."""
    return KeyValue(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision)


def event_of(raw: Any) -> Event:
    """An etcd watch event as ours. A DELETE carries the deleted value, taken from ``prev_kv``."""
    prev = key_value(raw.prev_kv) if raw.HasField("prev_kv") else None
    if raw.type == _DELETE:
        key, revision = raw.kv.key.decode(), raw.kv.mod_revision
        if prev is None:  # the previous version was compacted away: the delete still happened
            return Event("DELETE", KeyValue(key, b"", 0, revision), None)
        return Event("DELETE", KeyValue(key, prev.value, prev.create_revision, revision), prev)
    return Event("PUT", key_value(raw.kv), prev)


class EtcdWatch:
    """Follows ``prefix`` after ``after_revision`` into ``watcher`` until stopped or compacted."""

    def __init__(self, stub: rpc.WatchStub, prefix: str, *, after_revision: int, watcher: Watcher,
                 on_compacted: Callable[[int], None]) -> None:
        self._stub = stub
        self._range = key_range(prefix)
        self._next = after_revision + 1
        self._watcher = watcher
        self._on_compacted = on_compacted

    async def pump(self) -> None:
        """Read streams into the watcher, reopening after transient failures; ends the watcher
        with the error that stopped it (never returns normally while the watcher wants events)."""
        delay = _RETRY_FIRST
        while not self._watcher.ended:
            try:
                delivered = await self._follow_once()
            except aio.AioRpcError as e:
                if not is_transient(e):
                    self._watcher.end(storage_error(e, revision=self._next - 1))
                    return
                logger.warning("etcd watch from revision %d lost (%s); reopening", self._next, e.code().name)
                delivered = False
            except StorageError as e:
                self._watcher.end(e)
                return
            if self._watcher.ended:
                return
            delay = _RETRY_FIRST if delivered else min(delay * 2, _RETRY_MAX)
            await asyncio.sleep(delay)

    async def _follow_once(self) -> bool:
        """One stream; returns whether it delivered anything before it ended (server closed it)."""
        key, range_end = self._range
        create = rpc.WatchCreateRequest(key=key, range_end=range_end, start_revision=self._next,
                                        prev_kv=True)
        call = self._stub.Watch(metadata=_REQUIRE_LEADER)
        delivered = False
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                response = await call.read()
                if response is aio.EOF:
                    return delivered
                if response.compact_revision:
                    self._on_compacted(response.compact_revision)
                    raise CompactedError(self._next - 1, response.compact_revision)
                if response.canceled:
                    # "etcdserver: no leader" and the like: reopen (on another member).
                    logger.warning("etcd cancelled the watch: %s", response.cancel_reason)
                    return delivered
                for raw in response.events:
                    if not self._watcher.offer(event_of(raw)):
                        return delivered  # dropped: the watcher has ended itself
                    self._next = raw.kv.mod_revision + 1
                    delivered = True
        finally:
            call.cancel()


async def consume(watcher: Watcher, pump: asyncio.Task[None]) -> AsyncIterator[Event]:
    """The watcher's events for the consumer; stops the pump when the consumer is done."""
    try:
        while (event := await watcher.next()) is not None:
            yield event
    finally:
        watcher.end()
        pump.cancel()
        # The pump's own cancellation is expected; the consumer's is not swallowed (gather raises).
        await asyncio.gather(pump, return_exceptions=True)
