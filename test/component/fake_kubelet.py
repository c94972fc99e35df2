"""A stand-in kubelet (and, when asked, scheduler) for tests and benches that run no real nodes.

Workload controllers only make progress when pods become Running and Ready, and a graceful pod
deletion only completes when the kubelet confirms it. `FakeKubelet` plays both parts over the API,
as the real components would:
- binds pending pods (``pods/{name}/binding``) when ``bind`` is on: to the node a DaemonSet pod's
  node affinity pins (``matchFields metadata.name``), else round-robin over ``nodes``;
- marks bound pods Running with Ready/ContainersReady conditions and ready container statuses
  (``pods/{name}/status``), ``ready_delay_s`` after it first saw them bound, unless ``hold``
  says to keep the pod unready;
- finishes deletions: a pod with a deletionTimestamp is deleted with ``gracePeriodSeconds=0``.
Use it as an async context manager; it watches pods of every tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from apis.meta import now_rfc3339
from client.cache import ObjectKey
from client.errors import ApiError, Conflict, NotFound
from client.informer import Informer
from client.resources import ALL_TENANTS, ResourceRef, resource_path
from client.rest import ApiClient
from client.workqueue import QueueShutDown, WorkQueue

PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")


class FakeKubelet:
    def __init__(
        self,
        client: ApiClient,
        *,
        nodes: Sequence[str] = (),
        bind: bool = True,
        ready_delay_s: float = 0.0,
        hold: Callable[[dict[str, Any]], bool] | None = None,
        workers: int = 32,
    ) -> None:
        self.client = client
        self.nodes = list(nodes)
        self.bind = bind
        self.ready_delay_s = ready_delay_s
        self.hold = hold or (lambda pod: False)
        self.pods = Informer(client, PODS, tenant=ALL_TENANTS)
        self.bound = 0
        self.readied = 0
        self._queue = WorkQueue("fake-kubelet")
        self._workers = workers
        self._round_robin = itertools.count()
        self._first_bound: dict[ObjectKey, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeKubelet:
        self.pods.add_handler(lambda _type, key: self._queue.add(key))
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.pods.wait_for_sync(), 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._queue.shutdown()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def recheck(self) -> None:
        """Looks at every cached pod again (after ``hold`` or ``nodes`` changed)."""
        for key in self.pods.store.keys():
            self._queue.add(key)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.pods.run())
            for _ in range(self._workers):
                group.create_task(self._work())

    async def _work(self) -> None:
        while True:
            try:
                key = await self._queue.get()
            except QueueShutDown:
                return
            try:
                await self._handle(key)
            except (Conflict, NotFound):
                pass  # the pod changed or went away; its next event brings it back
            except ApiError:
                self._queue.add_rate_limited(key)
            finally:
                self._queue.done(key)

    async def _handle(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        pod = self.pods.get(key)
        if pod is None:
            self._first_bound.pop(key, None)
            return
        metadata, spec = pod["metadata"], pod.get("spec") or {}
        if metadata.get("deletionTimestamp"):
            await self.client.delete(
                PODS, key.name, tenant=key.tenant, namespace=key.namespace, grace_period_seconds=0
            )
            return
        node = spec.get("nodeName")
        if not node:
            if self.bind:
                await self._bind(key, pod)
            return
        if _is_running_ready(pod) or self.hold(pod):
            return
        first = self._first_bound.setdefault(key, time.monotonic())
        wait = self.ready_delay_s - (time.monotonic() - first)
        if wait > 0:
            self._queue.add_after(key, wait)
            return
        await self._mark_running(key, pod)

    async def _bind(self, key: ObjectKey, pod: dict[str, Any]) -> None:
        node = pinned_node(pod)
        if node is None:
            if not self.nodes:
                return
            node = self.nodes[next(self._round_robin) % len(self.nodes)]
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": key.name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        path = resource_path(
            PODS, tenant=key.tenant, namespace=key.namespace, name=key.name, subresource="binding"
        )
        await self.client.request("POST", path, body=body)
        self.bound += 1

    async def _mark_running(self, key: ObjectKey, pod: dict[str, Any]) -> None:
        now = now_rfc3339()
        containers = (pod.get("spec") or {}).get("containers") or []
        conditions = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        status = {
            "phase": "Running",
            "conditions": conditions,
            "startTime": now,
            "hostIP": "10.0.0.1",
            "podIP": "10.244.0.1",
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in containers
            ],
        }
        await self.client.patch(
            PODS,
            key.name,
            {"status": status},
            patch_type="merge",
            tenant=key.tenant,
            namespace=key.namespace,
            subresource="status",
        )
        self.readied += 1


def pinned_node(pod: dict[str, Any]) -> str | None:
    """The node a required node-affinity term pins by ``metadata.name`` (DaemonSet pods)."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            values = field.get("values") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and values:
                return str(values[0])
    return None


def _is_running_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )


def node_body(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    """A Node as a test creates it (no kubelet): Ready, with some capacity."""
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "1100"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": now_rfc3339(),
                    "lastTransitionTime": now_rfc3339(),
                }
            ],
        },
    }


async def ensure_node(client: ApiClient, name: str, **kwargs: Any) -> dict[str, Any]:
    """Creates a Node (status included, through ``/status`` when the create dropped it)."""
    body = node_body(name, **kwargs)
    try:
        node: dict[str, Any] = await client.create(NODES, body)
    except Conflict:
        node = await client.get(NODES, name)
    if not (node.get("status") or {}).get("conditions"):
        node = await client.patch(
            NODES, name, {"status": body["status"]}, patch_type="merge", subresource="status"
        )
    return node
