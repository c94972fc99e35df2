"""The scheduler's picture of the cluster: nodes, and which pod is accounted on which node.

upstream's scheduler cache (``pkg/scheduler/internal/cache``) exists because binding is
asynchronous: once a node is chosen, the pod must count against that node *at once* — before the
API server has confirmed the binding and the watch has brought the pod back with
``spec.nodeName`` — or the next pods would be placed on capacity that is already promised. So a
pod is *assumed* onto a node when chosen, *confirmed* when the watch shows it bound there, and
*forgotten* if the binding fails. Pods bound by someone else (or before a restart) come in
through the same watch and are simply added.

The scheduling loop runs synchronously between awaits in one event loop, so this cache doubles
as upstream's per-cycle snapshot: nothing changes under a scheduling cycle. Alongside the nodes
it keeps the indexes the affinity and spread plugins need — pods by (tenant, namespace) and the
labels of namespaces — so those plugins look at the pods they can match, not at every pod.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from client.cache import ObjectKey
from scheduler.node_info import NodeInfo, new_node_info
from scheduler.pod_info import PodInfo
from scheduler.room_floor import RoomFloor, room_of

log = logging.getLogger(__name__)

NamespaceKey = tuple[str, str]  # (tenant, namespace)


class SchedulerCache:
    """Nodes with their accounted pods; assumed pods; namespace indexes."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}  # includes placeholders for pods on unknown nodes
        self.node_list: list[NodeInfo] = []  # nodes that exist, in a stable order for sampling
        self._pod_node: dict[ObjectKey, str] = {}
        self._assumed: set[ObjectKey] = set()
        self._by_namespace: dict[NamespaceKey, dict[ObjectKey, PodInfo]] = {}
        self._namespace_labels: dict[NamespaceKey, dict[str, str]] = {}
        # Pods whose own terms the affinity plugins must evaluate against an incoming pod.
        self.affinity_pods: dict[ObjectKey, tuple[PodInfo, str]] = {}
        self.nodes_with_soft_taints: set[str] = set()  # PreferNoSchedule: only then taints score
        self.anti_affinity_pods: dict[ObjectKey, tuple[PodInfo, str]] = {}
        self.room = RoomFloor()  # lets a plain pod skip the fit scan when every node has room

    # -- nodes ----------------------------------------------------------------------------------

    def set_node(self, node: dict[str, Any]) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self.nodes.get(name)
        if info is None:
            info = new_node_info(node)
            self.nodes[name] = info
            self.node_list.append(info)
        elif not self._listed(info):
            info.set_node(node)  # a placeholder that held pods bound before the node appeared
            self.node_list.append(info)
        else:
            before = room_of(info)
            info.set_node(node)
            if any(now > then for now, then in zip(room_of(info), before, strict=True)):
                self.room.raised()
        self.room.lowered_to(info)
        self.room.set_open(info)
        if info.soft_taints:
            self.nodes_with_soft_taints.add(name)
        else:
            self.nodes_with_soft_taints.discard(name)
        return info

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        self.nodes_with_soft_taints.discard(name)
        if self._listed(info):
            self.node_list.remove(info)
            self.room.forget(name)
        if not info.pods:
            del self.nodes[name]
        else:  # upstream keeps the pods until they are deleted too
            info.obj = {}

    @staticmethod
    def _listed(info: NodeInfo) -> bool:
        return bool(info.obj)

    # -- pods -----------------------------------------------------------------------------------

    def assume(self, pod: PodInfo, node_name: str) -> None:
        """Account ``pod`` on ``node_name`` before the binding is confirmed."""
        self._place(pod, node_name)
        self._assumed.add(pod.key)

    def forget(self, key: ObjectKey) -> None:
        """Undo `assume` (the binding failed)."""
        if key in self._assumed:
            self._assumed.discard(key)
            self.remove_pod(key)

    def is_assumed(self, key: ObjectKey) -> bool:
        return key in self._assumed

    def node_of(self, key: ObjectKey) -> str | None:
        return self._pod_node.get(key)

    def confirm(self, key: ObjectKey, node_name: str, labels: dict[str, str]) -> bool:
        """The watch shows an assumed pod bound where we put it, labels unchanged: it is now
        simply accounted (nothing to recompute). False when that is not the case."""
        if key not in self._assumed or self._pod_node.get(key) != node_name:
            return False
        current = self.nodes[node_name].pods.get(key)
        if current is None or current.labels != labels:
            return False
        self._assumed.discard(key)
        return True

    def observe_bound_pod(self, pod: PodInfo, node_name: str | None = None) -> None:
        """The watch shows ``pod`` bound to ``node_name`` (default ``spec.nodeName``): (re)add it."""
        self._assumed.discard(pod.key)
        self._place(pod, node_name or pod.node_name)

    def remove_pod(self, key: ObjectKey) -> None:
        self._assumed.discard(key)
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return
        info = self.nodes.get(node_name)
        pod = info.remove_pod(key) if info is not None else None
        if pod is not None:
            self.room.raised()
            self.affinity_pods.pop(key, None)
            self.anti_affinity_pods.pop(key, None)
            bucket = self._by_namespace.get((pod.tenant, pod.namespace))
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._by_namespace[(pod.tenant, pod.namespace)]
        if info is not None and not info.obj and not info.pods:
            del self.nodes[node_name]

    def _place(self, pod: PodInfo, node_name: str) -> None:
        self.remove_pod(pod.key)
        info = self.nodes.get(node_name)
        if info is None:
            info = NodeInfo(name=node_name, obj={})  # placeholder until the node is seen
            self.nodes[node_name] = info
        info.add_pod(pod)
        if info.obj:
            self.room.lowered_to(info)
        self._pod_node[pod.key] = node_name
        self._by_namespace.setdefault((pod.tenant, pod.namespace), {})[pod.key] = pod
        if pod.has_pod_affinity:
            self.affinity_pods[pod.key] = (pod, node_name)
        if pod.required_anti_affinity:
            self.anti_affinity_pods[pod.key] = (pod, node_name)

    # -- what the affinity and spread plugins read ----------------------------------------------

    def pods_in_namespace(self, tenant: str, namespace: str) -> Iterator[tuple[PodInfo, NodeInfo]]:
        for key, pod in (self._by_namespace.get((tenant, namespace)) or {}).items():
            node = self.nodes.get(self._pod_node.get(key, ""))
            if node is not None and node.obj:
                yield pod, node

    def namespaces_of_tenant(self, tenant: str) -> list[str]:
        names = {ns for (t, ns) in self._by_namespace if t == tenant}
        names.update(ns for (t, ns) in self._namespace_labels if t == tenant)
        return sorted(names)

    def namespace_labels(self, tenant: str, namespace: str) -> dict[str, str]:
        return self._namespace_labels.get((tenant, namespace)) or {}

    def set_namespace(self, tenant: str, namespace: str, labels: dict[str, str] | None) -> None:
        if labels is None:
            self._namespace_labels.pop((tenant, namespace), None)
        else:
            self._namespace_labels[(tenant, namespace)] = labels

    def all_pods(self) -> Iterator[tuple[PodInfo, NodeInfo]]:
        for node in self.node_list:
            for pod in node.pods.values():
                yield pod, node

    @property
    def assumed_count(self) -> int:
        return len(self._assumed)
