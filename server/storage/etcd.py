"""The storage contract over etcd v3: the backend that lets several API servers share one store.

Everything the contract promises is etcd's own: revisions are etcd's revisions (so every server
sees the same ones), reads at a revision are etcd ranges at that revision, create-if-absent and
guarded update/delete are transactions comparing the key's ``mod_revision`` (as upstream's etcd3
store does in GuaranteedUpdate), watches are etcd watches (`server.storage.etcd_watch`), and
compaction is etcd's Compact. Keys are the same ``/registry/...`` strings the SQLite backend
stores. No revision counter or wake-up lives in this process: that is what makes it safe to run
several servers on one etcd.

Every call has a deadline; an unreachable etcd becomes StorageUnavailableError (503) and a stalled
one StorageTimeoutError (504), never a hang. The compacted revision is what this process knows:
its own compactions and what etcd reported (a watch's ``compact_revision``, a refused read);
etcd itself refuses reads below its real mark either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aetcd import rpc
from grpc import aio

from server.storage.etcd_connection import EtcdEndpoints, EtcdTLS, open_channel, storage_error
from server.storage.etcd_watch import EtcdWatch, consume, key_range, key_value
from server.storage.interface import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
)
from server.storage.watchers import Watcher

logger = logging.getLogger(__name__)

DEFAULT_WATCH_QUEUE = 10_000
DEFAULT_REQUEST_TIMEOUT = 10.0  # below the API's 60 s request timeout: answer 504 before it
DEFAULT_START_TIMEOUT = 30.0
HEALTH_TIMEOUT = 2.0  # upstream's --etcd-healthcheck-timeout
_READ_RETRY_DELAY = 0.05
# A key nobody writes: reading it answers the current revision in the response header.
_PROBE_KEY = b"\0"
_EQUAL, _GREATER = rpc.Compare.EQUAL, rpc.Compare.GREATER


def _mod_is(key: bytes, revision: int) -> Any:
    """The key's mod_revision is ``revision``, or (0) the key exists at all."""
    if revision:
        return rpc.Compare(key=key, target=rpc.Compare.MOD, result=_EQUAL, mod_revision=revision)
    return rpc.Compare(key=key, target=rpc.Compare.CREATE, result=_GREATER, create_revision=0)


