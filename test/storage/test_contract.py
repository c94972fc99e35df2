"""The storage contract (server/storage/interface.py), run against every backend.

Covers: one revision per write; create-if-absent; update/delete guarded by the expected revision;
reads at old revisions; paginated lists pinned to one revision while writes continue; prefix
boundaries; count; watch replay-then-live, prefix filtering and prev values; compaction and
CompactedError; FutureRevisionError; slow watchers dropped without blocking writers; close ending
watches; restart persistence (SQLite). The ``sqlite-no-ring`` variant makes every watch replay
read the log table instead of the in-memory ring. The ``etcd`` variant runs on a real etcd member
shared by the session: each test starts on an emptied, compacted store, so revisions are counted
from the store's revision at the start of the test (``base``: 0 for the embedded backends, which
must start there).

Leaves out: crash safety under kill -9 and group-commit batching (test_sqlite_crash.py,
test_etcd_crash.py), etcd outages and TLS (test_etcd_failures.py), and throughput
(bench/storage_commit_rate.py, bench/etcd_put_rate.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from server.storage import (
    Backend,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    open_backend,
)
from server.storage.etcd import EtcdBackend
from server.storage.etcd_connection import parse_etcd_url
from server.storage.memory import MemoryBackend
from server.storage.sqlite import SqliteBackend

MakeBackend = Callable[..., Awaitable[Backend]]


async def fresh_etcd(store: Backend) -> None:
    """Empty the shared etcd and compact it, so a test sees only its own keys and history."""
    for kv in (await store.list("")).items:
        await store.delete(kv.key)
    await store.compact(await store.current_revision())


@pytest.fixture(params=["memory", "sqlite", "sqlite-no-ring", "etcd"])
async def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeBackend]:
    """A factory of started backends of one kind; calling it again reopens the same SQLite file
    (or connects again to the same etcd)."""
    opened: list[Backend] = []

    async def make(**options: Any) -> Backend:
        backend: Backend
        if request.param == "memory":
            backend = MemoryBackend(**options)
        elif request.param == "etcd":
            backend = EtcdBackend(parse_etcd_url(request.getfixturevalue("etcd").storage_url), **options)
            await backend.start()
            if not opened:
                await fresh_etcd(backend)
            opened.append(backend)
            return backend
        else:
            if request.param == "sqlite-no-ring":
                options.setdefault("ring_size", 1)
            backend = SqliteBackend(str(tmp_path / "store.db"), **options)
        await backend.start()
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        await backend.close()


@pytest.fixture
async def store(make_backend: MakeBackend) -> Backend:
    return await make_backend()


async def take(events: AsyncIterator[Event], count: int) -> list[Event]:
    return [await asyncio.wait_for(anext(events), 5) for _ in range(count)]


@asynccontextmanager
async def watching(events: AsyncIterator[Event]) -> AsyncIterator[AsyncIterator[Event]]:
    """Close the watch on exit; every backend's watch is an async generator (it has aclose)."""
    try:
        yield events
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def summary(events: list[Event]) -> list[tuple[str, str, bytes, int]]:
    return [(e.type, e.kv.key, e.kv.value, e.revision) for e in events]


async def test_every_write_advances_the_revision_by_one(store: Backend) -> None:
    base = await store.current_revision()
    if not isinstance(store, EtcdBackend):
        assert base == 0  # an embedded store starts empty at revision 0
    assert await store.create("/a", b"1") == base + 1
    assert await store.update("/a", b"2", expected_revision=base + 1) == base + 2
    assert (await store.delete("/a", expected_revision=base + 2)).mod_revision == base + 3
    assert await store.create("/b", b"1") == base + 4
    assert await store.current_revision() == base + 4


async def test_create_refuses_a_live_key_but_recreates_a_deleted_one(store: Backend) -> None:
    first = await store.create("/k", b"v1")
    with pytest.raises(KeyExistsError):
        await store.create("/k", b"v2")
    await store.delete("/k")
    again = await store.create("/k", b"v3")
    kv = await store.get("/k")
    assert kv is not None and kv.value == b"v3"
    assert kv.create_revision == kv.mod_revision == again > first


