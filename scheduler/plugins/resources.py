"""NodeResourcesFit (filter and score) and NodeResourcesBalancedAllocation (score).

upstream's ``noderesources`` plugins:
- the filter: the node must hold one more pod (``allocatable.pods``) and, for every resource the
  pod requests (cpu, memory, ephemeral-storage, extended resources), the request must fit into
  allocatable minus what the node's pods — assumed ones included — already request. Each
  shortfall is its own reason (``Insufficient cpu``, ``Too many pods``).
- the score, by strategy: ``LeastAllocated`` (the default) favours the emptiest node,
  ``(allocatable - requested) * 100 / allocatable``; ``MostAllocated`` packs, ``requested * 100 /
  allocatable``; averaged over cpu and memory (weight 1 each), counting the pod being placed.
- balanced allocation favours nodes whose cpu and memory fractions stay close:
  ``(1 - std(fractions)) * 100``.
Scores use the "non-zero" requests (100m / 200 MiB for containers without requests), as upstream,
so a node full of request-less pods does not look empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from apis.pod_resources import CPU, EPHEMERAL_STORAGE, MEMORY
from scheduler.cache import SchedulerCache
from scheduler.framework import MAX_NODE_SCORE, NodeFilter, Reasons
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

ScoringStrategy = Literal["LeastAllocated", "MostAllocated"]
REASON_TOO_MANY_PODS = "Too many pods"


def insufficient(pod: PodInfo, node: NodeInfo) -> Reasons | None:
    """The reasons ``pod`` does not fit ``node``'s free resources, or None when it fits."""
    reasons: list[str] = []
    if len(node.pods) + 1 > node.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    requests = pod.requests
    cpu = requests.get(CPU, 0)
    if cpu and cpu > node.allocatable_cpu - node.requested_cpu:
        reasons.append("Insufficient cpu")
    memory = requests.get(MEMORY, 0)
    if memory and memory > node.allocatable_memory - node.requested_memory:
        reasons.append("Insufficient memory")
    ephemeral = requests.get(EPHEMERAL_STORAGE, 0)
    if ephemeral and ephemeral > node.allocatable_ephemeral - node.requested_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, value in pod.scalar_requests:
        if value > node.allocatable_scalar.get(name, 0) - node.requested_scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return tuple(reasons) if reasons else None


class PlainResourceFit:
    """The fit check for a pod requesting only cpu/memory/ephemeral-storage. A class rather than
    a closure so that the algorithm may inline its four comparisons in its hottest loop."""

    __slots__ = ("cpu", "ephemeral", "memory", "pod")

    def __init__(self, pod: PodInfo) -> None:
        self.pod = pod
        self.cpu = pod.requests.get(CPU, 0)
        self.memory = pod.requests.get(MEMORY, 0)
        self.ephemeral = pod.requests.get(EPHEMERAL_STORAGE, 0)

    def __call__(self, node: NodeInfo) -> Reasons | None:
        if node.free_pods > 0 and self.cpu <= node.free_cpu and self.memory <= node.free_memory \
                and self.ephemeral <= node.free_ephemeral:
            return None
        return insufficient(self.pod, node)


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def __init__(self, strategy: ScoringStrategy = "LeastAllocated") -> None:
        self.strategy = strategy

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter:
        if pod.scalar_requests:
            return lambda node: insufficient(pod, node)
        return PlainResourceFit(pod)

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float]:
        cpu, memory = pod.nonzero_cpu, pod.nonzero_memory
        if self.strategy == "MostAllocated":
            return [(_most(node.nonzero_cpu + cpu, node.allocatable_cpu)
                     + _most(node.nonzero_memory + memory, node.allocatable_memory)) / 2 for node in nodes]
        return [(_least(node.nonzero_cpu + cpu, node.allocatable_cpu)
                 + _least(node.nonzero_memory + memory, node.allocatable_memory)) / 2 for node in nodes]


