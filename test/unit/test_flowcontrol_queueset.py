"""Fair queuing of one priority level (server.flowcontrol.queueset) and shuffle sharding.

Covers: two backlogged flows are served alternately; a flow arriving late is not stuck behind an
earlier flow's backlog, also when that flow's wide requests leave seats idle; queue length limits
("queue-full"), also when wide requests leave seats idle; the wait limit ("time-out"); a
cancelled waiter leaves its queue and a cancelled executor frees its seats; a request whose client
is gone is skipped at dispatch ("cancelled"); seats (a wide request waits for room, one wider
than the level runs alone); a level without queues refuses at once ("concurrency-limit"); the
dealer's hands. Virtual time runs on a fake clock so that service times are exact.
Leaves out: classification and the HTTP gate (test_flowcontrol_policy.py, the component suite).
"""

from __future__ import annotations

import asyncio

import pytest

from server.flowcontrol.dealer import deal_hand
from server.flowcontrol.queueset import QueueSet, Rejected, Ticket

FLOW_A, FLOW_B = 1, 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def one_queue_per_flow(clock: Clock, *, limit: int = 1, queue_length: int = 100) -> QueueSet:
    """Hand size 1 over many queues: each flow keeps to one queue (flows 1 and 2 differ)."""
    queue_set = QueueSet("test", concurrency_limit=limit, queues=64, hand_size=1,
                         queue_length_limit=queue_length, clock=clock)
    assert deal_hand(FLOW_A, deck_size=64, hand_size=1) != deal_hand(FLOW_B, deck_size=64, hand_size=1)
    return queue_set


def present() -> bool:
    return False


def run_in_order(queue_set: QueueSet, clock: Clock, tickets: dict[Ticket, str], *,
                 service: float = 0.01) -> list[str]:
    """Finish whatever executes, one at a time, each after ``service`` seconds; the labels in
    the order the requests started."""
    order: list[str] = []
    while True:
        running = [t for t in tickets if t.executing]
        if not running:
            return order
        assert len(running) == 1, "one seat: one request at a time"
        order.append(tickets.pop(running[0]))
        clock.now += service
        queue_set.finish(running[0])


async def test_two_backlogged_flows_are_served_alternately() -> None:
    clock = Clock()
    queue_set = one_queue_per_flow(clock)
    tickets: dict[Ticket, str] = {}
    for i in range(6):
        tickets[queue_set.enqueue(FLOW_A, 1, abandoned=present)] = f"a{i}"
    for i in range(6):
        tickets[queue_set.enqueue(FLOW_B, 1, abandoned=present)] = f"b{i}"
    order = run_in_order(queue_set, clock, tickets)
    flows = "".join(label[0] for label in order)
    assert flows == "abababababab", order


async def test_a_late_flow_is_not_queued_behind_an_earlier_backlog() -> None:
    clock = Clock()
    queue_set = one_queue_per_flow(clock)
    tickets: dict[Ticket, str] = {}
    for i in range(20):
        tickets[queue_set.enqueue(FLOW_A, 1, abandoned=present)] = f"a{i}"
    order: list[str] = []
    for _ in range(5):  # a's flood has been served a while when b turns up
        running = next(t for t in tickets if t.executing)
        order.append(tickets.pop(running))
        clock.now += 0.01
        queue_set.finish(running)
    tickets[queue_set.enqueue(FLOW_B, 1, abandoned=present)] = "b"
    order += run_in_order(queue_set, clock, tickets)
    assert order.index("b") <= 6, order  # at most the one a that was running, then b


async def test_seats_left_idle_by_wide_requests_earn_their_flow_no_credit() -> None:
    clock = Clock()
    queue_set = one_queue_per_flow(clock, limit=10)
    tickets: dict[Ticket, str] = {}
    for i in range(30):  # 6 seats each: one runs at a time and 4 seats stay idle
        tickets[queue_set.enqueue(FLOW_A, 6, abandoned=present)] = f"a{i}"
    for _ in range(10):
        running = next(t for t in tickets if t.executing)
        del tickets[running]
        clock.now += 0.1
        queue_set.finish(running)
    late = queue_set.enqueue(FLOW_B, 1, abandoned=present)
    assert late.executing  # it fits the idle seats, and a's backlog is not ahead of it


async def test_a_full_queue_refuses_when_every_seat_is_taken() -> None:
    queue_set = one_queue_per_flow(Clock(), queue_length=2)
    running = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    waiting = [queue_set.enqueue(FLOW_A, 1, abandoned=present) for _ in range(2)]
    assert running.executing and not any(t.executing for t in waiting)
    with pytest.raises(Rejected) as refused:
        queue_set.enqueue(FLOW_A, 1, abandoned=present)
    assert refused.value.reason == "queue-full"
    other = queue_set.enqueue(FLOW_B, 1, abandoned=present)  # another flow's queue has room
    assert not other.executing and queue_set.waiting == 3