async def test_update_is_guarded_by_the_expected_revision(store: Backend) -> None:
    created = await store.create("/k", b"v1")
    updated = await store.update("/k", b"v2", expected_revision=created)
    with pytest.raises(RevisionConflictError) as conflict:
        await store.update("/k", b"stale", expected_revision=created)
    assert conflict.value.current.mod_revision == updated
    assert conflict.value.current.value == b"v2"
    kv = await store.get("/k")
    assert kv is not None and (kv.value, kv.create_revision, kv.mod_revision) == (b"v2", created, updated)
    with pytest.raises(KeyNotFoundError):
        await store.update("/absent", b"x", expected_revision=1)


async def test_delete_is_guarded_and_returns_the_deleted_value(store: Backend) -> None:
    created = await store.create("/k", b"v1")
    await store.create("/other", b"x")
    with pytest.raises(RevisionConflictError) as conflict:
        await store.delete("/k", expected_revision=created + 1)
    assert conflict.value.current.mod_revision == created
    gone = await store.delete("/k", expected_revision=created)
    assert (gone.value, gone.create_revision, gone.mod_revision) == (b"v1", created, created + 2)
    assert await store.get("/k") is None
    with pytest.raises(KeyNotFoundError):
        await store.delete("/k")


async def test_get_and_list_at_old_revisions(store: Backend) -> None:
    r1 = await store.create("/p/a", b"a1")
    r2 = await store.create("/p/b", b"b1")
    r3 = await store.update("/p/a", b"a2", expected_revision=r1)
    await store.delete("/p/b", expected_revision=r2)
    old = await store.get("/p/a", revision=r1)
    assert old is not None and old.value == b"a1"
    assert await store.get("/p/b", revision=r1) is None
    at_r2 = await store.list("/p/", revision=r2)
    assert [(kv.key, kv.value) for kv in at_r2.items] == [("/p/a", b"a1"), ("/p/b", b"b1")]
    assert at_r2.revision == r2
    at_r3 = await store.list("/p/", revision=r3)
    assert [(kv.key, kv.value, kv.mod_revision) for kv in at_r3.items] == [
        ("/p/a", b"a2", r3),
        ("/p/b", b"b1", r2),
    ]
    latest = await store.list("/p/")
    assert [kv.key for kv in latest.items] == ["/p/a"]
    assert latest.revision == await store.current_revision()


async def test_paginated_list_stays_at_one_revision_while_writes_continue(store: Backend) -> None:
    keys = [f"/registry/pods/{i:03d}" for i in range(25)]
    for key in keys:
        await store.create(key, key.encode())
    page = await store.list("/registry/pods/", limit=10)
    pinned = page.revision
    assert (page.more, page.remaining, len(page.items)) == (True, 15, 10)
    seen = [kv.key for kv in page.items]
    writes = 0
    while page.more:
        # Writes between pages must not show through: the continuation is pinned at `pinned`.
        await store.create(f"/registry/pods/{writes:03d}x", b"new")
        await store.delete(keys[-1 - writes])
        writes += 1
        page = await store.list("/registry/pods/", revision=pinned, start_after=seen[-1], limit=10)
        assert page.revision == pinned
        seen += [kv.key for kv in page.items]
        assert page.remaining == 25 - len(seen)
    assert seen == keys
    unlimited = await store.list("/registry/pods/", start_after=keys[20])
    assert unlimited.more is False and unlimited.remaining == 0


async def test_prefix_does_not_leak_into_a_longer_sibling(store: Backend) -> None:
    await store.create("/registry/pods/a/one", b"1")
    await store.create("/registry/pods/ab/two", b"2")
    await store.create("/registry/pods/a", b"bare")
    listed = await store.list("/registry/pods/a/")
    assert [kv.key for kv in listed.items] == ["/registry/pods/a/one"]
    assert await store.count("/registry/pods/a/") == 1
    assert await store.count("/registry/pods/") == 3
    assert await store.count("") == 3


