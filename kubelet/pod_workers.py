"""The pods one tenant partition binds to this process's nodes: one watch, one serialised worker per pod.

The kubelet watches only pods bound to it, across every tenant
(``/api/v1/tenants/all/pods?fieldSelector=spec.nodeName=NAME``). A hollow process hosting many
nodes shares one watch of every bound pod (``spec.nodeName!=``) and routes each pod to its node,
so 500 nodes cost the API server one watch, not 500. With tenant partitions (Arktos's
``--tenant-server-kubeconfig``) there is one `PodWorkers` per partition, each on its own client and
watch, so a partition that is down stalls only its own pods (`kubelet.tenant_partition`). Like
upstream's ``podWorkers``, each pod gets its own worker that runs one sync at a time and coalesces
everything that happened meanwhile (informer events, runtime changes, back-off timers) into the
next sync; a quiet pod is still looked at every ``resync_s``. Workers are keyed by pod uid, which
the API servers draw at random, so pods of two partitions with the same tenant, namespace and name
never share one. What the runtimes hold for pods that still exist is adopted by those pods' first
sync; what they hold for pods no partition has is removed by `kubelet.orphans`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from client.cache import ObjectKey
from client.informer import Informer
from client.resources import ALL_TENANTS
from client.rest import ApiClient
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.status_writer import PODS

log = logging.getLogger(__name__)

_FAILED_SYNC_RETRY_S = 5.0


@dataclass(slots=True)
class _Worker:
    key: ObjectKey
    node: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)


def field_selector_for(node_names: list[str]) -> str:
    """One node watches its own name; many hollow nodes watch every bound pod and filter."""
    if len(node_names) == 1:
        return f"spec.nodeName={node_names[0]}"
    return "spec.nodeName!="


class PodWorkers:
    def __init__(self, client: ApiClient, pod_syncer: PodSyncer, nodes: dict[str, NodeContext], *,
                 resync_s: float = 30.0, partition: str = "") -> None:
        self.client = client
        self.partition = partition  # which tenant partition, for logs
        self.pod_syncer = pod_syncer
        self.nodes = nodes
        self.resync_s = resync_s
        self.syncs = 0
        self.informer = Informer(client, PODS, tenant=ALL_TENANTS,
                                 field_selector=field_selector_for(list(nodes)))
        self._workers: dict[str, _Worker] = {}
        self._group: asyncio.TaskGroup | None = None
        self._synced = asyncio.Event()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        self.informer.add_handler(self._on_pod_event)
        for node in self.nodes.values():
            node.registry.on_change(self.kick)
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self.informer.run(), name=f"pod informer {self.partition}")
            await self.informer.wait_for_sync()
            for uid in list(self._workers):
                self._start(uid)
            self._synced.set()

    def _on_pod_event(self, event_type: str, key: ObjectKey) -> None:
        pod = self.informer.get(key) or self.informer.last_state(key)
        if pod is None:
            return
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        uid = str(pod["metadata"].get("uid", ""))
        if node not in self.nodes or not uid:
            return
        worker = self._workers.get(uid)
        if worker is None:
            self._workers[uid] = _Worker(key, node)
            if self._synced.is_set():
                self._start(uid)
        else:
            worker.wake.set()

    def kick(self, uid: str) -> None:
        """Something happened to pod ``uid`` (its containers changed): sync it soon."""
        worker = self._workers.get(uid)
        if worker is not None:
            worker.wake.set()

    def _start(self, uid: str) -> None:
        assert self._group is not None
        self._workers[uid].wake.set()
        self._group.create_task(self._work(uid), name=f"pod worker {uid}")

    async def _work(self, uid: str) -> None:
        worker = self._workers[uid]
        node = self.nodes[worker.node]
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(self.resync_s * random.uniform(0.9, 1.1)):
                    await worker.wake.wait()
            except TimeoutError:
                pass  # periodic resync
            worker.wake.clear()
            pod = self.informer.get(worker.key)
            if pod is None or str(pod["metadata"].get("uid")) != uid:
                await self._forget(node, uid)
                self._workers.pop(uid, None)
                return
            self.syncs += 1
            try:
                requeue = await self.pod_syncer.sync_pod(node, pod)
            except Exception:  # a failed sync is retried; the worker must outlive it
                log.exception("sync of pod %s from %s failed", worker.key, self.partition)
                requeue = _FAILED_SYNC_RETRY_S
            if requeue is not None:
                loop.call_later(max(requeue, 0.05), worker.wake.set)

    async def _forget(self, node: NodeContext, uid: str) -> None:
        for runtime in node.registry.all():
            await self.pod_syncer.forget(runtime, uid, node)

    def known_uids(self) -> set[str]:
        """The uids of every pod the watch holds (after `wait_for_sync`: every pod bound here)."""
        return {str(p["metadata"].get("uid")) for p in self.informer.objects()}

    def pods_of(self, node: str) -> list[dict[str, Any]]:
        return [p for p in self.informer.objects() if (p.get("spec") or {}).get("nodeName") == node]
