"""server.watchcache.WatchCache.wait_for: a write's wait for the cache to reach its revision.

Covers: a revision already applied answers at once; a later one answers True as soon as the cache
applies it; a revision that never comes answers False once the wait's time is up (to a tenth of a
second), many waits sharing one timer; a cancelled wait leaves the others alone. Leaves out the
store feeding the cache (test_store_cached_updates.py, the component tests).
"""

from __future__ import annotations

import asyncio

import pytest

from server.storage.interface import Event, KeyValue
from server.storage.memory import MemoryBackend
from server.watchcache import WatchCache


def put(cache: WatchCache, revision: int) -> None:
    kv = KeyValue(f"/registry/configmaps/system/default/c{revision}", b'{"metadata":{}}', revision, revision)
    cache._apply(Event("PUT", kv, None))


async def test_an_applied_revision_answers_at_once() -> None:
    cache = WatchCache(MemoryBackend())
    put(cache, 1)
    assert await cache.wait_for(1) is True


async def test_a_later_revision_answers_when_applied() -> None:
    cache = WatchCache(MemoryBackend())
    waits = [asyncio.ensure_future(cache.wait_for(revision)) for revision in (1, 2, 3)]
    await asyncio.sleep(0)
    put(cache, 2)
    await asyncio.sleep(0)
    assert [w.done() for w in waits] == [True, True, False]
    put(cache, 3)
    assert await asyncio.gather(*waits) == [True, True, True]


async def test_a_revision_that_never_comes_answers_false_in_time() -> None:
    cache = WatchCache(MemoryBackend())
    loop = asyncio.get_running_loop()
    started = loop.time()  # the clock the waits are timed by
    answers = await asyncio.gather(*(cache.wait_for(5, within=0.2) for _ in range(100)))
    elapsed = loop.time() - started
    assert answers == [False] * 100
    assert 0.2 <= elapsed < 1.0
    assert cache._expiring == {}


async def test_a_cancelled_wait_leaves_the_others_alone() -> None:
    cache = WatchCache(MemoryBackend())
    cancelled = asyncio.ensure_future(cache.wait_for(2))
    kept = asyncio.ensure_future(cache.wait_for(2))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    put(cache, 2)
    assert await kept is True