async def test_count_follows_creates_and_deletes(store: Backend) -> None:
    for i in range(5):
        await store.create(f"/c/{i}", b"x")
    await store.delete("/c/2")
    assert await store.count("/c/") == 4
    assert await store.count("/none/") == 0


async def test_watch_replays_history_then_follows_live_writes(store: Backend) -> None:
    r1 = await store.create("/w/a", b"1")
    await store.update("/w/a", b"2", expected_revision=r1)
    async with watching(store.watch("/w/", after_revision=r1)) as events:
        replayed = await take(events, 1)
        await store.create("/w/b", b"3")
        await store.delete("/w/a")
        live = await take(events, 2)
    assert summary(replayed + live) == [
        ("PUT", "/w/a", b"2", r1 + 1),
        ("PUT", "/w/b", b"3", r1 + 2),
        ("DELETE", "/w/a", b"2", r1 + 3),
    ]
    update, create, delete = replayed + live
    assert update.prev is not None and update.prev.value == b"1" and not update.is_create
    assert create.is_create and create.prev is None
    assert delete.prev is not None and delete.prev.mod_revision == r1 + 1


async def test_watch_from_the_start_replays_everything_in_order_under_concurrent_writes(
        store: Backend) -> None:
    base = await store.current_revision()
    await asyncio.gather(*(store.create(f"/g/{i}", b"x") for i in range(40)))
    async with watching(store.watch("/g/", after_revision=base)) as events:
        first = await take(events, 10)
        await asyncio.gather(*(store.create(f"/g/late{i}", b"y") for i in range(20)))
        rest = await take(events, 50)
    assert [e.revision for e in first + rest] == list(range(base + 1, base + 61))


async def test_watch_of_a_prefix_sees_only_that_prefix(store: Backend) -> None:
    base = await store.current_revision()
    await store.create("/registry/pods/ab/early", b"x")
    async with watching(store.watch("/registry/pods/a/", after_revision=base)) as events:
        await store.create("/registry/pods/ab/x", b"no")
        await store.create("/registry/pods/a", b"no")
        await store.create("/registry/pods/a/x", b"yes")
        (event,) = await take(events, 1)
    assert event.kv.key == "/registry/pods/a/x"


async def test_compaction_forgets_old_revisions(store: Backend) -> None:
    r1 = await store.create("/k/a", b"a1")
    r2 = await store.create("/k/gone", b"g")
    r3 = await store.update("/k/a", b"a2", expected_revision=r1)
    r4 = (await store.delete("/k/gone", expected_revision=r2)).mod_revision
    r5 = await store.create("/k/b", b"b1")
    await store.compact(r4)
    assert await store.compacted_revision() == r4
    with pytest.raises(CompactedError):
        await store.get("/k/a", revision=r3)
    with pytest.raises(CompactedError):
        await store.list("/k/", revision=r1)
    with pytest.raises(CompactedError):
        await anext(store.watch("/k/", after_revision=r3))
    at_mark = await store.list("/k/", revision=r4)
    assert [(kv.key, kv.value) for kv in at_mark.items] == [("/k/a", b"a2")]
    assert [kv.key for kv in (await store.list("/k/")).items] == ["/k/a", "/k/b"]
    async with watching(store.watch("/k/", after_revision=r4)) as events:
        (event,) = await take(events, 1)
    assert event.revision == r5
    await store.compact(r2)  # older than the mark: nothing to do
    assert await store.compacted_revision() == r4
    # A key deleted before the mark can be created again, and updated from there.
    recreated = await store.create("/k/gone", b"again")
    await store.update("/k/gone", b"again2", expected_revision=recreated)


async def test_compaction_at_latest_revision_keeps_live_keys(store: Backend) -> None:
    r1 = await store.create("/z/a", b"1")
    r2 = await store.update("/z/a", b"2", expected_revision=r1)
    await store.create("/z/b", b"1")
    r4 = (await store.delete("/z/b")).mod_revision
    await store.compact(r4)
    assert await store.current_revision() == r4
    kv = await store.get("/z/a")
    assert kv is not None and kv.mod_revision == r2 and kv.create_revision == r1
    assert await store.create("/z/c", b"x") == r4 + 1


