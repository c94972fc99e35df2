"""Builders for the scheduler unit tests: Node and Pod JSON as the API server stores them."""

from __future__ import annotations

from typing import Any

from scheduler.cache import SchedulerCache
from scheduler.pod_info import PodInfo, pod_info


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    conditions: dict[str, str] | None = None,
    extra_allocatable: dict[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {
        "cpu": cpu,
        "memory": memory,
        "pods": pods,
        "ephemeral-storage": "100Gi",
        **(extra_allocatable or {}),
    }
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": t, "status": s} for t, s in (conditions or {}).items()],
        },
    }


def pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    namespace: str = "default",
    tenant: str = "system",
    labels: dict[str, str] | None = None,
    priority: int | None = None,
    created: str = "2024-01-01T00:00:00Z",
    node_name: str = "",
    vm: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    resources = {"requests": requests} if requests else {}
    body: dict[str, Any] = dict(spec)
    if vm:
        body["virtualMachine"] = {"name": "vm", "image": "cirros", "keyPairName": "k", "resources": resources}
    else:
        body.setdefault("containers", [{"name": "c", "image": "busybox", "resources": resources}])
    if priority is not None:
        body["priority"] = priority
    if node_name:
        body["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "tenant": tenant,
            "uid": f"uid-{name}",
            "labels": labels or {},
            "creationTimestamp": created,
        },
        "spec": body,
    }


def cluster(*nodes: dict[str, Any], bound: tuple[dict[str, Any], ...] = ()) -> SchedulerCache:
    cache = SchedulerCache()
    for n in nodes:
        cache.set_node(n)
    for p in bound:
        cache.observe_bound_pod(pod_info(p))
    return cache


def info(p: dict[str, Any]) -> PodInfo:
    return pod_info(p)