def _least(requested: int, allocatable: int) -> float:
    if allocatable <= 0 or requested > allocatable:
        return 0.0
    return (allocatable - requested) * MAX_NODE_SCORE / allocatable


def _most(requested: int, allocatable: int) -> float:
    if allocatable <= 0:
        return 0.0
    return min(requested, allocatable) * MAX_NODE_SCORE / allocatable


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float]:
        cpu, memory = pod.nonzero_cpu, pod.nonzero_memory
        scores = []
        for node in nodes:
            cpu_fraction = min((node.nonzero_cpu + cpu) / node.allocatable_cpu, 1.0) \
                if node.allocatable_cpu > 0 else 1.0
            memory_fraction = min((node.nonzero_memory + memory) / node.allocatable_memory, 1.0) \
                if node.allocatable_memory > 0 else 1.0
            # The standard deviation of two values is half their distance.
            scores.append((1.0 - abs(cpu_fraction - memory_fraction) / 2) * MAX_NODE_SCORE)
        return scores


class ResourceAllocationScore:
    """NodeResourcesFit's score and BalancedAllocation's, weighted, computed in one pass.

    Both upstream plugins read the same four numbers per node; scoring hundreds of sampled nodes
    per pod is the scheduler's hottest loop, so the default profile computes
    ``fit_weight * fit + balanced_weight * balanced`` together (equal, by test, to running the
    two plugins separately). The result depends only on the node's accounted requests and the
    pod's non-zero requests, so it is memoised on the node (`NodeInfo.memo_key`, cleared by any
    change to the node): pods of one shape — a Deployment's replicas — recompute only the node
    the previous pod went to.
    """

    name = "NodeResourcesFit+NodeResourcesBalancedAllocation"

    def __init__(self, strategy: ScoringStrategy = "LeastAllocated", *, fit_weight: int = 1,
                 balanced_weight: int = 1) -> None:
        self.strategy = strategy
        self.fit_weight = fit_weight
        self.balanced_weight = balanced_weight
        self._memo_keys: dict[tuple[int, int], tuple[int, int]] = {}

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float]:
        cpu, memory = pod.nonzero_cpu, pod.nonzero_memory
        shape = (cpu, memory)
        key = self._memo_keys.get(shape)
        if key is None:
            if len(self._memo_keys) > 1024:
                self._memo_keys.clear()
            key = self._memo_keys[shape] = shape
        scores: list[float] = []
        append = scores.append
        for node in nodes:
            if node.memo_key is key:
                append(node.memo_score)
                continue
            value = self._score_node(cpu, memory, node)
            node.memo_key = key
            node.memo_score = value
            append(value)
        return scores

    def _score_node(self, cpu: int, memory: int, node: NodeInfo) -> float:
        most = self.strategy == "MostAllocated"
        fit_w, bal_w = float(self.fit_weight), float(self.balanced_weight) * MAX_NODE_SCORE
        half_fit = fit_w * MAX_NODE_SCORE / 2
        alloc_cpu, alloc_mem = node.allocatable_cpu, node.allocatable_memory
        f_cpu = (node.nonzero_cpu + cpu) / alloc_cpu if alloc_cpu > 0 else 2.0
        f_mem = (node.nonzero_memory + memory) / alloc_mem if alloc_mem > 0 else 2.0
        c_cpu = f_cpu if f_cpu < 1.0 else 1.0
        c_mem = f_mem if f_mem < 1.0 else 1.0
        if most:
            fit = (c_cpu if alloc_cpu > 0 else 0.0) + (c_mem if alloc_mem > 0 else 0.0)
        else:
            fit = (1.0 - f_cpu if f_cpu <= 1.0 else 0.0) + (1.0 - f_mem if f_mem <= 1.0 else 0.0)
        return half_fit * fit + bal_w * (1.0 - abs(c_cpu - c_mem) / 2)
