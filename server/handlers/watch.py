"""Watch streams: newline-delimited JSON events served from the watch cache.

Upstream semantics (API concepts, "Efficient detection of changes"): resourceVersion unset or "0"
starts with synthetic ADDED events for the current state; a given resourceVersion replays every
change after it, or answers a single ERROR event with a 410 Status when it is older than the
cache's history; ``allowWatchBookmarks`` adds periodic BOOKMARK events; ``timeoutSeconds`` ends the
stream; ``sendInitialEvents`` marks the end of the initial state with the
``k8s.io/initial-events-end`` bookmark annotation.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import HttpVersion11, web

from apis.catalogue import Resource
from server.handlers import codec
from server.handlers.params import bool_param, int_param, list_options
from server.printing import tables
from server.registry.keys import ALL_TENANTS, Scope, list_prefix, object_key
from server.registry.record import ResourceRecord
from server.watchcache import CachedObject, Sink, TooOldResourceVersion, WatchCache, Watcher, WatchEvent

log = logging.getLogger(__name__)

_BOOKMARK_INTERVAL = 5.0
_DEFAULT_TIMEOUT = 1800
_PENDING_LIMIT = 1000  # live events that may wait while the backlog is being sent
_MAX_BUFFERED = 4 * 1024 * 1024  # unsent bytes a live watcher may have before it is dropped


class WatchServer:
    def __init__(self, cache: WatchCache, *, bookmark_interval: float = _BOOKMARK_INTERVAL) -> None:
        self._cache = cache
        self._bookmark_interval = bookmark_interval

    async def serve(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope,
                    name: str) -> web.StreamResponse:
        media = codec.negotiate(request, allow_as=("Table",))
        query = request.query
        options = list_options(resource, query)
        timeout = int_param(query, "timeoutSeconds", 0) or random.randint(_DEFAULT_TIMEOUT // 2,
                                                                          _DEFAULT_TIMEOUT)
        bookmarks = bool_param(query, "allowWatchBookmarks")
        initial_end = bool_param(query, "sendInitialEvents")
        rv = options.resource_version
        after = None if rv in ("", "0") or initial_end else _revision(rv)

        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Cache-Control": "no-cache, private"})
        chunked = request.version >= HttpVersion11
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.force_close()  # HTTP/1.0: the stream ends when the connection does
        await response.prepare(request)
        cache = self._cache.resource(resource.key_segment)
        prefix = object_key(resource, scope, name) if name else list_prefix(resource, scope)
        try:
            predicate = options.predicate  # the list's own predicate (server.selection)
            watcher = cache.watch(prefix, after_revision=after,
                                  predicate=None if predicate.empty else predicate.matches,
                                  limit=_PENDING_LIMIT, selection=_selection(query, name))
        except TooOldResourceVersion as e:
            await response.write(_error_event(e))
            return response
        start_revision = self._cache.revision
        encode = _encoder(resource, media, query.get("includeObject", "Metadata"),
                          across_tenants=scope.tenant == ALL_TENANTS)
        try:
            await self._send_backlog(response, watcher, encode, len(watcher.pending))
            if initial_end:
                await response.write(_bookmark(resource, start_revision, initial_events_end=True))
            await self._send_backlog(response, watcher, encode, None)
            sink = _direct_sink(request, encode, chunked=chunked)
            if watcher.closed or not watcher.attach(sink):
                return response
            await self._idle(watcher, sink, resource, duration=timeout, bookmarks=bookmarks)
        except ConnectionResetError:
            log.debug("watch client on %s went away", prefix)
        finally:
            cache.stop(watcher)
        return response

    @staticmethod
    async def _send_backlog(response: web.StreamResponse, watcher: Watcher, encode: Encoder,
                            count: int | None) -> None:
        """Send ``count`` pending events (all when None), in batches, with flow control."""
        left = len(watcher.pending) if count is None else count
        while left > 0 and watcher.pending and not watcher.closed:
            batch: list[bytes] = []
            while left > 0 and watcher.pending and len(batch) < 256:
                batch.append(encode(watcher.pending.popleft()))
                left -= 1
            await response.write(b"".join(batch))

    async def _idle(self, watcher: Watcher, sink: Sink, resource: Resource, *, duration: int,
                    bookmarks: bool) -> None:
        """Live events go out through the sink; this only keeps time and sends bookmarks."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        while not watcher.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            watcher.wakeup.clear()
            try:
                # asyncio.timeout, not wait_for: no wrapper task per wait on this hot path, and no
                # cancellation lost (Python 3.11's wait_for can swallow one).
                async with asyncio.timeout(min(remaining, self._bookmark_interval)):
                    await watcher.wakeup.wait()
            except TimeoutError:
                if bookmarks and not watcher.closed:
                    bookmark = _bookmark(resource, self._cache.revision)
                    if not sink(WatchEvent("BOOKMARK", "", _NO_OBJECT, None, 0, wire=bookmark)):
                        return


Encoder = Callable[[WatchEvent], bytes]
_NO_OBJECT = CachedObject(key="", obj={}, raw=b"{}", revision=0)


def _encoder(resource: ResourceRecord, media: codec.MediaType, include_object: str, *,
             across_tenants: bool = False) -> Encoder:
    if media.as_kind != "Table":
        return WatchEvent.encoded
    first = True

    def encode_table(event: WatchEvent) -> bytes:
        nonlocal first
        if event.wire:  # bookmarks and errors come pre-encoded
            return event.wire
        line = _table_event(resource, event, include_object, first, across_tenants=across_tenants)
        first = False
        return line

    return encode_table


def _direct_sink(request: web.BaseRequest, encode: Encoder, *, chunked: bool) -> Sink:
    """Write events straight to the socket from the fan-out loop (no task per watcher).

    The response is already prepared with chunked transfer encoding; each event is framed as one
    chunk here, and aiohttp writes the terminating chunk when the handler returns. A client whose
    socket buffer passes ``_MAX_BUFFERED`` is too slow: the sink says so and the watcher is closed.
    """
    transport = request.transport
    shared_chunks = chunked and encode is WatchEvent.encoded  # one framed copy for every watcher

    def sink(event: WatchEvent) -> bool:
        if transport is None or transport.is_closing():
            return False
        if shared_chunks:
            transport.write(event.chunked())
        else:
            data = encode(event)
            transport.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        return transport.get_write_buffer_size() <= _MAX_BUFFERED

    return sink


def _selection(query: Any, name: str) -> tuple[str, str, str]:
    """What the watch's predicate depends on: watchers with equal selections filter alike."""
    return query.get("labelSelector", ""), query.get("fieldSelector", ""), name


def _revision(value: str) -> int:
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def _table_event(resource: ResourceRecord, event: WatchEvent, include_object: str, with_columns: bool, *,
                 across_tenants: bool = False) -> bytes:
    table = tables.table_for(resource, [event.object.obj], include_object=include_object,
                             across_tenants=across_tenants)
    table["metadata"] = {"resourceVersion": str(event.revision)}
    if not with_columns:
        table["columnDefinitions"] = []
    return orjson.dumps({"type": event.type, "object": table}) + b"\n"


def _bookmark(resource: Resource, revision: int, *, initial_events_end: bool = False) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
    return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _error_event(error: TooOldResourceVersion) -> bytes:
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": str(error), "reason": "Expired", "code": 410}
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"
