"""The scheduling queue: which pending pod is tried next, and when a failed one is tried again.

Mirrors upstream's ``PriorityQueue`` (``pkg/scheduler/internal/queue``), three places a pending
pod can wait:
- *active*: a heap ordered by ``spec.priority`` (higher first), then creation time (older first);
- *backoff*: pods that failed recently, each waiting out its own exponential backoff
  (1 s doubling to 10 s per failed attempt) before going back to active;
- *unschedulable*: pods no node could take. They stay until a cluster event that could make
  them schedulable happens — a node added or changed, a pod removed from a node, ... — and only
  events relevant to the filters that rejected them move them (upstream's queueing hints, coarse).
  Leftovers are retried after 5 minutes anyway (``podMaxInUnschedulablePodsDuration``).
If such an event arrives while a pod is being tried, the pod goes to backoff rather than the
unschedulable pool when it fails (upstream's ``moveRequestCycle``): the event may be the one it
was waiting for. Pods popped and not yet finished are *in flight*; deleting one then stops any
requeue.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from client.cache import ObjectKey
from scheduler.pod_info import PodInfo

INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 10.0
MAX_IN_UNSCHEDULABLE_S = 300.0
ALL_PLUGINS = "*"


@dataclass(slots=True)
class QueuedPod:
    info: PodInfo
    attempts: int = 0
    last_failure: float = 0.0
    failed_plugins: frozenset[str] = field(default_factory=frozenset)
    cycle: int = 0  # the scheduling cycle that popped it last
    entered_pool: float = 0.0

    def backoff_s(self, initial: float, maximum: float) -> float:
        if self.attempts <= 0:
            return 0.0
        return min(initial * (2 ** (self.attempts - 1)), maximum)


def _changed_for_scheduling(old: PodInfo, new: PodInfo) -> bool:
    """upstream ``isPodUpdated``: ignores status and resourceVersion (our own status writes)."""
    old_meta, new_meta = old.obj.get("metadata") or {}, new.obj.get("metadata") or {}
    return (old.obj.get("spec") != new.obj.get("spec") or old_meta.get("labels") != new_meta.get("labels")
            or old_meta.get("annotations") != new_meta.get("annotations"))


class SchedulingQueue:
    """Active heap + backoff + unschedulable pool, in one event loop."""

    def __init__(self, *, initial_backoff_s: float = INITIAL_BACKOFF_S, max_backoff_s: float = MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._heap: list[tuple[int, float, int, ObjectKey]] = []
        self._active: dict[ObjectKey, tuple[int, QueuedPod]] = {}  # key -> (heap sequence, pod)
        self._backoff: dict[ObjectKey, tuple[QueuedPod, asyncio.TimerHandle | None]] = {}
        self._unschedulable: dict[ObjectKey, QueuedPod] = {}
        self._in_flight: dict[ObjectKey, QueuedPod] = {}
        self._sequence = itertools.count()
        self._wakeup = asyncio.Event()
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # -- what the informer handlers call --------------------------------------------------------

    def add(self, info: PodInfo) -> None:
        """A new pending pod, or a change to one already waiting somewhere."""
        key = info.key
        if key in self._in_flight:
            self._in_flight[key].info = info
            return
        if key in self._active:
            self._active[key][1].info = info
            return
        if key in self._backoff:
            self._backoff[key][0].info = info
            return
        queued = self._unschedulable.get(key)
        if queued is not None:
            changed = _changed_for_scheduling(queued.info, info)
            queued.info = info
            if changed:  # its spec or labels changed: worth another try (upstream: isPodUpdated)
                del self._unschedulable[key]
                self._to_backoff_or_active(queued)
            return
        self._push_active(QueuedPod(info))

    def delete(self, key: ObjectKey) -> None:
        self._active.pop(key, None)  # its heap entry becomes stale and is skipped
        entry = self._backoff.pop(key, None)
        if entry is not None and entry[1] is not None:
            entry[1].cancel()
        self._unschedulable.pop(key, None)
        self._in_flight.pop(key, None)

    def move_for_event(self, plugins: Iterable[str]) -> int:
        """A cluster event that may help pods rejected by ``plugins`` (`ALL_PLUGINS`: any).
        Answers how many pods were moved out of the unschedulable pool."""
        relevant = frozenset(plugins)
        self._move_request_cycle = self.scheduling_cycle
        moved = [q for q in self._unschedulable.values()
                 if ALL_PLUGINS in relevant or not q.failed_plugins or q.failed_plugins & relevant]
        for queued in moved:
            del self._unschedulable[queued.info.key]
            self._to_backoff_or_active(queued)
        return len(moved)

    def flush_leftovers(self) -> int:
        """Retry pods that waited in the unschedulable pool longer than upstream's 5 minutes."""
        now = self._clock()
        stale = [q for q in self._unschedulable.values() if now - q.entered_pool > MAX_IN_UNSCHEDULABLE_S]
        for queued in stale:
            del self._unschedulable[queued.info.key]
            self._to_backoff_or_active(queued)
        return len(stale)

    # -- what the scheduling loop calls ---------------------------------------------------------

    async def pop(self) -> QueuedPod:
        """The highest-priority active pod (waits for one); it is then in flight."""
        while True:
            while self._heap:
                _, _, sequence, key = heapq.heappop(self._heap)
                entry = self._active.get(key)
                if entry is None or entry[0] != sequence:
                    continue  # deleted or re-pushed since this heap entry was made
                del self._active[key]
                queued = entry[1]
                self.scheduling_cycle += 1
                queued.cycle = self.scheduling_cycle
                self._in_flight[key] = queued
                return queued
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: ObjectKey) -> None:
        """The pod left the scheduler's hands (bound, or given up)."""
        self._in_flight.pop(key, None)

    def requeue_unschedulable(self, queued: QueuedPod, failed_plugins: Iterable[str]) -> None:
        """No node fits: park the pod until a relevant event (or back off, see module doc)."""
        if self._in_flight.pop(queued.info.key, None) is None:
            return  # deleted meanwhile
        queued.attempts += 1
        queued.last_failure = self._clock()
        queued.failed_plugins = frozenset(failed_plugins)
        if self._move_request_cycle >= queued.cycle:
            self._to_backoff_or_active(queued)
        else:
            queued.entered_pool = self._clock()
            self._unschedulable[queued.info.key] = queued

    def requeue_after_error(self, queued: QueuedPod) -> None:
        """An error (e.g. the binding failed): try again after the pod's backoff."""
        if self._in_flight.pop(queued.info.key, None) is None:
            return
        queued.attempts += 1
        queued.last_failure = self._clock()
        self._to_backoff_or_active(queued)

    # -- internals ------------------------------------------------------------------------------

    def _push_active(self, queued: QueuedPod) -> None:
        sequence = next(self._sequence)
        info = queued.info
        self._active[info.key] = (sequence, queued)
        heapq.heappush(self._heap, (-info.priority, info.created, sequence, info.key))
        self._wakeup.set()

    def _to_backoff_or_active(self, queued: QueuedPod) -> None:
        remaining = queued.last_failure + queued.backoff_s(self.initial_backoff_s, self.max_backoff_s) \
            - self._clock()
        if remaining <= 0:
            self._push_active(queued)
            return
        handle = asyncio.get_running_loop().call_later(remaining, self._backoff_done, queued.info.key)
        self._backoff[queued.info.key] = (queued, handle)

    def _backoff_done(self, key: ObjectKey) -> None:
        entry = self._backoff.pop(key, None)
        if entry is not None:
            self._push_active(entry[0])

    # -- introspection (metrics, tests) ---------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {"active": len(self._active), "backoff": len(self._backoff),
                "unschedulable": len(self._unschedulable), "in_flight": len(self._in_flight)}

    def where(self, key: ObjectKey) -> str | None:
        for name, pool in (("active", self._active), ("backoff", self._backoff),
                           ("unschedulable", self._unschedulable), ("in_flight", self._in_flight)):
            if key in pool:
                return name
        return None