class EtcdBackend:
    """The ``Backend`` contract on an etcd v3 cluster."""

    def __init__(self, endpoints: EtcdEndpoints, *, tls: EtcdTLS | None = None,
                 watch_queue_size: int = DEFAULT_WATCH_QUEUE,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.endpoints = endpoints
        self._tls = tls or EtcdTLS()
        self._watch_queue_size = watch_queue_size
        self._timeout = request_timeout
        self._start_timeout = start_timeout
        self._channel: aio.Channel | None = None
        self._kv: rpc.KVStub | None = None
        self._watch_stub: rpc.WatchStub | None = None
        self._watchers: set[Watcher] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._compacted = 0
        self._closed = False

    async def start(self) -> None:
        """Open the channel and wait (up to the start timeout) until etcd answers."""
        target = await asyncio.to_thread(self.endpoints.target)
        self._channel = open_channel(target, self.endpoints, self._tls)
        self._kv = rpc.KVStub(self._channel)
        self._watch_stub = rpc.WatchStub(self._channel)
        deadline = time.monotonic() + self._start_timeout
        while True:
            try:
                revision = await self.current_revision()
                break
            except StorageError as e:
                if time.monotonic() > deadline:
                    raise StorageUnavailableError(
                        f"etcd at {self.endpoints} did not answer within {self._start_timeout:.0f}s: {e}"
                    ) from e
                await asyncio.sleep(0.5)
        logger.info("etcd store %s opened at revision %d", self.endpoints, revision)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watcher in list(self._watchers):
            watcher.end()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()

    def _stub(self) -> rpc.KVStub:
        if self._kv is None or self._closed:
            raise StorageUnavailableError("storage is not open")
        return self._kv

    async def _call(self, method: str, request: Any, *, revision: int = 0, deadline: float = 0) -> Any:
        """One KV call with a deadline; gRPC failures become storage errors. A read refused as
        unavailable is tried once more (etcd's client retries ranges, its "repeatable" calls): the
        channel has moved on to another member by then. A write is never repeated here: it may
        have been applied."""
        call = getattr(self._stub(), method)
        try:
            try:
                return await call(request, timeout=deadline or self._timeout)
            except aio.AioRpcError as e:
                if method != "Range" or e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                await asyncio.sleep(_READ_RETRY_DELAY)
                return await call(request, timeout=deadline or self._timeout)
        except aio.AioRpcError as e:
            error = storage_error(e, revision=revision, compacted=self._compacted, write=method != "Range")
            if isinstance(error, FutureRevisionError):
                error = FutureRevisionError(revision, await self.current_revision())
            raise error from e

    async def check_health(self) -> None:
        # Upstream's etcd check: a linearizable read (it needs a leader and a quorum).
        await self._call("Range", rpc.RangeRequest(key=_PROBE_KEY), deadline=HEALTH_TIMEOUT)

    async def current_revision(self) -> int:
        response = await self._call("Range", rpc.RangeRequest(key=_PROBE_KEY, count_only=True))
        return int(response.header.revision)

    async def compacted_revision(self) -> int:
        return self._compacted

    def _learn_compacted(self, revision: int) -> None:
        self._compacted = max(self._compacted, revision)

    def _check_kept(self, revision: int) -> None:
        if revision and revision < self._compacted:
            raise CompactedError(revision, self._compacted)

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        self._check_kept(revision)
        response = await self._call("Range", rpc.RangeRequest(key=key.encode(), revision=revision),
                                    revision=revision)
        return key_value(response.kvs[0]) if response.kvs else None

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> ListResult:
        self._check_kept(revision)
        start, end = key_range(prefix)
        if start_after >= prefix and start_after:
            start = start_after.encode() + b"\0"  # the first key after it
        request = rpc.RangeRequest(key=start, range_end=end, revision=revision, limit=limit)
        response = await self._call("Range", request, revision=revision)
        items = [key_value(kv) for kv in response.kvs]
        remaining = int(response.count) - len(items)
        # The header carries etcd's current revision; a read at a revision was read at that one.
        return ListResult(items=items, revision=revision or int(response.header.revision), more=remaining > 0,
                          remaining=remaining)

    async def count(self, prefix: str) -> int:
        start, end = key_range(prefix)
        response = await self._call("Range", rpc.RangeRequest(key=start, range_end=end, count_only=True))
        return int(response.count)

    # -- writes: transactions on mod_revision ----------------------------------------------------

    async def _txn(self, key: bytes, *, compare: Any, success: Any) -> Any:
        request = rpc.TxnRequest(compare=[compare], success=[success],
                                 failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key))])
        return await self._call("Txn", request)

    def _refused(self, key: str, response: Any) -> StorageError:
        """Why a guarded write's comparison failed: the key is gone, or it changed."""
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFoundError(key)
        return RevisionConflictError(key, key_value(kvs[0]))

    async def create(self, key: str, value: bytes) -> int:
        raw = key.encode()
        absent = rpc.Compare(key=raw, target=rpc.Compare.MOD, result=_EQUAL, mod_revision=0)
        response = await self._txn(raw, compare=absent,
                                   success=rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value)))
        if not response.succeeded:
            raise KeyExistsError(key)
        return int(response.header.revision)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        raw = key.encode()
        response = await self._txn(raw, compare=_mod_is(raw, expected_revision),
                                   success=rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value)))
        if not response.succeeded:
            raise self._refused(key, response)
        return int(response.header.revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        raw = key.encode()
        delete = rpc.DeleteRangeRequest(key=raw, prev_kv=True)
        response = await self._txn(raw, compare=_mod_is(raw, expected_revision),
                                   success=rpc.RequestOp(request_delete_range=delete))
        if not response.succeeded:
            raise self._refused(key, response)
        prev_kvs = response.responses[0].response_delete_range.prev_kvs
        if not prev_kvs:
            raise KeyNotFoundError(key)
        prev = key_value(prev_kvs[0])
        return KeyValue(key, prev.value, prev.create_revision, int(response.header.revision))

    async def compact(self, revision: int) -> None:
        if revision <= self._compacted:
            return
        try:
            await self._call("Compact", rpc.CompactionRequest(revision=revision), revision=revision)
        except CompactedError:
            pass  # another server compacted further already
        self._learn_compacted(revision)
        logger.info("compacted etcd up to revision %d", revision)

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        if self._closed or self._watch_stub is None:
            return
        watcher = Watcher(prefix, limit=self._watch_queue_size)
        follower = EtcdWatch(self._watch_stub, prefix, after_revision=after_revision, watcher=watcher,
                             on_compacted=self._learn_compacted)
        self._watchers.add(watcher)
        pump = asyncio.create_task(follower.pump(), name=f"etcd-watch {prefix}")
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        try:
            async for event in consume(watcher, pump):
                yield event
        finally:
            self._watchers.discard(watcher)
