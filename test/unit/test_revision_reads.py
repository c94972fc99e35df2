"""server.revision_reads: consistent reads share the store's revision reads, never an older one.

Covers: reads that do not overlap each ask the store; readers arriving while a request is in flight
share exactly one next request, sent after they arrived, so each sees every write made before it
began (the in-flight request's answer would be too old for them); a failure of the shared request
reaches every reader waiting on it; a reader that gives up does not cancel the others' request.
The store here is a counter whose reads the test holds open (the property is about timing); the
real backends run in test/unit/test_several_servers.py and the storage contract suite.
"""

from __future__ import annotations

import asyncio

import pytest

from server.revision_reads import RevisionReads


class Store:
    """A revision counter; each read answers the revision at the moment the request is *sent*,
    and completes only when the test opens ``gate`` (while ``hold`` is set)."""

    def __init__(self) -> None:
        self.revision = 1
        self.requests = 0
        self.hold = False
        self.gate = asyncio.Event()
        self.failure: Exception | None = None

    async def current_revision(self) -> int:
        self.requests += 1
        answer = self.revision
        if self.hold:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return answer


async def leader_in_flight(store: Store, reads: RevisionReads) -> asyncio.Task[int]:
    """A first reader whose request is sent (at the store's revision now) and held open."""
    store.hold = True
    leader = asyncio.create_task(reads.current())
    await asyncio.sleep(0)
    return leader


async def readers(reads: RevisionReads, count: int) -> list[asyncio.Task[int]]:
    """``count`` readers that arrive now (while the leader's request is in flight)."""
    arrived = [asyncio.create_task(reads.current()) for _ in range(count)]
    await asyncio.sleep(0)
    return arrived


async def test_reads_that_do_not_overlap_each_ask_the_store() -> None:
    store = Store()
    reads = RevisionReads(store.current_revision)
    for expected in range(1, 6):
        store.revision = expected
        assert await reads.current() == expected
    assert store.requests == 5


async def test_readers_arriving_during_a_request_share_the_next_one_and_see_later_writes() -> None:
    store = Store()
    reads = RevisionReads(store.current_revision)
    leader = await leader_in_flight(store, reads)  # its request is sent at revision 1
    store.revision = 2  # a write acknowledged before the followers begin
    followers = await readers(reads, 10)
    assert store.requests == 1
    store.gate.set()
    assert await leader == 1
    assert await asyncio.gather(*followers) == [2] * 10
    assert store.requests == 2


async def test_a_failed_shared_request_fails_every_reader_waiting_on_it() -> None:
    store = Store()
    reads = RevisionReads(store.current_revision)
    leader = await leader_in_flight(store, reads)
    followers = await readers(reads, 3)
    store.failure = ConnectionError("etcd is down")
    store.gate.set()
    for task in (leader, *followers):
        with pytest.raises(ConnectionError):
            await task
    store.failure, store.hold = None, False
    assert await reads.current() == 1  # and reads work again afterwards


async def test_a_reader_giving_up_leaves_the_others_their_request() -> None:
    store = Store()
    reads = RevisionReads(store.current_revision)
    leader = await leader_in_flight(store, reads)
    quitter, stayer = await readers(reads, 2)
    quitter.cancel()
    store.revision = 3
    store.gate.set()
    assert await leader == 1
    assert await stayer == 3
    assert quitter.cancelled()
