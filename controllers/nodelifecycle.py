"""The node lifecycle controller: a node whose kubelet went silent is marked, tainted and drained.

Upstream's ``pkg/controller/nodelifecycle`` plus its taint eviction manager. Kubelets renew a
Lease named after their node in ``kube-node-lease`` (tenant system) and post Ready heartbeats.
When neither changes for ``--node-monitor-grace-period`` (40 s), the node's conditions become
Unknown (reason NodeStatusUnknown, "Kubelet stopped posting node status."), its pods are marked
not Ready (so endpoints drop them), and it gets the taints ``node.kubernetes.io/unreachable`` with
effects NoSchedule (no new pods) and NoExecute (existing pods must go). Each pod bound to it is
deleted once its toleration of that taint runs out (`controllers.node_taints`). When the Lease is
renewed again the taints are removed; Ready comes back when the kubelet posts it.

In a scale-out cluster this controller runs on a resource partition (RP): nodes and leases are
the RP's own, while the pods bound to them live in the tenant partitions (TPs) named by
``--tenant-server-kubeconfig``. As Arktos's node controller does, it watches pods (by
``spec.nodeName``) in every TP, marks them not Ready and evicts them in the TP each came from,
with an Event there; the node's conditions, taints and Events stay in the RP. Without the flag
the pods are the own server's, as on one cluster. A TP that is down only delays its own pods'
eviction (its informer keeps retrying; pods it brings later are evicted then).

Staleness is judged, as upstream does, by when *this process* saw the Lease or heartbeat change
(its monotonic clock), never by comparing the kubelet's timestamps with our clock. Keys are node
names; Lease and pod events map to their node, and each reconcile re-queues the node for the
moment its state next changes by itself (the grace period running out, a toleration expiring).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apis.meta import now_rfc3339
from apis.tolerations import NO_EXECUTE
from apis.wire_types import Condition, TaintJSON, node_status_of
from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Requeue, Watch
from client.errors import ApiError, Conflict, NotFound
from client.events import EventRecorder
from client.informer_factory import InformerView
from client.leaderelection import LEASES
from client.partitions import TENANT_PARTITIONS
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient
from controllers import node_taints
from controllers.options import controller_options
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

NODES = ResourceRef("", "v1", "nodes", "Node")
PODS = ResourceRef("", "v1", "pods", "Pod")
NODE_LEASE_NAMESPACE = "kube-node-lease"
SYSTEM_TENANT = "system"
NODES_VIEW = InformerView(NODES)
NODE_LEASES_VIEW = InformerView(LEASES, tenant=SYSTEM_TENANT, namespace=NODE_LEASE_NAMESPACE)
PODS_VIEW = InformerView(PODS, tenant=ALL_TENANTS)
POD_BY_NODE_INDEX = "spec.nodeName"
_POD_RETRY_S = 2.0  # a failed pod write (e.g. its tenant partition is down) is tried again after
# The conditions upstream sets to Unknown when the kubelet stops reporting.
_MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def pod_node_name(pod: dict[str, Any]) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def _pod_name(pod: dict[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('tenant')}/{metadata.get('namespace')}/{metadata.get('name')}"


def node_key(name: str) -> ObjectKey:
    return ObjectKey("", "", name)


def lease_to_node(lease: dict[str, Any]) -> list[Hashable]:
    return [node_key(str((lease.get("metadata") or {}).get("name") or ""))]


def pod_to_node(pod: dict[str, Any]) -> list[Hashable]:
    return [node_key(name) for name in pod_node_name(pod)]


@dataclass(slots=True)
class _Health:
    """What was last seen of a node's liveness signals, and when (monotonic) they last changed."""

    signals: tuple[object, ...]
    probed_at: float


