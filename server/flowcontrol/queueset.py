"""Fair queuing for one priority level: shuffle-sharded queues, seats, virtual time.

Upstream's queueset (k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset), on one event
loop instead of behind a mutex:
- a flow is dealt a *hand* of queues from its hash (shuffle sharding) and each request joins the
  hand's queue with the least waiting work, so a heavy flow spreads over a few queues and rarely
  shares all of them with a light one;
- a request takes ``seats`` (1 for most, more for big LISTs) out of the level's concurrency limit;
- dispatch is fair queuing in *virtual time* R: R grows at seats in use / active queues
  seat-seconds per second (`_sync_time` says how and why this differs from upstream); a queue's
  next request starts at its ``next_dispatch_r``, finishes at that plus seats x G (G = 3 ms,
  upstream's estimated service time), and the queue whose head finishes first is served next.
  When a request ends, its queue is charged for what it really used (seats x actual duration).
  A head that does not fit the free seats waits: nothing overtakes it;
- a request is refused when its queue is full and it cannot start now ("queue-full"), when it waited
  longer than its wait limit ("time-out"), or when its client went away ("cancelled"); a level with
  no queues refuses whatever does not fit at once ("concurrency-limit").
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from server.flowcontrol.dealer import deal_hand

ESTIMATED_SERVICE_S = 0.003  # upstream's G


class Rejected(Exception):
    """The request gets no seat; ``reason`` is upstream's label for the rejection metric."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False, slots=True)
class _Queue:
    index: int
    waiting: deque[Ticket] = field(default_factory=deque)
    seats_waiting: int = 0
    executing: int = 0
    seats_in_use: int = 0
    next_dispatch_r: float = 0.0


@dataclass(eq=False, slots=True)
class Ticket:
    """One request: waiting in a queue, then holding ``seats`` until `QueueSet.finish`."""

    seats: int
    queue: _Queue | None
    arrival_r: float
    abandoned: Callable[[], bool]
    decision: asyncio.Future[str] | None = None  # "execute", or a rejection reason
    executing: bool = False
    started: float = 0.0


