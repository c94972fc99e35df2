"""The in-memory watch cache: every object of every resource, fed by one watch on the store.

Upstream's cacher keeps one cache per resource fed by its own etcd watch and serves watches (and,
since 1.31, consistent lists) from memory. We feed all resources from a single store watch on
``/registry/``: the store is written through one process, so one ordered stream is cheapest,
and a single global revision makes "wait until the cache has caught up with revision R" trivial.

Reads (GET, LIST, WATCH) are served from here; writes go to the store, then wait for the cache
to reach their revision so that a client always reads its own writes.

Each watcher has a bounded queue. A watcher that does not keep up is closed (the client re-lists
and re-watches, as with upstream's "too slow" watchers) instead of slowing the fan-out.

A stored value the server cannot read (it did not decrypt with the configured keys, or is not
JSON) is kept out of the objects and remembered per key with the reason, so a GET of it and a
LIST over it answer upstream's 500 while every other object is served; watchers get no event for
it (upstream's watch reports the error and skips the value).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson

from server.revision_reads import RevisionReads
from server.storage.interface import Backend, CompactedError, Event, KeyValue, StorageError, UnreadableError
from server.storage.keys import REGISTRY_PREFIX, segment_of

log = logging.getLogger(__name__)

Predicate = Callable[[dict[str, Any]], bool]
# Seconds between attempts to load from a store that cannot be reached.
_RELOAD_DELAY = 1.0


@dataclass(slots=True)
class CachedObject:
    """One object as served: the decoded dict (with resourceVersion) and its JSON bytes."""

    key: str
    obj: dict[str, Any]
    raw: bytes
    revision: int


@dataclass(slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    object: CachedObject
    prev: CachedObject | None
    revision: int
    wire: bytes = b""  # the JSON watch event line, encoded once for every watcher
    chunk: bytes = b""  # the same line framed as one HTTP/1.1 chunk, also made once

    def encoded(self) -> bytes:
        if not self.wire:
            self.wire = b'{"type":"' + self.type.encode() + b'","object":' + self.object.raw + b"}\n"
        return self.wire

    def chunked(self) -> bytes:
        """`encoded` as one chunk of a chunked response (the fan-out writes it to many sockets)."""
        if not self.chunk:
            line = self.encoded()
            self.chunk = b"%x\r\n%s\r\n" % (len(line), line)
        return self.chunk


class TooOldResourceVersion(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


def decode(kv: KeyValue, revision: int | None = None) -> CachedObject:
    """Decode a stored value and stamp ``metadata.resourceVersion`` (not stored, as upstream).

    Raises UnreadableError for a value the transformer could not read or that is not an object.
    """
    if kv.unreadable:
        raise UnreadableError(kv.unreadable)
    try:
        obj: dict[str, Any] = orjson.loads(kv.value)
    except orjson.JSONDecodeError as e:
        raise UnreadableError(f'unable to decode key "{kv.key}": {e}') from e
    if not isinstance(obj, dict):
        raise UnreadableError(f'unable to decode key "{kv.key}": not a JSON object')
    return adopt(kv, obj, kv.mod_revision if revision is None else revision)


def adopt(kv: KeyValue, obj: dict[str, Any], revision: int) -> CachedObject:
    """``obj`` (the decoded form of ``kv.value``, now owned by the cache) as served at ``revision``."""
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return CachedObject(key=kv.key, obj=obj, raw=orjson.dumps(obj), revision=revision)


Sink = Callable[[WatchEvent], bool]


@dataclass(eq=False)
class Watcher:
    """One client watch: a prefix, an optional object filter, and where its events go.

    Events first collect in ``pending`` (the initial state or replayed history, which the client
    drains with flow control); once the stream is live a ``sink`` writes each event straight to
    the client's connection from the fan-out loop, so a thousand watchers cost a thousand socket
    writes per event rather than a thousand task wake-ups. A sink that returns False, or more
    than ``limit`` pending events, marks the watcher too slow.
    """

    prefix: str
    predicate: Predicate | None
    limit: int
    # Watchers whose predicates are equal (same selectors) share a selection key, so the fan-out
    # evaluates a filter once per event and selection, not once per watcher.
    selection: Hashable | None = None
    pending: deque[WatchEvent] = field(default_factory=deque)
    sink: Sink | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def offer(self, event: WatchEvent, translations: dict[Hashable, WatchEvent | None] | None = None) -> bool:
        """Pass ``event`` on, translated for this watcher's filter; False when the watcher must go.
        ``translations`` remembers the translation per selection key over one fan-out."""
        if self.predicate is not None:
            if translations is None or self.selection is None:
                translated = self._translate(event)
            elif self.selection in translations:
                translated = translations[self.selection]
            else:
                translated = translations[self.selection] = self._translate(event)
            if translated is None:
                return True
            event = translated
        if self.sink is not None:
            return self.sink(event)
        if len(self.pending) >= self.limit:
            return False
        self.pending.append(event)
        self.wakeup.set()
        return True

    def _translate(self, event: WatchEvent) -> WatchEvent | None:
        """Upstream's filtered watch: an object entering the selection is ADDED, one leaving it
        DELETED, one outside it is not sent."""
        assert self.predicate is not None
        if event.type == "DELETED":
            return event if self.predicate(event.object.obj) else None
        now = self.predicate(event.object.obj)
        before = event.prev is not None and self.predicate(event.prev.obj)
        if now and before:
            return event
        if now:
            return event if event.type == "ADDED" else WatchEvent(
                "ADDED", event.key, event.object, event.prev, event.revision)
        if before:
            return WatchEvent("DELETED", event.key, event.object, event.prev, event.revision)
        return None

    def attach(self, sink: Sink) -> bool:
        """Deliver what is pending through ``sink``, then every later event directly."""
        while self.pending:
            if not sink(self.pending.popleft()):
                return False
        self.sink = sink
        return True


IndexFunc = Callable[[dict[str, Any]], list[str]]


class Index:
    """``value -> keys`` of the objects whose index function yields that value."""

    def __init__(self, index_values: IndexFunc) -> None:
        self.index_values = index_values
        self._keys: dict[str, set[str]] = {}

    def add(self, key: str, obj: dict[str, Any]) -> None:
        for value in self.index_values(obj):
            self._keys.setdefault(value, set()).add(key)

    def remove(self, key: str, obj: dict[str, Any]) -> None:
        for value in self.index_values(obj):
            keys = self._keys.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys[value]

    def update(self, key: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if old is not None:
            self.remove(key, old)
        if new is not None:
            self.add(key, new)

    def rebuild(self, objects: dict[str, CachedObject]) -> None:
        """Re-index from scratch, in place: whoever holds this index keeps a valid one."""
        self._keys.clear()
        for key, cached in objects.items():
            self.add(key, cached.obj)

    def keys(self, value: str) -> frozenset[str]:
        return frozenset(self._keys.get(value, ()))


@dataclass
class ResourceCache:
    """The objects and recent events of one storage segment (``/registry/{segment}/``)."""

    segment: str
    history_size: int
    objects: dict[str, CachedObject] = field(default_factory=dict)
    history: deque[WatchEvent] = field(default_factory=deque)
    oldest_revision: int = 0  # events with revision > oldest_revision are in history
    watchers: set[Watcher] = field(default_factory=set)
    revision: int = 0  # the last revision that changed this segment
    indexes: dict[str, Index] = field(default_factory=dict)
    # Keys whose stored value cannot be read, with the reason (served as 500, never as objects).
    unreadable: dict[str, str] = field(default_factory=dict)

    def reset(self, objects: dict[str, CachedObject], revision: int,
              unreadable: dict[str, str] | None = None) -> None:
        """Replace the contents after a (re)load: watchers must re-list, history restarts."""
        for watcher in list(self.watchers):
            self.stop(watcher)
        self.objects = objects
        self.unreadable = unreadable or {}
        self.history.clear()
        self.oldest_revision = revision
        self.revision = max(self.revision, revision)
        for index in self.indexes.values():
            index.rebuild(objects)

    def add_index(self, name: str, index_values: IndexFunc) -> Index:
        """Maintain ``value -> keys`` for ``index_values(obj)`` (client-go's indexers, server side)."""
        index = self.indexes.get(name)
        if index is None:
            index = self.indexes[name] = Index(index_values)
            for key, cached in self.objects.items():
                index.add(key, cached.obj)
        return index

    def apply(self, event: Event, decoded: dict[str, Any] | None = None) -> None:
        """``decoded``: the writer's own decoded form of a PUT's value, handed over (see
        `WatchCache.expect`), so the value need not be decoded again."""
        kv = event.kv
        self.revision = kv.mod_revision
        if event.type == "DELETE":
            gone = self.objects.pop(kv.key, None)
            self.unreadable.pop(kv.key, None)
            if gone is None:
                return  # nothing a client could see went away (an unreadable value was deleted)
            try:
                cached = decode(kv, kv.mod_revision)
            except UnreadableError:
                cached = gone  # another writer stored what we cannot read: the last one served
            watch_event = WatchEvent("DELETED", kv.key, cached, gone, kv.mod_revision)
        else:
            prev = self.objects.get(kv.key)
            try:
                cached = decode(kv) if decoded is None else adopt(kv, decoded, kv.mod_revision)
            except UnreadableError as e:
                self._forget_unreadable(kv.key, prev, str(e))
                return
            self.unreadable.pop(kv.key, None)
            self.objects[kv.key] = cached
            kind = "ADDED" if prev is None else "MODIFIED"
            watch_event = WatchEvent(kind, kv.key, cached, prev, kv.mod_revision)
        for index in self.indexes.values():
            index.update(kv.key, watch_event.prev.obj if watch_event.prev else None,
                         None if event.type == "DELETE" else cached.obj)
        self._remember(watch_event)
        self._fan_out(watch_event)

    def _forget_unreadable(self, key: str, prev: CachedObject | None, reason: str) -> None:
        """A new value nobody can read replaced ``prev``: reads of the key answer 500 from now on."""
        log.error("cannot serve %s: %s", key, reason)
        self.unreadable[key] = reason
        if prev is not None:
            del self.objects[key]
            for index in self.indexes.values():
                index.remove(key, prev.obj)

    def unreadable_under(self, prefix: str) -> str | None:
        """Why some value under ``prefix`` cannot be read, if one cannot (a list over it fails)."""
        return next((why for key, why in sorted(self.unreadable.items()) if key.startswith(prefix)), None)

    def _remember(self, event: WatchEvent) -> None:
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.oldest_revision = self.history.popleft().revision

    def _fan_out(self, event: WatchEvent) -> None:
        dropped: list[Watcher] = []
        translations: dict[Hashable, WatchEvent | None] = {}
        key = event.key
        for watcher in self.watchers:
            if key.startswith(watcher.prefix) and not watcher.offer(event, translations):
                dropped.append(watcher)
        for watcher in dropped:
            log.info("closing watcher on %s: it fell behind", watcher.prefix)
            self.stop(watcher)

    def snapshot(self, prefix: str) -> list[CachedObject]:
        """Live objects under ``prefix``, in key order."""
        items = [o for k, o in self.objects.items() if k.startswith(prefix)]
        items.sort(key=lambda o: o.key)
        return items

    def watch(self, prefix: str, *, after_revision: int | None, predicate: Predicate | None,
              limit: int, selection: Hashable | None = None) -> Watcher:
        """Register a watcher. ``after_revision`` None means: current state as ADDED, then live.
        ``selection`` names the predicate (equal for equal predicates), None: not shared."""
        watcher = Watcher(prefix, predicate, limit, selection)
        if after_revision is None:
            backlog = [WatchEvent("ADDED", o.key, o, None, o.revision) for o in self.snapshot(prefix)]
        else:
            if after_revision < self.oldest_revision:
                raise TooOldResourceVersion(after_revision, self.oldest_revision + 1)
            backlog = [e for e in self.history if e.revision > after_revision and e.key.startswith(prefix)]
        # The backlog always fits: the limit only bounds what piles up after it.
        watcher.limit += len(backlog)
        for event in backlog:
            watcher.offer(event)
        self.watchers.add(watcher)
        return watcher

    def stop(self, watcher: Watcher) -> None:
        if watcher.closed:
            return
        watcher.closed = True
        watcher.sink = None
        self.watchers.discard(watcher)
        watcher.wakeup.set()


class WatchCache:
    """All resource caches, fed from one store watch; tracks the global revision."""

    def __init__(self, store: Backend, *, history_size: int = 10_000) -> None:
        self._store = store
        self._history_size = history_size
        self._caches: dict[str, ResourceCache] = {}
        self.revision = 0
        self._waiters: list[tuple[int, int, asyncio.Future[bool]]] = []
        # Waiters by the tenth of a second their wait ends in (see `wait_for`).
        self._expiring: dict[int, list[asyncio.Future[bool]]] = {}
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        # key -> (the value being written, its decoded form): see `expect`.
        self._expected: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._revisions = RevisionReads(store.current_revision)

    def resource(self, segment: str) -> ResourceCache:
        cache = self._caches.get(segment)
        if cache is None:
            cache = ResourceCache(segment, self._history_size, oldest_revision=self.revision)
            self._caches[segment] = cache
        return cache

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def run(self) -> None:
        """Load everything, then follow the store forever (re-loading if the watch is lost)."""
        while True:
            try:
                await self._load()
            except StorageError as e:  # the store is down (etcd): keep trying, /readyz says so
                log.warning("watch cache cannot load from the store (%s); retrying", e)
                await asyncio.sleep(_RELOAD_DELAY)
                continue
            try:
                async for event in self._store.watch(REGISTRY_PREFIX, after_revision=self.revision):
                    self._apply(event)
            except CompactedError:
                log.warning("watch cache fell behind the store; reloading")
            except StorageError as e:
                log.warning("store watch ended (%s); reloading", e)
                await asyncio.sleep(_RELOAD_DELAY)
            else:
                return  # store closed

    async def _load(self) -> None:
        start_after = ""
        revision = 0
        fresh: dict[str, dict[str, CachedObject]] = {}
        unreadable: dict[str, dict[str, str]] = {}
        while True:
            page = await self._store.list(REGISTRY_PREFIX, revision=revision, start_after=start_after,
                                          limit=5000)
            revision = page.revision
            for kv in page.items:
                segment = segment_of(kv.key)
                try:
                    fresh.setdefault(segment, {})[kv.key] = decode(kv)
                except UnreadableError as e:
                    unreadable.setdefault(segment, {})[kv.key] = str(e)
            if not page.more or not page.items:
                break
            start_after = page.items[-1].key
        self.revision = revision
        self._expected.clear()  # what was handed over is decoded from the reloaded store instead
        for segment in set(self._caches) | set(fresh) | set(unreadable):
            self.resource(segment).reset(fresh.get(segment, {}), revision, unreadable.get(segment))
        for segment, broken in unreadable.items():
            log.error("%d stored %s cannot be read and will be answered with 500, e.g. %s",
                      len(broken), segment, next(iter(broken.values())))
        self._ready.set()
        self._wake(revision)

    def expect(self, key: str, value: bytes, obj: dict[str, Any]) -> None:
        """A writer hands over ``obj``, which ``value`` (about to be stored at ``key``) encodes:
        when the store's event carries this very ``value`` object, the cache adopts ``obj``
        instead of decoding the bytes again. From here on ``obj`` belongs to the cache (readers
        share its objects): the writer must neither change nor hand it out, only read it.
        A value the store changed on the way (encryption) is not this object and is decoded."""
        self._expected[key] = (value, obj)

    def unexpect(self, key: str, value: bytes) -> None:
        """The write of ``value`` failed: forget its hand-over (not a later writer's)."""
        expected = self._expected.get(key)
        if expected is not None and expected[0] is value:
            del self._expected[key]

    def _apply(self, event: Event) -> None:
        kv = event.kv
        segment = segment_of(kv.key)
        decoded = None
        expected = self._expected.get(kv.key) if self._expected else None
        if expected is not None and expected[0] is kv.value and event.type == "PUT":
            del self._expected[kv.key]
            decoded = expected[1]
        self.resource(segment).apply(event, decoded)
        self.revision = event.kv.mod_revision
        self._wake(self.revision)

    def _wake(self, revision: int) -> None:
        while self._waiters and self._waiters[0][0] <= revision:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(True)

    async def wait_for(self, revision: int, *, within: float = 3.0) -> bool:
        """Wait until the cache has applied ``revision``; False once ``within`` seconds (rounded
        up to a tenth) have passed without it."""
        if self.revision >= revision:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        heapq.heappush(self._waiters, (revision, next(self._seq), future))
        # Every write waits here: one timer per tenth of a second for all the waits ending in it,
        # not one per wait (an asyncio.timeout per write cost more than the rest of the wait).
        tick = math.ceil((loop.time() + within) * 10)
        expiring = self._expiring.get(tick)
        if expiring is None:
            expiring = self._expiring[tick] = []
            loop.call_at(tick / 10, self._expire, tick)
        expiring.append(future)
        return await future

    def _expire(self, tick: int) -> None:
        for future in self._expiring.pop(tick, ()):
            if not future.done():
                future.set_result(False)

    async def catch_up(self, *, within: float = 3.0) -> bool:
        """Wait until the cache holds every write the store had committed when called; False on
        timeout. Upstream's consistent read from the cache (waitUntilFreshAndBlock after reading
        etcd's current revision): with several API servers on one store, another server's write
        reaches this cache only through its store watch. Overlapping calls share their reads of
        the store's revision (server.revision_reads)."""
        return await self.wait_for(await self._revisions.current(), within=within)

    async def wait_ready(self) -> None:
        await self._ready.wait()