def ready_condition(node: Mapping[str, Any]) -> Condition | None:
    conditions = node_status_of(node).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def conditions_unknown(conditions: list[Condition], now: str) -> list[Condition]:
    """Upstream's ``tryUpdateNodeHealth`` for a silent kubelet: every monitored condition becomes
    Unknown; a Ready condition the kubelet never posted is added as never updated."""
    updated = [c.copy() for c in conditions]
    for kind in _MONITORED_CONDITIONS:
        current = next((c for c in updated if c.get("type") == kind), None)
        if current is None:
            if kind == "Ready":
                # No lastHeartbeatTime: the heartbeat is the kubelet's signal, never ours.
                updated.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                "message": "Kubelet never posted node status.", "lastTransitionTime": now})
            continue
        if current.get("status") != "Unknown":
            current.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                            "message": "Kubelet stopped posting node status.", "lastTransitionTime": now})
    return updated


@REGISTRY.register
class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 4
    watches = (
        Watch(NODES_VIEW),
        Watch(NODE_LEASES_VIEW, keys=lease_to_node),
        Watch(PODS_VIEW, keys=pod_to_node, indexers={POD_BY_NODE_INDEX: pod_node_name},
              source=TENANT_PARTITIONS),
    )

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        options = controller_options(context)
        self.grace_period_s = options.node_monitor_grace_period_s
        self.default_toleration_s = options.default_toleration_seconds
        self.recorder = EventRecorder(self.client, "node-controller")
        self._pod_recorders: dict[int, EventRecorder] = {}  # per TP client: Events go where the pod is
        self._health: dict[str, _Health] = {}

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        node = self.informer(NODES_VIEW).get(key)
        if node is None:
            self._health.pop(key.name, None)
            return
        silent_for = self._silent_for(key.name, node)
        if silent_for < self.grace_period_s:
            await self._healthy(node)
            raise Requeue(self.grace_period_s - silent_for + 0.05, "node health check")
        node = await self._mark_unreachable(node)
        # Pods live in the tenant partitions: a failure there (a TP down) is retried for that pod
        # alone, never holding up the node's taints or the other partitions' pods.
        failed = await self._mark_pods_not_ready(key.name)
        next_eviction, failed_evictions = await self._evict_pods(node)
        if failed or failed_evictions:
            next_eviction = min(next_eviction or _POD_RETRY_S, _POD_RETRY_S)
        if next_eviction is not None:
            raise Requeue(next_eviction, "pod toleration pending or pod writes to retry")

    def _silent_for(self, name: str, node: dict[str, Any]) -> float:
        """Seconds since the node's Lease renewTime or Ready heartbeat last changed (as seen here)."""
        lease = self.informer(NODE_LEASES_VIEW).get(ObjectKey(SYSTEM_TENANT, NODE_LEASE_NAMESPACE, name))
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        ready = ready_condition(node) or {}
        # Only the kubelet writes these two; marking the node Unknown changes neither.
        signals = (renew, ready.get("lastHeartbeatTime"))
        now = time.monotonic()
        health = self._health.get(name)
        if health is None or health.signals != signals:
            # First sight counts as a probe: upstream gives every node a full grace period at start.
            health = self._health[name] = _Health(signals, now)
        return now - health.probed_at

    async def _healthy(self, node: dict[str, Any]) -> None:
        """The kubelet is back (or never left): drop the unreachable taints if they are set."""
        taints = (node.get("spec") or {}).get("taints") or []
        kept = node_taints.without_unreachable_taints(taints)
        if len(kept) == len(taints):
            return
        await self._put_taints(node, kept)
        log.info("node %s: lease renewed; unreachable taints removed", node["metadata"]["name"])

    async def _mark_unreachable(self, node: dict[str, Any]) -> dict[str, Any]:
        """Conditions Unknown, unreachable taints; answers the node as written."""
        name = node["metadata"]["name"]
        now = datetime.now(UTC)
        status = node.get("status") or {}
        conditions = status.get("conditions") or []
        updated = conditions_unknown(conditions, now_rfc3339(now))
        if updated != conditions:
            node = await self._write(node, {**node, "status": {**status, "conditions": updated}}, "status")
            log.info("node %s: kubelet stopped posting status; Ready=Unknown", name)
            await self.recorder.event(node, "Normal", "NodeNotReady",
                                      f"Node {name} status is now: NodeNotReady")
        taints = (node.get("spec") or {}).get("taints") or []
        tainted = node_taints.with_unreachable_taints(taints, now)
        if tainted != taints:
            node = await self._put_taints(node, tainted)
            log.info("node %s: tainted %s", name, node_taints.UNREACHABLE_TAINT_KEY)
        return node

    async def _put_taints(self, node: dict[str, Any], taints: list[TaintJSON]) -> dict[str, Any]:
        spec = {**(node.get("spec") or {}), "taints": taints}
        if not taints:
            spec.pop("taints")
        return await self._write(node, {**node, "spec": spec}, None)

    async def _write(self, node: dict[str, Any], body: dict[str, Any],
                     subresource: str | None) -> dict[str, Any]:
        try:
            return await self.client.update(NODES, body, subresource=subresource)
        except Conflict as e:
            raise Requeue(0.2, f"node {node['metadata']['name']} changed meanwhile") from e

    def _pods_on(self, node_name: str) -> list[tuple[ApiClient, dict[str, Any]]]:
        """The pods bound to ``node_name`` in every tenant partition, with the client of each's."""
        return [(self.client_of(item.partition), pod)
                for item in self.partition_informers(PODS_VIEW, TENANT_PARTITIONS)
                for pod in item.informer.by_index(POD_BY_NODE_INDEX, node_name)]

    def _pod_recorder(self, client: ApiClient) -> EventRecorder:
        recorder = self._pod_recorders.get(id(client))
        if recorder is None:
            recorder = self._pod_recorders[id(client)] = EventRecorder(client, "node-controller")
        return recorder

    async def _mark_pods_not_ready(self, node_name: str) -> int:
        """Upstream ``MarkPodsNotReady``: a pod on a silent node is not serving anything we know of.
        Pods already not Ready are skipped, so calling it on every pass is cheap; answers how many
        writes failed (upstream retries a node whose pods could not all be marked)."""
        now = now_rfc3339()
        failed = 0
        for client, pod in self._pods_on(node_name):
            status = pod.get("status") or {}
            conditions = [dict(c) for c in status.get("conditions") or []]
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            ready.update(status="False", lastTransitionTime=now)
            try:
                await client.update(PODS, {**pod, "status": {**status, "conditions": conditions}},
                                    subresource="status")
            except (Conflict, NotFound):
                continue  # changed or gone; the pod's next event brings it back here if it matters
            except ApiError as e:
                failed += 1
                log.warning("node %s: could not mark pod %s not ready: %s", node_name, _pod_name(pod), e)
        return failed

    async def _evict_pods(self, node: dict[str, Any]) -> tuple[float | None, int]:
        """Deletes the node's pods whose toleration ran out; answers seconds to the next one due
        and how many deletions failed."""
        taint = node_taints.find_taint((node.get("spec") or {}).get("taints") or [],
                                       node_taints.UNREACHABLE_TAINT_KEY, NO_EXECUTE)
        if taint is None:
            return None, 0
        now = datetime.now(UTC)
        next_due: float | None = None
        failed = 0
        for client, pod in self._pods_on(node["metadata"]["name"]):
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            due = node_taints.eviction_due(pod, taint, default_seconds=self.default_toleration_s, now=now)
            if due is None:
                continue
            wait = (due - now).total_seconds()
            if wait > 0:
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            try:
                await self._evict(client, pod)
            except ApiError as e:
                failed += 1
                log.warning("could not evict pod %s from unreachable node %s: %s", _pod_name(pod),
                            node["metadata"]["name"], e)
        return next_due, failed

    async def _evict(self, client: ApiClient, pod: dict[str, Any]) -> None:
        metadata = pod["metadata"]
        try:
            await client.delete(PODS, metadata["name"], tenant=metadata.get("tenant"),
                                namespace=metadata.get("namespace"), preconditions={"uid": metadata["uid"]})
        except (NotFound, Conflict):
            return  # gone already, or replaced by a pod of the same name
        log.info("evicted pod %s from unreachable node %s", _pod_name(pod), pod["spec"].get("nodeName"))
        await self._pod_recorder(client).event(
            pod, "Normal", "TaintManagerEviction",
            f"Marking for deletion Pod {metadata.get('namespace')}/{metadata['name']}")
