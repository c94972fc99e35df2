"""A node as the scheduler sees it: allocatable, what is already requested, and its pods.

upstream's ``framework.NodeInfo`` keeps, per node, the sum of the requests of the pods on it (the
ones the kubelet runs *and* the ones the scheduler has only assumed) and the host ports in use,
so that a filter answers "does this pod fit?" with a few integer comparisons. We also
pre-digest the node object itself — its taints split by effect, the
``node.kubernetes.io/unschedulable`` flag and, for Arktos, whether the container and VM runtimes
are ready (node conditions ``ContainerRuntimeReady`` / ``VmRuntimeReady``, ARKTOS.md §4-5) — each
time the node object changes, not each time a pod is tried against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apis.pod_resources import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, amount
from apis.tolerations import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, Taint, taints_of
from client.cache import ObjectKey
from scheduler.pod_info import PodInfo

CONTAINER_RUNTIME_READY = "ContainerRuntimeReady"
VM_RUNTIME_READY = "VmRuntimeReady"
_HARD_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)


@dataclass(slots=True)
class NodeInfo:
    """One node and the pods accounted on it. Mutated only by `scheduler.cache.SchedulerCache`."""

    name: str
    obj: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    unschedulable: bool = False
    hard_taints: tuple[Taint, ...] = ()  # NoSchedule / NoExecute
    soft_taints: tuple[Taint, ...] = ()  # PreferNoSchedule
    container_ready: bool = True
    vm_ready: bool = False
    allocatable_cpu: int = 0
    allocatable_memory: int = 0
    allocatable_ephemeral: int = 0
    allowed_pods: int = 0
    allocatable_scalar: dict[str, int] = field(default_factory=dict)
    requested_cpu: int = 0
    requested_memory: int = 0
    requested_ephemeral: int = 0
    requested_scalar: dict[str, int] = field(default_factory=dict)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0
    pods: dict[ObjectKey, PodInfo] = field(default_factory=dict)
    used_ports: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # (proto, port) -> IPs
    # The quick, pod-independent verdicts for pods without tolerations: container / VM pods.
    open_for_containers: bool = True
    open_for_vms: bool = False
    # allocatable minus requested, kept current so the fit check is four comparisons.
    free_cpu: int = 0
    free_memory: int = 0
    free_ephemeral: int = 0
    free_pods: int = 0
    # A scorer may memoise the node's score for one pod shape here (``memo_key`` is the
    # scorer's interned key object, compared by identity); any change to the node clears it.
    memo_key: object = None
    memo_score: float = 0.0

    def set_node(self, node: dict[str, Any]) -> None:
        """(Re)reads the node object; the pods accounted on it stay."""
        self.obj = node
        metadata = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
        self.unschedulable = bool(spec.get("unschedulable"))
        taints = taints_of(spec.get("taints"))
        self.hard_taints = tuple(t for t in taints if t.effect in _HARD_EFFECTS)
        self.soft_taints = tuple(t for t in taints if t.effect == PREFER_NO_SCHEDULE)
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []
                      if isinstance(c, dict)}
        # A node without the condition (upstream tools create such nodes) runs containers.
        self.container_ready = conditions.get(CONTAINER_RUNTIME_READY, "True") != "False"
        self.vm_ready = conditions.get(VM_RUNTIME_READY) == "True"
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        self.allocatable_cpu = amount(CPU, allocatable.get(CPU, 0))
        self.allocatable_memory = amount(MEMORY, allocatable.get(MEMORY, 0))
        self.allocatable_ephemeral = amount(EPHEMERAL_STORAGE, allocatable.get(EPHEMERAL_STORAGE, 0))
        self.allowed_pods = amount(PODS, allocatable.get(PODS, 0))
        self.allocatable_scalar = {str(k): amount(str(k), v) for k, v in allocatable.items()
                                   if k not in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)}
        blocked = self.unschedulable or bool(self.hard_taints)
        self.open_for_containers = not blocked and self.container_ready
        self.open_for_vms = not blocked and self.vm_ready
        self._refresh_free()

    def _refresh_free(self) -> None:
        self.free_cpu = self.allocatable_cpu - self.requested_cpu
        self.free_memory = self.allocatable_memory - self.requested_memory
        self.free_ephemeral = self.allocatable_ephemeral - self.requested_ephemeral
        self.free_pods = self.allowed_pods - len(self.pods)
        self.memo_key = None

    def add_pod(self, pod: PodInfo) -> None:
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.pods[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: ObjectKey) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        requests = pod.requests
        self.requested_cpu += sign * requests.get(CPU, 0)
        self.requested_memory += sign * requests.get(MEMORY, 0)
        self.requested_ephemeral += sign * requests.get(EPHEMERAL_STORAGE, 0)
        for name, value in pod.scalar_requests:
            self.requested_scalar[name] = self.requested_scalar.get(name, 0) + sign * value
        self.nonzero_cpu += sign * pod.nonzero_cpu
        self.nonzero_memory += sign * pod.nonzero_memory
        for ip, protocol, port in pod.host_ports:
            ips = self.used_ports.setdefault((protocol, port), set())
            if sign > 0:
                ips.add(ip)
            else:
                ips.discard(ip)
                if not ips:
                    del self.used_ports[(protocol, port)]
        self._refresh_free()


def new_node_info(node: dict[str, Any]) -> NodeInfo:
    info = NodeInfo(name=str((node.get("metadata") or {}).get("name") or ""), obj=node)
    info.set_node(node)
    return info