class QueueSet:
    def __init__(self, name: str, *, concurrency_limit: int, queues: int = 0, hand_size: int = 1,
                 queue_length_limit: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        if queues and not 0 < hand_size <= queues:
            raise ValueError(f"priority level {name}: hand size {hand_size} does not fit {queues} queues")
        self.name = name
        self.concurrency_limit = concurrency_limit
        self._queues = [_Queue(i) for i in range(queues)]
        self._queue_length_limit = queue_length_limit
        self._clock = clock
        self._hands = functools.lru_cache(maxsize=4096)(
            lambda flow_hash: deal_hand(flow_hash, deck_size=queues, hand_size=hand_size))
        self._r = 0.0
        self._last = clock()
        self._robin = 0
        self._enqueues = 0
        self.seats_in_use = 0
        self.executing = 0
        self.waiting = 0
        self._active = 0  # queues with a request waiting or executing
        self._backlogged: dict[_Queue, None] = {}  # queues with a request waiting, insertion order

    # -- admission --------------------------------------------------------------------------------
    def enqueue(self, flow_hash: int, seats: int, *, abandoned: Callable[[], bool]) -> Ticket:
        """Place a request (it may start at once); `Rejected` when there is no room for it."""
        self._sync_time()
        if not self._queues:
            if not self._fits(seats):
                raise Rejected("concurrency-limit")
            ticket = Ticket(seats, None, self._r, abandoned)
            self._start(ticket)
            return ticket
        queue = self._shortest_in_hand(flow_hash)
        if not self._backlogged and self._fits(seats):
            # Nothing waits anywhere: it would be the only head and dispatched at once.
            ticket = Ticket(seats, queue, self._r, abandoned)
            self._activate(queue)
            queue.next_dispatch_r += seats * ESTIMATED_SERVICE_S
            self._start(ticket)
            return ticket
        self._drop_abandoned(queue)
        # Upstream refuses when the queue is full and every seat is taken. Wide LISTs leave seats
        # idle (the next one does not fit), so "every seat taken" never held under a LIST flood
        # and its queues grew past their limit: a full queue refuses what could not start now.
        if len(queue.waiting) >= self._queue_length_limit and not self._fits(seats):
            raise Rejected("queue-full")
        ticket = Ticket(seats, queue, self._r, abandoned, asyncio.get_running_loop().create_future())
        self._activate(queue)
        queue.waiting.append(ticket)
        queue.seats_waiting += seats
        self._backlogged[queue] = None
        self.waiting += 1
        self._dispatch_as_much_as_possible()
        return ticket

    async def wait(self, ticket: Ticket, *, limit: float) -> None:
        """Return once ``ticket`` holds its seats; `Rejected` after ``limit`` seconds or when its
        client is gone. Cancellation takes the ticket out of its queue (or frees its seats)."""
        if ticket.executing:
            return
        assert ticket.decision is not None
        try:
            async with asyncio.timeout(limit):
                decision = await asyncio.shield(ticket.decision)
        except TimeoutError:
            if ticket.executing:  # dispatched in the same instant: take it
                return
            self._remove_waiting(ticket)
            raise Rejected("time-out") from None
        except asyncio.CancelledError:
            if ticket.executing:
                self.finish(ticket)
            elif not ticket.decision.done():
                self._remove_waiting(ticket)
            raise
        if decision != "execute":
            raise Rejected(decision)

    def finish(self, ticket: Ticket) -> None:
        """Give the seats back, charge the queue what the request really used, dispatch more."""
        if not ticket.executing:
            return
        self._sync_time()
        ticket.executing = False
        self.executing -= 1
        self.seats_in_use -= ticket.seats
        queue = ticket.queue
        if queue is not None:
            queue.executing -= 1
            queue.seats_in_use -= ticket.seats
            used = self._clock() - ticket.started
            queue.next_dispatch_r -= ticket.seats * (ESTIMATED_SERVICE_S - used)
            self._bound_next_dispatch(queue)
            if not queue.waiting and not queue.executing:
                self._active -= 1
        self._dispatch_as_much_as_possible()

    def _activate(self, queue: _Queue) -> None:
        """An idle queue starts from the current R: no credit saved up while it was idle."""
        if not queue.waiting and not queue.executing:
            queue.next_dispatch_r = self._r
            self._active += 1

    # -- virtual time -------------------------------------------------------------------------------
    def _sync_time(self) -> None:
        """Advance R by the seats really in use per active queue. Upstream advances it by
        min(seats asked for, limit): with wide LISTs that leave seats idle (the next one does not
        fit), that counted service nobody got, a flooding flow's queues fell behind R by seconds
        and a newly arriving flow's requests waited behind its whole backlog."""
        now = self._clock()
        if self._active:
            self._r += (now - self._last) * self.seats_in_use / self._active
        self._last = now

    def _bound_next_dispatch(self, queue: _Queue) -> None:
        """Upstream's anti-windup: a queue's virtual start never precedes its head's arrival."""
        if queue.waiting and queue.next_dispatch_r < queue.waiting[0].arrival_r:
            queue.next_dispatch_r = queue.waiting[0].arrival_r

    # -- queues ---------------------------------------------------------------------------------------
    def _shortest_in_hand(self, flow_hash: int) -> _Queue:
        """The hand's queue with the least waiting work; the starting point rotates so that equal
        queues share the load (upstream: offset = enqueues % hand size)."""
        hand = self._hands(flow_hash)
        offset = self._enqueues % len(hand)
        self._enqueues += 1
        best: _Queue | None = None
        best_work = 0
        for i in range(len(hand)):
            queue = self._queues[hand[(offset + i) % len(hand)]]
            if best is None or queue.seats_waiting < best_work:
                best, best_work = queue, queue.seats_waiting
        assert best is not None
        return best

    def _drop_abandoned(self, queue: _Queue) -> None:
        for ticket in [t for t in queue.waiting if t.abandoned()]:
            self._remove_waiting(ticket, reason="cancelled")

    def _remove_waiting(self, ticket: Ticket, *, reason: str = "") -> None:
        queue = ticket.queue
        if queue is None or ticket not in queue.waiting:
            return
        self._sync_time()
        queue.waiting.remove(ticket)
        self._forget_waiting(queue, ticket)
        if reason and ticket.decision is not None and not ticket.decision.done():
            ticket.decision.set_result(reason)
        self._bound_next_dispatch(queue)

    def _forget_waiting(self, queue: _Queue, ticket: Ticket, *, idle: bool = True) -> None:
        """Bookkeeping once ``ticket`` left ``queue``'s waiting line (``idle``: and runs nowhere)."""
        self.waiting -= 1
        queue.seats_waiting -= ticket.seats
        if not queue.waiting:
            self._backlogged.pop(queue, None)
            if idle and not queue.executing:
                self._active -= 1

    # -- dispatch ------------------------------------------------------------------------------------
    def _fits(self, seats: int) -> bool:
        if seats > self.concurrency_limit:
            return self.executing == 0  # a request wider than the level runs alone
        return self.seats_in_use + seats <= self.concurrency_limit

    def _dispatch_as_much_as_possible(self) -> None:
        while self._backlogged and self.seats_in_use < self.concurrency_limit:
            queue = self._min_finish_queue()
            head = queue.waiting[0]
            if head.abandoned():
                self._remove_waiting(head, reason="cancelled")
                continue
            if not self._fits(head.seats):
                return
            queue.waiting.popleft()
            self._forget_waiting(queue, head, idle=False)  # it executes now: the queue stays active
            # Upstream: the queue's virtual start moves on by the request's estimated work.
            queue.next_dispatch_r += head.seats * ESTIMATED_SERVICE_S
            self._bound_next_dispatch(queue)
            self._start(head)
            self._robin = queue.index

    def _min_finish_queue(self) -> _Queue:
        """The backlogged queue whose head would finish first in virtual time; ties go round robin
        from the queue after the last one served."""
        count = len(self._queues)
        return min(self._backlogged, key=lambda q: (
            q.next_dispatch_r + q.waiting[0].seats * ESTIMATED_SERVICE_S,
            (q.index - self._robin - 1) % count))

    def _start(self, ticket: Ticket) -> None:
        ticket.executing = True
        ticket.started = self._clock()
        self.executing += 1
        self.seats_in_use += ticket.seats
        if ticket.queue is not None:
            ticket.queue.executing += 1
            ticket.queue.seats_in_use += ticket.seats
        if ticket.decision is not None and not ticket.decision.done():
            ticket.decision.set_result("execute")
