"""Informer: keeps an indexed local cache of one resource in step with the API server.

This is client-go's reflector + indexer (``tools/cache/reflector.go``): list once, then watch from
the list's resourceVersion with ``allowWatchBookmarks``; when a watch ends (server timeout,
dropped connection) watch again from the last resourceVersion seen — events or bookmarks — and
only when the server answers 410 Gone (that version left its history) list again, replacing the
cache and emitting the differences as events. Handlers receive ``(event type, key)`` only: they
are meant to enqueue keys, and the worker that takes a key reads the object from the cache, so a
burst of events for one object costs one reconcile. The final state of a deleted object is kept
briefly as a tombstone so a handler can still map it to the keys it affects (its owner, tenant).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from client.cache import IndexedStore, IndexFunc, ObjectKey
from client.errors import ApiError, Gone
from client.resources import ResourceRef
from client.rest import ApiClient
from client.retry import RetryPolicy

log = logging.getLogger(__name__)

Handler = Callable[[str, ObjectKey], None]
Transform = Callable[[dict[str, Any]], dict[str, Any]]
_TOMBSTONES_KEPT = 4096
# client-go's reflector asks for watches of 5 to 10 minutes (minWatchTimeout, jittered) so that
# clients reconnect at different times and servers can rebalance.
_MIN_WATCH_TIMEOUT_S = 300


class Informer:
    """A reflector for one resource (optionally one tenant/namespace/selector) feeding an indexed
    store. Run it with `run` (as a supervised task); read with `get`, `objects`, `by_index`."""

    def __init__(self, client: ApiClient, ref: ResourceRef, *, tenant: str | None = None,
                 namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, indexers: dict[str, IndexFunc] | None = None,
                 watch_timeout_s: int | None = None, backoff: RetryPolicy | None = None,
                 transform: Transform | None = None) -> None:
        self.client = client
        self.ref = ref
        self.tenant = tenant
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = IndexedStore(indexers)
        self.resource_version = ""
        self.relists = 0  # how many times the cache was rebuilt by a list (first list included)
        self._watch_timeout_s = watch_timeout_s
        self._backoff = backoff or RetryPolicy(max_attempts=1_000_000, base_delay=0.2, max_delay=30.0)
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._tombstones: OrderedDict[ObjectKey, dict[str, Any]] = OrderedDict()
        # client-go's SetTransform: shrink objects before they are cached (the garbage collector
        # keeps only metadata of every resource, as upstream's metadata informers do).
        self._transform = transform

    def __repr__(self) -> str:
        scope = "/".join(p for p in (self.tenant, self.namespace) if p)
        return f"Informer({self.ref}{' in ' + scope if scope else ''})"

    # -- reading --------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first list has filled the cache."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self.store.get(key)

    def objects(self) -> list[dict[str, Any]]:
        return self.store.values()

    def by_index(self, index: str, value: str) -> list[dict[str, Any]]:
        return self.store.by_index(index, value)

    def last_state(self, key: ObjectKey) -> dict[str, Any] | None:
        """The cached object, or, for one deleted recently, its final state."""
        return self.store.get(key) or self._tombstones.get(key)

    def add_handler(self, handler: Handler) -> None:
        """``handler(event_type, key)`` for every change; called on the informer's task, so it
        must be quick (enqueue and return). Objects already cached are replayed as ADDED."""
        self._handlers.append(handler)
        for key in self.store:
            self._call(handler, "ADDED", key)

    # -- the reflector loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """List and watch until cancelled; never returns on its own."""
        need_list = True
        failures = 0
        while True:
            try:
                if need_list:
                    await self._list_and_replace()
                    need_list = False
                await self._watch_once()
                failures = 0
            except Gone:
                # The watch history no longer reaches our resourceVersion: only a list can tell
                # what happened meanwhile (client-go: "watch closed with: too old resource version").
                log.info("%r: resourceVersion %s expired; re-listing", self, self.resource_version)
                need_list = True
            except Exception as e:  # ApiError, or a malformed answer: back off, never give up
                failures += 1
                delay = self._backoff.delay(min(failures, 20))
                log.warning("%r: %s; retrying in %.1fs", self, e, delay,
                            exc_info=not isinstance(e, ApiError))
                await asyncio.sleep(delay)

    async def _list_and_replace(self) -> None:
        listed = await self.client.list_all(self.ref, tenant=self.tenant, namespace=self.namespace,
                                            label_selector=self.label_selector,
                                            field_selector=self.field_selector)
        raw_items = listed.get("items") or []
        if self._transform is not None:
            for obj in raw_items:
                _complete_type(obj, listed, self.ref)
            raw_items = [self._transform(obj) for obj in raw_items]
        items = {ObjectKey.of(obj): obj for obj in raw_items}
        events: list[tuple[str, ObjectKey]] = []
        for key in self.store.keys():
            if key not in items:
                self._forget(key)
                events.append(("DELETED", key))
        for key, obj in items.items():
            _complete_type(obj, listed, self.ref)
            old = self.store.put(key, obj)
            if old is None:
                events.append(("ADDED", key))
            elif _rv(old) != _rv(obj):
                events.append(("MODIFIED", key))
        self.resource_version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        self.relists += 1
        self._synced.set()
        for event_type, key in events:
            self._dispatch(event_type, key)

    async def _watch_once(self) -> None:
        timeout = self._watch_timeout_s or random.randint(_MIN_WATCH_TIMEOUT_S, 2 * _MIN_WATCH_TIMEOUT_S)
        stream = self.client.watch(self.ref, tenant=self.tenant, namespace=self.namespace,
                                   resource_version=self.resource_version,
                                   label_selector=self.label_selector,
                                   field_selector=self.field_selector, allow_bookmarks=True,
                                   timeout_seconds=timeout)
        async with contextlib.aclosing(stream):
            async for event_type, obj in stream:
                self._apply(event_type, obj)

    def _apply(self, event_type: str, obj: dict[str, Any]) -> None:
        rv = _rv(obj)
        if event_type == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        if self._transform is not None:
            obj = self._transform(obj)
        key = ObjectKey.of(obj)
        if event_type == "DELETED":
            self._forget(key, final_state=obj)
        else:
            self.store.put(key, obj)
        if rv:
            self.resource_version = rv
        self._dispatch(event_type, key)

    def _forget(self, key: ObjectKey, *, final_state: dict[str, Any] | None = None) -> None:
        old = self.store.remove(key)
        state = final_state or old
        if state is not None:
            self._tombstones[key] = state
            self._tombstones.move_to_end(key)
            while len(self._tombstones) > _TOMBSTONES_KEPT:
                self._tombstones.popitem(last=False)

    def _dispatch(self, event_type: str, key: ObjectKey) -> None:
        if event_type != "DELETED":
            self._tombstones.pop(key, None)
        for handler in self._handlers:
            self._call(handler, event_type, key)

    def _call(self, handler: Handler, event_type: str, key: ObjectKey) -> None:
        try:
            handler(event_type, key)
        except Exception:  # a broken handler must not stop the cache from following the server
            log.exception("%r: event handler failed for %s %s", self, event_type, key)


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _complete_type(obj: dict[str, Any], listed: dict[str, Any], ref: ResourceRef) -> None:
    """List items may omit apiVersion/kind (upstream's do); fill them in as watch events have them."""
    if "kind" not in obj and ref.kind:
        obj["kind"] = ref.kind
    if "apiVersion" not in obj:
        obj["apiVersion"] = listed.get("apiVersion") or ref.api_version
