"""The key workqueue and its rate limiters (client/workqueue.py, client/ratelimit.py).

Covers client-go's workqueue guarantees: deduplication while queued (dirty set), no key handed
to two workers at once and re-queue on `done` when it changed meanwhile (processing set), FIFO
order, `add_after` keeping the earliest time, rate-limited re-adds growing exponentially and
reset by `forget`, the global token bucket, and `shutdown` releasing waiting workers. Runs on the
event loop with millisecond delays; no sockets. Leaves out the controller runner that drives the
queue (test/component/test_client_runtime.py).
"""

from __future__ import annotations

import asyncio

import pytest

from client.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from client.workqueue import QueueShutDown, WorkQueue


async def test_keys_come_out_in_order_and_duplicates_collapse() -> None:
    queue = WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        queue.add(key)
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_key_in_processing_is_not_handed_out_again_until_done() -> None:
    queue = WorkQueue()
    queue.add("k")
    key = await queue.get()
    queue.add("k")  # changed while a worker holds it
    assert len(queue) == 0
    second_worker = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not second_worker.done()
    queue.done(key)
    assert await asyncio.wait_for(second_worker, 1) == "k"


async def test_done_without_new_add_does_not_requeue() -> None:
    queue = WorkQueue()
    queue.add("k")
    queue.done(await queue.get())
    assert len(queue) == 0


async def test_waiting_worker_wakes_on_add() -> None:
    queue = WorkQueue()
    worker = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    queue.add("x")
    assert await asyncio.wait_for(worker, 1) == "x"


async def test_many_workers_each_get_distinct_keys() -> None:
    queue = WorkQueue()
    workers = [asyncio.create_task(queue.get()) for _ in range(5)]
    await asyncio.sleep(0)
    for index in range(5):
        queue.add(index)
    assert sorted(await asyncio.gather(*workers)) == [0, 1, 2, 3, 4]


async def test_cancelled_worker_does_not_lose_a_wakeup() -> None:
    queue = WorkQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("only")
    first.cancel()  # woken but cancelled before it ran: its wake-up must pass on
    assert await asyncio.wait_for(second, 1) == "only"


async def test_add_after_delays_and_keeps_the_earliest_time() -> None:
    queue = WorkQueue()
    queue.add_after("k", 5.0)
    queue.add_after("k", 0.02)
    queue.add_after("k", 3.0)
    assert len(queue) == 0
    assert await asyncio.wait_for(queue.get(), 1) == "k"


async def test_add_rate_limited_backs_off_per_key_and_forget_resets() -> None:
    queue = WorkQueue(rate_limiter=ItemExponentialFailureRateLimiter(0.01, 10.0))
    loop = asyncio.get_running_loop()
    delays = []
    for _ in range(3):
        started = loop.time()
        queue.add_rate_limited("k")
        key = await asyncio.wait_for(queue.get(), 2)
        delays.append(loop.time() - started)
        queue.done(key)
    assert queue.num_requeues("k") == 3
    assert delays[0] >= 0.009 and delays[1] >= 0.019 and delays[2] >= 0.039
    queue.forget("k")
    assert queue.num_requeues("k") == 0


async def test_shutdown_releases_waiters_and_refuses_new_keys() -> None:
    queue = WorkQueue()
    worker = asyncio.create_task(queue.get())
    queue.add_after("later", 10)
    await asyncio.sleep(0)
    queue.shutdown()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(worker, 1)
    queue.add("new")
    assert len(queue) == 0
    with pytest.raises(QueueShutDown):
        await queue.get()


async def test_shutdown_still_hands_out_keys_already_queued() -> None:
    queue = WorkQueue()
    queue.add("queued")
    queue.shutdown()
    assert await queue.get() == "queued"


def test_exponential_limiter_doubles_from_5ms_to_the_1000s_cap() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("k") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert limiter.when("other") == 0.005  # per key
    for _ in range(100):
        limiter.when("k")
    assert limiter.when("k") == 1000.0


def test_bucket_limiter_allows_a_burst_then_spaces_by_qps() -> None:
    now = [100.0]
    limiter = BucketRateLimiter(qps=10, burst=3, clock=lambda: now[0])
    assert [limiter.when(i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.when(3) == pytest.approx(0.1)
    assert limiter.when(4) == pytest.approx(0.2)
    now[0] += 10.0  # refilled, but never beyond the burst
    assert [limiter.when(i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.when(9) == pytest.approx(0.1)


def test_default_limiter_is_the_larger_of_backoff_and_bucket() -> None:
    now = [0.0]
    limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0),
                               BucketRateLimiter(qps=10, burst=1, clock=lambda: now[0]))
    assert limiter.when("a") == 0.005
    assert limiter.when("b") == pytest.approx(0.1)  # bucket empty: the global limit wins
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert default_controller_rate_limiter().when("x") == 0.005
