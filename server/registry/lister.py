"""Lists: selectors, ``limit``/``continue`` over one consistent revision, resourceVersion semantics.

Upstream semantics (API concepts, "Efficient detection of changes" and "Retrieving large results
sets in chunks"): an unpaginated list is served from the watch cache; a paginated list pins the
revision of its first page and the continue token carries it, so later pages read the store at
that same revision; ``resourceVersionMatch=Exact`` reads the store at the given revision; a
continue token older than the compacted revision is answered 410 Expired.

Nothing here copies the objects it lists: a page holds references to the watch cache's objects,
whose JSON is encoded once per revision, and rows read back from the store at an older revision
reuse the cached object when it is still that revision. `count` tells flow control how many
objects a LIST of a scope will go through, to size its seats.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from apis.catalogue import Resource
from apis.selectors import FieldSelector, LabelSelector
from server.errors import BadRequest, Expired, InternalError
from server.registry.keys import Scope, list_prefix
from server.registry.store import raise_timeout
from server.selection import SelectionPredicate
from server.storage.interface import Backend, CompactedError, FutureRevisionError
from server.watchcache import CachedObject, WatchCache, decode


@dataclass(frozen=True, slots=True)
class ListOptions:
    label_selector: LabelSelector | None = None
    field_selector: FieldSelector | None = None
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""

    @property
    def predicate(self) -> SelectionPredicate:
        """Which objects the selectors pick: the same predicate a watch filters events with."""
        return SelectionPredicate.of(self.label_selector, self.field_selector)


@dataclass(slots=True)
class ListPage:
    items: list[CachedObject]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


def _encode_token(revision: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as e:
        raise BadRequest(f"continue key is not valid: {e}") from e


def _parse_revision(value: str) -> int:
    try:
        revision = int(value)
    except ValueError as e:
        raise BadRequest(f"Invalid value: {value!r}: resourceVersion must be an integer") from e
    if revision < 0:
        raise BadRequest(f"Invalid value: {value!r}: resourceVersion must not be negative")
    return revision


_COUNTS_KEPT = 4096


class Lister:
    def __init__(self, backend: Backend, cache: WatchCache) -> None:
        self._backend = backend
        self._cache = cache
        # (segment, prefix) -> (segment revision, objects): recounted only after a change.
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}

    def count(self, resource: Resource, scope: Scope) -> int:
        """Objects a LIST of ``scope`` would go through (before selectors), from the cache."""
        segment = self._cache.resource(resource.key_segment)
        prefix = list_prefix(resource, scope)
        key = (resource.key_segment, prefix)
        known = self._counts.get(key)
        if known is not None and known[0] == segment.revision:
            return known[1]
        counted = sum(1 for k in segment.objects if k.startswith(prefix))
        if len(self._counts) >= _COUNTS_KEPT:
            self._counts.clear()
        self._counts[key] = (segment.revision, counted)
        return counted

    async def list(self, resource: Resource, scope: Scope, options: ListOptions) -> ListPage:
        prefix = list_prefix(resource, scope)
        if options.continue_token:
            revision, start_after = _decode_token(options.continue_token)
            return await self._from_store(resource, prefix, revision, start_after, options)
        rv, match = options.resource_version, options.resource_version_match
        if match and match not in ("Exact", "NotOlderThan"):
            raise BadRequest(f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
                             '"Exact", "NotOlderThan"')
        if match and not rv:
            raise BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match == "Exact":
            return await self._from_store(resource, prefix, _parse_revision(rv), "", options)
        if rv == "0":
            return self._from_cache(resource, prefix, options, paginate=False)
        wanted = _parse_revision(rv) if rv else await self._backend.current_revision()
        if not await self._cache.wait_for(wanted):
            raise raise_timeout(wanted, self._cache.revision)
        return self._from_cache(resource, prefix, options, paginate=True)

    def _from_cache(self, resource: Resource, prefix: str, options: ListOptions, *,
                    paginate: bool) -> ListPage:
        revision = self._cache.revision
        cache = self._cache.resource(resource.key_segment)
        unreadable = cache.unreadable_under(prefix)
        if unreadable:  # upstream fails the whole list on a value it cannot transform
            raise InternalError.occurred(unreadable)
        snapshot = cache.snapshot(prefix)
        predicate = options.predicate
        matched = snapshot if predicate.empty else [o for o in snapshot if predicate.matches(o.obj)]
        if not paginate or options.limit <= 0 or len(matched) <= options.limit:
            return ListPage(matched, revision)
        page = matched[: options.limit]
        remaining = len(matched) - options.limit if predicate.empty else None
        return ListPage(page, revision, _encode_token(revision, page[-1].key), remaining)

    async def _from_store(self, resource: Resource, prefix: str, revision: int, start_after: str,
                          options: ListOptions) -> ListPage:
        try:
            return await self._read_pages(resource, prefix, revision, start_after, options)
        except CompactedError as e:
            if not options.continue_token:
                # An Exact read of a compacted revision (upstream interpretListError, not paging).
                raise Expired("The resourceVersion for the provided list is too old.") from e
            raise Expired(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter, or use the continue token "
                "in this response to retrieve the remainder of the results. Continuing with the "
                "provided token results in an inconsistent list - objects that were created, "
                "modified, or deleted between the time the first chunk was returned and now may "
                "show up in the list.") from e
        except FutureRevisionError as e:
            raise raise_timeout(e.requested, e.current) from e

    async def _read_pages(self, resource: Resource, prefix: str, revision: int, start_after: str,
                          options: ListOptions) -> ListPage:
        """Read store pages at ``revision`` until ``limit`` objects matched or the prefix ends."""
        predicate = options.predicate
        limit, unfiltered = options.limit, predicate.empty
        cached_objects = self._cache.resource(resource.key_segment).objects
        items: list[CachedObject] = []
        while True:
            # With a filter, read ahead more than needed: most rows may not match.
            want = 0 if limit <= 0 else (limit - len(items)) * (1 if unfiltered else 4)
            page = await self._backend.list(prefix, revision=revision, start_after=start_after,
                                            limit=want)
            revision = page.revision
            for index, kv in enumerate(page.items):
                start_after = kv.key
                if kv.unreadable:
                    raise InternalError.occurred(kv.unreadable)
                cached = cached_objects.get(kv.key)
                if cached is None or cached.revision != kv.mod_revision:
                    cached = decode(kv)  # an older revision than the cache holds: decode it once
                if not (unfiltered or predicate.matches(cached.obj)):
                    continue
                items.append(cached)
                if 0 < limit == len(items):
                    left_in_page = len(page.items) - index - 1
                    if not (page.more or left_in_page):
                        return ListPage(items, revision)
                    remaining = page.remaining + left_in_page if unfiltered else None
                    return ListPage(items, revision, _encode_token(revision, start_after), remaining)
            if not page.more:
                return ListPage(items, revision)