async def test_a_full_queue_refuses_wide_requests_while_their_seats_stay_idle() -> None:
    queue_set = one_queue_per_flow(Clock(), limit=10, queue_length=2)
    running = queue_set.enqueue(FLOW_A, 6, abandoned=present)  # 4 seats stay free
    waiting = [queue_set.enqueue(FLOW_A, 6, abandoned=present) for _ in range(2)]
    assert running.executing and queue_set.seats_in_use == 6 and queue_set.waiting == 2
    with pytest.raises(Rejected) as refused:
        queue_set.enqueue(FLOW_A, 6, abandoned=present)
    assert refused.value.reason == "queue-full"
    assert not any(t.executing for t in waiting)


async def test_a_request_waiting_past_its_limit_is_refused_and_leaves_the_queue() -> None:
    queue_set = one_queue_per_flow(Clock())
    queue_set.enqueue(FLOW_A, 1, abandoned=present)
    waiting = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    with pytest.raises(Rejected) as refused:
        await queue_set.wait(waiting, limit=0.05)
    assert refused.value.reason == "time-out"
    assert queue_set.waiting == 0 and not waiting.executing


async def one_running_one_waiting() -> tuple[QueueSet, Ticket, Ticket, asyncio.Task[None]]:
    """A level with its one seat taken and a second request waiting for it in a task."""
    queue_set = one_queue_per_flow(Clock())
    running = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    waiting = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    task = asyncio.create_task(queue_set.wait(waiting, limit=30))
    await asyncio.sleep(0)
    return queue_set, running, waiting, task


async def test_a_cancelled_waiter_leaves_its_queue() -> None:
    queue_set, running, waiting, task = await one_running_one_waiting()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue_set.waiting == 0
    queue_set.finish(running)
    assert queue_set.seats_in_use == 0 and not waiting.executing


async def test_cancellation_just_after_dispatch_gives_the_seat_back() -> None:
    queue_set, running, waiting, task = await one_running_one_waiting()
    queue_set.finish(running)  # dispatches `waiting`: it holds the seat before its task resumes
    assert waiting.executing and queue_set.seats_in_use == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue_set.seats_in_use == 0 and queue_set.executing == 0


async def test_a_request_whose_client_left_is_skipped_at_dispatch() -> None:
    queue_set = one_queue_per_flow(Clock())
    running = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    gone = queue_set.enqueue(FLOW_A, 1, abandoned=lambda: True)
    after = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    queue_set.finish(running)
    assert after.executing and not gone.executing
    with pytest.raises(Rejected) as refused:
        await queue_set.wait(gone, limit=1)
    assert refused.value.reason == "cancelled"


async def test_a_wide_request_waits_for_room_and_nothing_overtakes_it() -> None:
    queue_set = one_queue_per_flow(Clock(), limit=4)
    small = [queue_set.enqueue(FLOW_A, 1, abandoned=present) for _ in range(2)]
    wide = queue_set.enqueue(FLOW_B, 3, abandoned=present)
    assert not wide.executing and queue_set.seats_in_use == 2
    queue_set.finish(small[0])
    assert wide.executing and queue_set.seats_in_use == 4


async def test_a_request_wider_than_the_level_runs_alone() -> None:
    queue_set = one_queue_per_flow(Clock(), limit=2)
    first = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    huge = queue_set.enqueue(FLOW_B, 10, abandoned=present)
    assert not huge.executing
    queue_set.finish(first)
    assert huge.executing and queue_set.seats_in_use == 10
    later = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    assert not later.executing
    queue_set.finish(huge)
    assert later.executing


async def test_a_level_without_queues_refuses_what_does_not_fit() -> None:
    queue_set = QueueSet("reject", concurrency_limit=1)
    held = queue_set.enqueue(FLOW_A, 1, abandoned=present)
    assert held.executing
    with pytest.raises(Rejected) as refused:
        queue_set.enqueue(FLOW_B, 1, abandoned=present)
    assert refused.value.reason == "concurrency-limit"
    queue_set.finish(held)
    assert queue_set.enqueue(FLOW_B, 1, abandoned=present).executing


def test_a_hand_is_distinct_queues_fixed_by_the_hash() -> None:
    hands = {h: deal_hand(h * 0x9E3779B97F4A7C15, deck_size=128, hand_size=6) for h in range(200)}
    for hand in hands.values():
        assert len(set(hand)) == 6 and all(0 <= q < 128 for q in hand)
    assert deal_hand(12345, deck_size=128, hand_size=6) == deal_hand(12345, deck_size=128, hand_size=6)
    assert len({frozenset(hand) for hand in hands.values()}) == len(hands)
    with pytest.raises(ValueError):
        deal_hand(1, deck_size=4, hand_size=5)