async def test_future_revisions_are_refused(store: Backend) -> None:
    latest = await store.create("/f", b"x")
    with pytest.raises(FutureRevisionError) as refused:
        await store.get("/f", revision=latest + 1)
    assert (refused.value.requested, refused.value.current) == (latest + 1, latest)
    with pytest.raises(FutureRevisionError):
        await store.list("/", revision=latest + 4)
    with pytest.raises(FutureRevisionError):
        await store.compact(latest + 8)


async def test_a_slow_watcher_is_dropped_without_blocking_writers(make_backend: MakeBackend) -> None:
    store = await make_backend(watch_queue_size=16)
    base = await store.current_revision()
    slow = store.watch("/s/", after_revision=base)
    fast = store.watch("/s/", after_revision=base)
    await store.create("/s/0", b"x")
    await take(slow, 1)
    await take(fast, 1)

    async def write_many() -> None:
        for i in range(1, 101):
            await store.create(f"/s/{i}", b"x")
            await asyncio.sleep(0)  # as a request handler would between writes

    async def follow_fast() -> list[Event]:
        return [await anext(fast) for _ in range(100)]

    # The writes finish although `slow` never reads; `fast` keeps up and sees all of them.
    _, fast_events = await asyncio.wait_for(asyncio.gather(write_many(), follow_fast()), 30)
    assert [e.kv.key for e in fast_events] == [f"/s/{i}" for i in range(1, 101)]
    with pytest.raises(CompactedError):
        for _ in range(100):
            await asyncio.wait_for(anext(slow), 5)
    await fast.aclose()  # type: ignore[attr-defined]


async def test_close_ends_open_watches(make_backend: MakeBackend) -> None:
    store = await make_backend()
    created = await store.create("/x", b"1")
    events = store.watch("/", after_revision=created)

    async def drain() -> list[Event]:
        return [event async for event in events]

    watching = asyncio.create_task(drain())
    await asyncio.sleep(0.05)
    await store.close()
    assert await asyncio.wait_for(watching, 5) == []


async def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/restart.db"
    first = open_backend(url)
    await first.start()
    r1 = await first.create("/k/a", b"a1")
    await first.update("/k/a", b"a2", expected_revision=r1)
    await first.create("/k/b", b"b")
    last = (await first.delete("/k/b")).mod_revision
    await first.compact(last)  # removes the tombstone, the newest row: the revision must hold
    await first.close()

    second = open_backend(url)
    await second.start()
    try:
        assert await second.current_revision() == last
        assert await second.compacted_revision() == last
        kv = await second.get("/k/a")
        assert kv is not None and (kv.value, kv.create_revision) == (b"a2", r1)
        assert await second.create("/k/c", b"c") == last + 1
        async with watching(second.watch("/k/", after_revision=last)) as events:
            (event,) = await take(events, 1)
        assert event.kv.key == "/k/c"
    finally:
        await second.close()


def test_open_backend_understands_its_urls(tmp_path: Path) -> None:
    assert isinstance(open_backend("memory://"), MemoryBackend)
    sqlite = open_backend(f"sqlite://{tmp_path}/x.db")
    assert isinstance(sqlite, SqliteBackend) and sqlite.path == f"{tmp_path}/x.db"
    with pytest.raises(ValueError):
        open_backend("sqlite://relative.db")
    etcd = open_backend("etcd://127.0.0.1:2379,localhost:22379")
    assert isinstance(etcd, EtcdBackend)
    assert etcd.endpoints.members == (("127.0.0.1", 2379), ("localhost", 22379))
    assert str(open_backend("etcd://10.0.0.1").endpoints) == "10.0.0.1:2379"  # type: ignore[attr-defined]
    for bad in ("etcd://", "etcd://h:port", "etcd://h:2379/path", "etcd://h:99999", "etcd://h:1?x=y"):
        with pytest.raises(ValueError):
            open_backend(bad)
