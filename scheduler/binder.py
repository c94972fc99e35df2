"""The binding cycle: tell the API server where a pod goes, without waiting in the scheduling loop.

upstream runs each pod's binding in its own goroutine after the scheduling cycle has assumed the
pod onto its node, so the next pod is scheduled while the previous ``POST pods/{name}/binding``
is in flight. Here a fixed number of binds may be in flight (`SchedulerSettings.bind_concurrency`);
the scheduling loop waits for a free slot before it takes the next pod, which bounds memory and
API load while keeping round trips off the critical path. A failed bind forgets the assumed pod
and puts it back in the queue (upstream: ``handleBindingCycleError``), unless the pod is gone
or already bound, in which case the watch tells the truth.

Events (``Scheduled``, ``FailedScheduling``) and the ``PodScheduled=False`` status condition are
written by a few background writers from a bounded queue: like upstream's event broadcaster they
never hold up scheduling, and when the queue is full new writes are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from apis.meta import now_rfc3339
from client.errors import ApiError, Conflict, NotFound
from client.events import EventRecorder, EventType
from client.resources import ResourceRef, resource_path
from client.rest import ApiClient
from scheduler.binding_transport import BindingTransport, LeanCreateClient
from scheduler.cache import SchedulerCache
from scheduler.pod_info import DEFAULT_SCHEDULER, PodInfo
from scheduler.queue import QueuedPod, SchedulingQueue
from scheduler.settings import SchedulerSettings

log = logging.getLogger(__name__)
_STOP_GRACE_S = 3.0

PODS = ResourceRef("", "v1", "pods", "Pod")
UNSCHEDULABLE = "Unschedulable"


class BackgroundWriter:
    """A bounded queue of API writes worked by a few tasks; full means dropped."""

    def __init__(self, *, workers: int, size: int) -> None:
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue(maxsize=size)
        self._workers = workers
        self.dropped = 0

    def submit(self, write: Callable[[], Awaitable[None]]) -> None:
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for i in range(self._workers):
                group.create_task(self._work(), name=f"scheduler writer {i}")

    async def _work(self) -> None:
        while True:
            write = await self._queue.get()
            try:
                await write()
            except ApiError as e:
                log.warning("background write failed: %s", e)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        await self._queue.join()


class Binder:
    """Binds assumed pods with bounded concurrency and reports outcomes."""

    def __init__(self, client: ApiClient, cache: SchedulerCache, queue: SchedulingQueue,
                 settings: SchedulerSettings, *, recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.cache = cache
        self.queue = queue
        self.settings = settings
        self.transport = BindingTransport(client.config, connections=settings.bind_concurrency)
        # Events get connections of their own: a bind never queues behind an Event create, and
        # the bind pool never has waiters (one connection per bind slot).
        self._event_transport = BindingTransport(client.config, connections=settings.writer_concurrency)
        self._event_client = LeanCreateClient(client.config, self._event_transport)
        self.recorder = recorder or EventRecorder(self._event_client, DEFAULT_SCHEDULER)
        self.writer = BackgroundWriter(workers=settings.writer_concurrency, size=settings.writer_queue_size)
        self._slots = asyncio.Semaphore(settings.bind_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.bound = 0
        self.bind_failures = 0

    async def wait_for_slot(self) -> None:
        await self._slots.acquire()

    def release_slot(self) -> None:
        """The scheduling cycle took a slot but started no bind (the pod did not fit)."""
        self._slots.release()

    def start(self, queued: QueuedPod, node: str) -> None:
        """Bind in the background; the slot taken by `wait_for_slot` is released when it ends."""
        task = asyncio.create_task(self._bind(queued, node), name=f"bind {queued.info.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, queued: QueuedPod, node: str) -> None:
        pod = queued.info
        try:
            await self.transport.post(resource_path(
                PODS, tenant=pod.tenant or None, namespace=pod.namespace, name=pod.key.name,
                subresource="binding"), _binding(pod, node))
        except (NotFound, Conflict) as e:
            # Deleted, or bound meanwhile (by us earlier, or another scheduler): the watch decides.
            log.info("binding %s to %s not done: %s", pod.describe(), node, e)
            self.cache.forget(pod.key)
            self.queue.done(pod.key)
        except ApiError as e:
            self.bind_failures += 1
            log.warning("binding %s to %s failed: %s", pod.describe(), node, e)
            self.cache.forget(pod.key)
            self.queue.requeue_after_error(queued)
            self.event(pod, "Warning", "FailedScheduling", f"Binding rejected: {e.message}")
        else:
            self.bound += 1
            self.queue.done(pod.key)
            if self.settings.record_scheduled_events:
                self.event(pod, "Normal", "Scheduled",
                           f"Successfully assigned {pod.namespace}/{pod.key.name} to {node}")
        finally:
            self._slots.release()

    def event(self, pod: PodInfo, event_type: EventType, reason: str, message: str) -> None:
        obj = pod.obj
        self.writer.submit(lambda: self.recorder.event(obj, event_type, reason, message))

    def report_unschedulable(self, pod: PodInfo, message: str) -> None:
        """upstream ``handleSchedulingFailure``: a FailedScheduling event, and the pod's
        ``PodScheduled`` condition set to False/Unschedulable with the same message (only when it
        changes, so retries do not rewrite the pod)."""
        self.event(pod, "Warning", "FailedScheduling", message)
        current = next((c for c in (pod.obj.get("status") or {}).get("conditions") or []
                        if isinstance(c, dict) and c.get("type") == "PodScheduled"), None)
        if current is not None and current.get("status") == "False" \
                and current.get("reason") == UNSCHEDULABLE and current.get("message") == message:
            return
        self.writer.submit(lambda: self._set_unschedulable(pod, message))

    async def _set_unschedulable(self, pod: PodInfo, message: str) -> None:
        condition = {"type": "PodScheduled", "status": "False", "reason": UNSCHEDULABLE,
                     "message": message, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
        try:
            await self.client.patch(PODS, pod.key.name, {"status": {"conditions": [condition]}},
                                    patch_type="strategic", tenant=pod.tenant or None,
                                    namespace=pod.namespace, subresource="status")
        except NotFound:
            pass

    async def stop(self) -> None:
        """Let binds in flight finish for a moment, cancel the rest, close the connections.

        Bounded: a bind stuck in retries must not keep the scheduler from stopping."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=_STOP_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.transport.close()
        await self._event_transport.close()
        await self._event_client.close()


def _binding(pod: PodInfo, node: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": pod.key.name, "namespace": pod.namespace}
    if pod.uid:
        metadata["uid"] = pod.uid
    return {"apiVersion": "v1", "kind": "Binding", "metadata": metadata,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
