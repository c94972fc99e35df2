"""The pod garbage collector: pods no kubelet will ever finish, and too many finished pods.

Upstream's ``pkg/controller/podgc``:
- *orphaned* pods — bound to a node that no longer exists — are force-deleted (grace period 0:
  no kubelet is left to confirm the shutdown). The node's absence is confirmed with a live GET
  before deleting, because the node cache may simply not have seen a new node yet (upstream
  quarantines for the same reason);
- *unscheduled terminating* pods — deleted before any node took them — are force-deleted;
- *terminated* pods (phase Succeeded or Failed) beyond ``--terminated-pod-gc-threshold``
  (12500; 0 disables) are deleted oldest first.
In a scale-out cluster a tenant partition holds pods but no nodes: its controller manager is
given the resource partitions (``--resource-providers``, Arktos's flag) and a pod is an orphan
only when its node exists in none of them — judged from every RP's node informer, then confirmed
by asking every RP; an RP whose informer has not synced or that cannot answer means "not known",
and nothing is deleted (Arktos's podgc also skips when the RPs cannot be listed). Without the
flag the nodes are the own server's, as on one cluster — so a TP's controller manager must get
the flag (or run without podgc): on a TP with no nodes every bound pod would look orphaned.

Keys: a pod's `ObjectKey` for the first two checks, `NodeGone` when a node disappears (its pods
are re-checked), and `TERMINATED_PODS` for the threshold sweep, queued only by events of
terminated pods so a cluster at steady state costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Requeue, Watch
from client.errors import Conflict, NotFound
from client.partitions import RESOURCE_PARTITIONS, PartitionInformer
from controllers.nodelifecycle import NODES, NODES_VIEW, POD_BY_NODE_INDEX, PODS, PODS_VIEW, pod_node_name
from controllers.options import controller_options
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

TERMINATED_INDEX = "podgc.terminated"
_TERMINATED_PHASES = ("Succeeded", "Failed")
# A pod whose node cannot be judged yet (a node source not synced) is looked at again after
# upstream's podgc period (gcCheckPeriod, 20 s).
_UNSYNCED_RETRY_S = 20.0


@dataclass(frozen=True, slots=True)
class NodeGone:
    """A node changed (perhaps deleted): re-check the pods bound to it."""

    name: str


TERMINATED_PODS = "terminated-pods"


def is_terminated(pod: dict[str, Any]) -> list[str]:
    """Index value "true" for pods in a terminal phase."""
    return ["true"] if (pod.get("status") or {}).get("phase") in _TERMINATED_PHASES else []


def pod_keys(pod: dict[str, Any]) -> list[Hashable]:
    keys: list[Hashable] = [ObjectKey.of(pod)]
    if is_terminated(pod):
        keys.append(TERMINATED_PODS)
    return keys


def node_keys(node: dict[str, Any]) -> list[Hashable]:
    return [NodeGone(str((node.get("metadata") or {}).get("name") or ""))]


def oldest_first(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Upstream sorts terminated pods by creation time (then name) before deleting the surplus."""
    return sorted(pods, key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""),
                                       str(p["metadata"].get("name") or "")))


@REGISTRY.register
class PodGarbageCollector(Controller):
    name = "podgc"
    workers = 2
    watches = (
        Watch(PODS_VIEW, keys=pod_keys,
              indexers={POD_BY_NODE_INDEX: pod_node_name, TERMINATED_INDEX: is_terminated}),
        Watch(NODES_VIEW, keys=node_keys, source=RESOURCE_PARTITIONS),
    )

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.threshold = controller_options(context).terminated_pod_gc_threshold

    async def reconcile(self, key: Hashable) -> None:
        if key == TERMINATED_PODS:
            await self._collect_terminated()
        elif isinstance(key, NodeGone):
            if not self._node_cached(key.name):
                for pod in self.informer(PODS_VIEW).by_index(POD_BY_NODE_INDEX, key.name):
                    self.queue.add(ObjectKey.of(pod))
        elif isinstance(key, ObjectKey):
            await self._check_pod(key)

    async def _check_pod(self, key: ObjectKey) -> None:
        pod = self.informer(PODS_VIEW).get(key)
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                await self._force_delete(pod, "unscheduled and terminating")
            return
        if self._node_cached(str(node)):
            return
        if not all(item.informer.has_synced for item in self._node_informers()):
            raise Requeue(_UNSYNCED_RETRY_S, "a node source has not synced yet")  # cannot tell yet
        if await self._node_exists(str(node)):
            return  # our cache is behind
        await self._force_delete(pod, f"orphaned: node {node} does not exist")

    def _node_informers(self) -> list[PartitionInformer]:
        return self.partition_informers(NODES_VIEW, RESOURCE_PARTITIONS)

    def _node_cached(self, name: str) -> bool:
        return any(item.informer.get(ObjectKey("", "", name)) is not None for item in self._node_informers())

    async def _node_exists(self, name: str) -> bool:
        """Asks every node source (upstream checks the API, not its cache, before deleting); an
        error from any of them propagates, so the pod is retried rather than deleted."""
        for item in self._node_informers():
            found = await self.client_of(item.partition).list(NODES, field_selector=f"metadata.name={name}")
            if found.get("items"):
                return True
        return False

    async def _collect_terminated(self) -> None:
        if self.threshold <= 0:
            return
        terminated = self.informer(PODS_VIEW).by_index(TERMINATED_INDEX, "true")
        surplus = len(terminated) - self.threshold
        if surplus <= 0:
            return
        log.info("%d terminated pods exceed the threshold %d; deleting the %d oldest",
                 len(terminated), self.threshold, surplus)
        for pod in oldest_first(terminated)[:surplus]:
            await self._force_delete(pod, "terminated pod beyond the threshold")

    async def _force_delete(self, pod: dict[str, Any], why: str) -> None:
        metadata = pod["metadata"]
        try:
            await self.client.delete(PODS, metadata["name"], tenant=metadata.get("tenant"),
                                     namespace=metadata.get("namespace"), grace_period_seconds=0,
                                     preconditions={"uid": metadata["uid"]})
        except (NotFound, Conflict):
            return
        log.info("pod gc: deleted %s/%s/%s (%s)", metadata.get("tenant"), metadata.get("namespace"),
                 metadata["name"], why)
