"""The scheduling queue: priority order, per-pod backoff, the unschedulable pool and moves.

Covers ordering by spec.priority then creation time; exponential backoff from 1 s doubling to a
10 s cap; unschedulable pods waiting until a relevant cluster event (and only a relevant one);
the move-request rule (an event during a pod's cycle sends it to backoff, not the pool); updates
to a parked pod that change its spec (moved) or only its status (not moved); deletion while in
flight stopping any requeue; the 5-minute leftover flush. Uses a fake clock and short backoffs
where the real event loop must fire timers. Leaves out informer wiring (component tests).
"""

from __future__ import annotations

import asyncio

from scheduler_fixtures import info, pod

from scheduler.queue import ALL_PLUGINS, QueuedPod, SchedulingQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def names_popped(queue: SchedulingQueue, count: int) -> list[str]:
    return [(await asyncio.wait_for(queue.pop(), 1)).info.key.name for _ in range(count)]


async def test_higher_priority_first_then_older_first() -> None:
    queue = SchedulingQueue()
    queue.add(info(pod("low-old", priority=0, created="2024-01-01T00:00:00Z")))
    queue.add(info(pod("high", priority=100, created="2024-01-03T00:00:00Z")))
    queue.add(info(pod("low-new", priority=0, created="2024-01-02T00:00:00Z")))
    assert await names_popped(queue, 3) == ["high", "low-old", "low-new"]


def test_backoff_doubles_from_one_second_to_ten() -> None:
    queued = QueuedPod(info(pod("p")))
    durations = []
    for attempts in range(1, 7):
        queued.attempts = attempts
        durations.append(queued.backoff_s(1.0, 10.0))
    assert durations == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_unschedulable_pod_waits_for_a_relevant_event() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock=clock)
    queue.add(info(pod("p")))
    queued = await queue.pop()
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    assert queue.where(queued.info.key) == "unschedulable"
    assert queue.move_for_event({"InterPodAffinity"}) == 0
    clock.now += 5  # backoff (1 s) is over: the move goes straight to active
    assert queue.move_for_event({"NodeResourcesFit"}) == 1
    assert queue.where(queued.info.key) == "active"


async def test_moved_pod_still_backing_off_waits_out_its_backoff() -> None:
    queue = SchedulingQueue(initial_backoff_s=0.05, max_backoff_s=0.05)
    queue.add(info(pod("p")))
    queued = await queue.pop()
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    queue.move_for_event({ALL_PLUGINS})
    assert queue.where(queued.info.key) == "backoff"
    assert await names_popped(queue, 1) == ["p"]  # after ~50 ms


async def test_event_during_the_cycle_sends_the_pod_to_backoff_not_the_pool() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock=clock)
    queue.add(info(pod("p")))
    queued = await queue.pop()
    queue.move_for_event({ALL_PLUGINS})  # e.g. a node was added while we were filtering
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    assert queue.where(queued.info.key) == "backoff"


async def test_spec_change_moves_a_parked_pod_but_a_status_change_does_not() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock=clock)
    original = pod("p")
    queue.add(info(original))
    queue.requeue_unschedulable(await queue.pop(), {"TaintToleration"})
    clock.now += 5
    with_status = {**original, "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}
    queue.add(info(with_status))
    assert queue.where(info(original).key) == "unschedulable"
    tolerating = {**original, "spec": {**original["spec"], "tolerations": [{"operator": "Exists"}]}}
    queue.add(info(tolerating))
    assert queue.where(info(original).key) == "active"


async def test_deleting_an_in_flight_pod_prevents_its_requeue() -> None:
    queue = SchedulingQueue()
    queue.add(info(pod("p")))
    queued = await queue.pop()
    queue.delete(queued.info.key)
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    queue.requeue_after_error(queued)
    assert queue.where(queued.info.key) is None
    assert queue.counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "in_flight": 0}


async def test_leftovers_are_retried_after_five_minutes() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock=clock)
    queue.add(info(pod("p")))
    queue.requeue_unschedulable(await queue.pop(), {"NodeResourcesFit"})
    clock.now += 60
    assert queue.flush_leftovers() == 0
    clock.now += 300
    assert queue.flush_leftovers() == 1
    assert await names_popped(queue, 1) == ["p"]


async def test_a_pod_is_queued_once_however_often_it_is_added() -> None:
    queue = SchedulingQueue()
    for _ in range(3):
        queue.add(info(pod("p")))
    assert queue.counts()["active"] == 1
    await queue.pop()
    queue.add(info(pod("p")))  # an update while in flight does not queue it twice
    assert queue.counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "in_flight": 1}
