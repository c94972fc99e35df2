"""The scheduler: informers feed the cache and the queue; one loop schedules; binders bind.

Shape of upstream's ``pkg/scheduler/scheduler.go`` + ``eventhandlers.go``:
- one pod informer over every tenant (``/api/v1/tenants/all/pods``). Its events are routed as
  upstream's filtering handlers route them: a pod with ``spec.nodeName`` is accounted in the cache
  (confirming an assumed pod, or adding one bound elsewhere; a finished pod — Succeeded/Failed —
  frees its node); a pod without one that names ``default-scheduler`` and is not being deleted
  waits in the queue. One watch rather than two (unscheduled / scheduled field selectors) because
  a binding then costs the API server and us one event, not a DELETED plus an ADDED;
- nodes (cluster scope) update the cache; a new node, or a change to what filters read (labels,
  taints, cordon, allocatable, runtime conditions), moves unschedulable pods back to the queue.
  In a scale-out cluster (``--resource-providers``) the nodes come from every resource partition
  (`scheduler.node_sources`), while pods, namespaces and bindings stay with the own (tenant)
  partition;
- namespaces feed ``namespaceSelector`` of affinity terms.
Cluster events move only pods whose rejecting filters they could change (see `queue`).
The scheduling loop is synchronous between its awaits: take a bind slot, pop the best pod, run
the algorithm on the cache, assume, start the bind, yield.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from client.cache import ObjectKey
from client.informer import Informer
from client.informer_factory import InformerView, SharedInformers
from client.partitions import RESOURCE_PARTITIONS, Partition, PartitionInformers
from client.resources import ALL_TENANTS, NAMESPACES
from client.rest import ApiClient
from scheduler.algorithm import FitError, SchedulingAlgorithm
from scheduler.binder import PODS, Binder
from scheduler.cache import SchedulerCache
from scheduler.node_info import NodeInfo
from scheduler.node_sources import NODES, NodeSources
from scheduler.plugins import default_filters, default_scores
from scheduler.pod_info import pod_info, responsible_for
from scheduler.queue import ALL_PLUGINS, QueuedPod, SchedulingQueue
from scheduler.settings import SchedulerSettings

log = logging.getLogger(__name__)

_TERMINAL_PHASES = ("Succeeded", "Failed")
# Which filters a cluster event can turn from "no" to "yes" (upstream's EventsToRegister, coarse).
_POD_REMOVED_HELPS = ("NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread")
_POD_ADDED_HELPS = ("InterPodAffinity", "PodTopologySpread")
_NAMESPACE_HELPS = ("InterPodAffinity",)
_STATS_EVERY_S = 10.0
_LEFTOVER_FLUSH_EVERY_S = 30.0


def _node_signature(node: NodeInfo) -> tuple[Any, ...]:
    """What filters read from a node; a change in anything else (heartbeats) moves no pod."""
    return (node.labels, node.unschedulable, node.hard_taints, node.soft_taints, node.container_ready,
            node.vm_ready, node.allocatable_cpu, node.allocatable_memory, node.allocatable_ephemeral,
            node.allowed_pods, node.allocatable_scalar)


class Scheduler:
    """Schedules every tenant's pending pods onto nodes until cancelled."""

    def __init__(self, client: ApiClient, settings: SchedulerSettings | None = None, *,
                 resource_providers: Sequence[Partition] = ()) -> None:
        self.client = client
        self.settings = settings or SchedulerSettings()
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(initial_backoff_s=self.settings.initial_backoff_s,
                                     max_backoff_s=self.settings.max_backoff_s)
        self.algorithm = SchedulingAlgorithm(
            self.cache, default_filters(), default_scores(self.settings.scoring_strategy),
            percentage_of_nodes_to_score=self.settings.percentage_of_nodes_to_score)
        self.binder = Binder(client, self.cache, self.queue, self.settings)
        self.informers = SharedInformers(client)
        self.pods: Informer = self.informers.informer(InformerView(PODS, tenant=ALL_TENANTS))
        self.partitions = PartitionInformers(self.informers, {RESOURCE_PARTITIONS: resource_providers})
        self.node_sources = NodeSources(self.partitions.informers(InformerView(NODES), RESOURCE_PARTITIONS))
        self.namespaces: Informer = self.informers.informer(InformerView(NAMESPACES, tenant=ALL_TENANTS))
        self.scheduled = 0
        self.unschedulable_attempts = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.informers.run(), name="scheduler informers")
            group.create_task(self.partitions.run(), name="resource partition informers")
            group.create_task(self.binder.writer.run(), name="scheduler writers")
            await self.informers.wait_for_sync()
            await self.partitions.wait_for_sync(self.node_sources.items)  # a down RP: bounded
            self.node_sources.add_handler(self._on_node)
            self.namespaces.add_handler(self._on_namespace)
            self.pods.add_handler(self._on_pod)
            log.info("caches synced: %d nodes (%s), %d pods; scheduling", len(self.cache.node_list),
                     self.node_sources.describe(), len(self.pods.store))
            group.create_task(self._housekeeping(), name="scheduler housekeeping")
            try:
                await self._schedule_loop()
            finally:
                await self.binder.stop()

    # -- the scheduling loop --------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while True:
            await self.binder.wait_for_slot()
            queued = await self.queue.pop()
            self.schedule_one(queued)
            await asyncio.sleep(0)  # let informers and binds run between pods

    def schedule_one(self, queued: QueuedPod) -> None:
        """One scheduling cycle for ``queued`` (a bind slot is held)."""
        pod = queued.info
        try:
            result = self.algorithm.schedule(pod)
        except FitError as e:
            self.binder.release_slot()
            self.unschedulable_attempts += 1
            log.info("pod %s is unschedulable: %s", pod.describe(), e.message)
            self.queue.requeue_unschedulable(queued, e.failed_plugins)
            self.binder.report_unschedulable(pod, e.message)
            return
        self.cache.assume(pod, result.node)
        self.scheduled += 1
        log.debug("pod %s -> %s (%d feasible of %d evaluated)", pod.describe(), result.node,
                  result.feasible, result.evaluated)
        self.binder.start(queued, result.node)

    async def _housekeeping(self) -> None:
        last_flush = time.monotonic()
        last_stats: tuple[object, ...] = ()
        while True:
            await asyncio.sleep(_STATS_EVERY_S)
            if time.monotonic() - last_flush >= _LEFTOVER_FLUSH_EVERY_S:
                self.queue.flush_leftovers()
                last_flush = time.monotonic()
            stats = (self.scheduled, self.binder.bound, self.unschedulable_attempts, self.queue.counts())
            if stats == last_stats:
                continue  # an idle scheduler does not repeat itself
            last_stats = stats
            log.info("scheduled %d, bound %d, bind failures %d, unschedulable attempts %d, queue %s, "
                     "assumed %d, writes dropped %d", self.scheduled, self.binder.bound,
                     self.binder.bind_failures, self.unschedulable_attempts, self.queue.counts(),
                     self.cache.assumed_count, self.binder.writer.dropped)

    # -- informer handlers (synchronous: they only update the cache and the queue) ---------------

    def _on_pod(self, event_type: str, key: ObjectKey) -> None:
        if event_type == "DELETED":
            self.queue.delete(key)
            if self.cache.node_of(key) is not None:
                self.cache.remove_pod(key)
                self.queue.move_for_event(_POD_REMOVED_HELPS)
            return
        pod = self.pods.get(key)
        if pod is None:
            return
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if node_name:
            self._on_bound_pod(key, pod, str(node_name))
        elif responsible_for(pod):
            if not self.cache.is_assumed(key):  # an assumed pod is ours, being bound right now
                self.queue.add(pod_info(pod))
        else:
            self.queue.delete(key)

    def _on_bound_pod(self, key: ObjectKey, pod: dict[str, Any], node_name: str) -> None:
        self.queue.delete(key)
        if (pod.get("status") or {}).get("phase") in _TERMINAL_PHASES:
            if self.cache.node_of(key) is not None:
                self.cache.remove_pod(key)
                self.queue.move_for_event(_POD_REMOVED_HELPS)
            return
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if self.cache.confirm(key, node_name, labels):
            return  # our own binding, seen by the watch
        was_assumed = self.cache.is_assumed(key)
        known = self.cache.node_of(key) is not None
        self.cache.observe_bound_pod(pod_info(pod), node_name)
        if not was_assumed:
            self.queue.move_for_event(_POD_ADDED_HELPS if not known else _POD_REMOVED_HELPS)

    def _on_node(self, event_type: str, key: ObjectKey, node: dict[str, Any] | None) -> None:
        """A node event of the partition that owns the node (`NodeSources` drops the others)."""
        if event_type == "DELETED":
            self.cache.remove_node(key.name)
            return
        if node is None:
            return
        existing = self.cache.nodes.get(key.name)
        before = _node_signature(existing) if existing is not None and existing.obj else None
        info = self.cache.set_node(node)
        if before != _node_signature(info):
            self.queue.move_for_event((ALL_PLUGINS,))

    def _on_namespace(self, event_type: str, key: ObjectKey) -> None:
        namespace = key.name
        if event_type == "DELETED":
            self.cache.set_namespace(key.tenant, namespace, None)
            return
        obj = self.namespaces.get(key) or {}
        labels = {str(k): str(v) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items()}
        if self.cache.namespace_labels(key.tenant, namespace) != labels:
            self.cache.set_namespace(key.tenant, namespace, labels)
            self.queue.move_for_event(_NAMESPACE_HELPS)
