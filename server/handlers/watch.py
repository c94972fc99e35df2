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
from typing import Any

import orjson
from aiohttp import web

from apis import tables
from apis.catalogue import Resource
from server.handlers import codec
from server.handlers.params import bool_param, int_param, list_options
from server.registry.keys import Scope, list_prefix, object_key
from server.registry.lister import ListOptions
from server.watchcache import TooOldResourceVersion, WatchCache, Watcher, WatchEvent

log = logging.getLogger(__name__)

_BOOKMARK_INTERVAL = 5.0
_DEFAULT_TIMEOUT = 1800
_QUEUE_SIZE = 1000


class WatchServer:
    def __init__(self, cache: WatchCache, *, bookmark_interval: float = _BOOKMARK_INTERVAL) -> None:
        self._cache = cache
        self._bookmark_interval = bookmark_interval

    async def serve(self, request: web.BaseRequest, resource: Resource, scope: Scope,
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
        await response.prepare(request)
        cache = self._cache.resource(resource.key_segment)
        prefix = object_key(resource, scope, name) if name else list_prefix(resource, scope)
        try:
            watcher = cache.watch(prefix, after_revision=after, predicate=_predicate(options, name),
                                  queue_size=_QUEUE_SIZE)
        except TooOldResourceVersion as e:
            await response.write(_error_event(e))
            return response
        start_revision = self._cache.revision
        try:
            if initial_end:
                await self._send_initial_events(response, resource, watcher, start_revision)
            await self._pump(response, resource, watcher, media, duration=timeout, bookmarks=bookmarks,
                             include_object=query.get("includeObject", "Metadata"))
        except ConnectionResetError:
            log.debug("watch client on %s went away", prefix)
        finally:
            cache.stop(watcher)
        return response

    @staticmethod
    async def _send_initial_events(response: web.StreamResponse, resource: Resource, watcher: Watcher,
                                   revision: int) -> None:
        """The synthetic ADDED events were queued at registration; send them, then the marker."""
        for _ in range(watcher.queue.qsize()):
            event = watcher.queue.get_nowait()
            if event is not None:
                await response.write(_json_event(event))
        await response.write(_bookmark(resource, revision, initial_events_end=True))

    async def _pump(self, response: web.StreamResponse, resource: Resource, watcher: Watcher,
                    media: codec.MediaType, *, duration: int, bookmarks: bool, include_object: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        first_table = True
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            wait = min(remaining, self._bookmark_interval)
            try:
                event = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if bookmarks:
                    await response.write(_bookmark(resource, self._cache.revision))
                continue
            if event is None or (watcher.closed and watcher.queue.empty()):
                return
            if media.as_kind == "Table":
                await response.write(_table_event(resource, event, include_object, first_table))
                first_table = False
            else:
                await response.write(_json_event(event))
            # Drain whatever else is queued without yielding per event.
            while not watcher.queue.empty():
                event = watcher.queue.get_nowait()
                if event is None:
                    return
                if media.as_kind == "Table":
                    await response.write(_table_event(resource, event, include_object, False))
                else:
                    await response.write(_json_event(event))


def _revision(value: str) -> int:
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def _predicate(options: ListOptions, name: str) -> Any:
    label_selector = options.label_selector if options.label_selector and not options.label_selector.empty \
        else None
    field_selector = options.field_selector if options.field_selector and not options.field_selector.empty \
        else None
    if label_selector is None and field_selector is None:
        return None

    def matches(obj: dict[str, Any]) -> bool:
        if label_selector is not None and not label_selector.matches(
                obj.get("metadata", {}).get("labels") or {}):
            return False
        return field_selector is None or field_selector.matches(obj)

    return matches


def _json_event(event: WatchEvent) -> bytes:
    return b'{"type":"' + event.type.encode() + b'","object":' + event.object.raw + b"}\n"


def _table_event(resource: Resource, event: WatchEvent, include_object: str, with_columns: bool) -> bytes:
    table = tables.table_for(resource, [event.object.obj], include_object=include_object)
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
