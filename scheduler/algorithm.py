"""One scheduling cycle: find nodes that fit, score a sample of them, pick the best.

upstream's ``schedulePod`` (``pkg/scheduler/schedule_one.go``):
- filters run node by node starting where the previous cycle stopped (so successive pods look at
  different nodes) and stop once enough feasible nodes are found — upstream's
  ``percentageOfNodesToScore``: adaptive by default, 50 % minus 1 % per 125 nodes, at least 5 %
  and at least 100 nodes (≈ 500 of 5,000 nodes) — because scoring every node of a large cluster
  buys little placement quality for a lot of time;
- a single feasible node is taken without scoring;
- scores are weighted and summed; ties are broken at random.
When no node fits, every node is checked again with every filter, to say why:
``0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.`` —
the first rejecting filter's reasons per node, counted and sorted as upstream prints them. The
fast pass skips that bookkeeping, since almost all pods fit somewhere.

Not yet: preemption (upstream's PostFilter evicting lower-priority pods) and nominated pods;
priority only orders the queue.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.cache import SchedulerCache
from scheduler.framework import FilterPlugin, NodeFilter, ScorePlugin
from scheduler.node_info import NodeInfo
from scheduler.plugins import NODE_GATE_PLUGINS
from scheduler.plugins.resources import PlainResourceFit
from scheduler.pod_info import PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50
MIN_PERCENTAGE_OF_NODES_TO_SCORE = 5
NO_NODES_MESSAGE = "no nodes available to schedule pods"


class FitError(Exception):
    """No node can take the pod; the message is upstream's FailedScheduling text."""

    def __init__(self, pod: PodInfo, num_nodes: int, reasons: Counter[str], failed_plugins: set[str]) -> None:
        self.pod = pod
        self.num_nodes = num_nodes
        self.reasons = reasons
        self.failed_plugins = failed_plugins
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.num_nodes == 0:
            return NO_NODES_MESSAGE
        parts = sorted(f"{count} {reason}" for reason, count in self.reasons.items())
        return f"0/{self.num_nodes} nodes are available: {', '.join(parts)}."


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(num_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for (``percentage`` 0: upstream's adaptive rule)."""
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_nodes
    if percentage <= 0:
        adaptive = BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_nodes // 125
        percentage = max(adaptive, MIN_PERCENTAGE_OF_NODES_TO_SCORE)
    return max(num_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class SchedulingAlgorithm:
    """Filters and scores over one `SchedulerCache`."""

    def __init__(self, cache: SchedulerCache, filters: Sequence[FilterPlugin],
                 scores: Sequence[tuple[ScorePlugin, int]], *, percentage_of_nodes_to_score: int = 0,
                 rng: random.Random | None = None) -> None:
        self.cache = cache
        self.filters = list(filters)
        self.scores = list(scores)
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self._rng = rng or random.Random()
        self._next_start = 0

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        """The node for ``pod``, or `FitError`."""
        nodes = self.cache.node_list
        if not nodes:
            raise FitError(pod, 0, Counter(), {"*"})
        active = [(p.name, f) for p in self.filters if (f := p.prefilter(pod, self.cache)) is not None]
        feasible, evaluated = self._find_feasible(pod, nodes, active)
        if not feasible:
            raise self._diagnose(pod, nodes, active)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        return ScheduleResult(self._select(pod, feasible), evaluated, len(feasible))

    def _find_feasible(self, pod: PodInfo, nodes: Sequence[NodeInfo],
                       active: Sequence[tuple[str, NodeFilter]]) -> tuple[list[NodeInfo], int]:
        count = len(nodes)
        wanted = num_feasible_nodes_to_find(count, self.percentage_of_nodes_to_score)
        gate = [f for name, f in active if name in NODE_GATE_PLUGINS]
        rest = [f for name, f in active if name not in NODE_GATE_PLUGINS]
        # A pod without tolerations can trust the node's precomputed verdict (`NodeInfo.open_for_*`).
        gate_free = not pod.tolerations
        is_vm = pod.is_vm
        feasible: list[NodeInfo]
        start = self._next_start % count
        if gate_free and len(rest) == 1 and isinstance(rest[0], PlainResourceFit):
            # The plain pod (no tolerations, affinity, ports, spread): both checks inlined.
            feasible, evaluated = self._find_plain_feasible(nodes, start, rest[0], is_vm=is_vm, wanted=wanted)
            self._next_start = (start + evaluated) % count
            return feasible, evaluated
        only = rest[0] if len(rest) == 1 else None
        feasible = []
        append = feasible.append
        evaluated = 0
        for node in [*nodes[start:], *nodes[:start]] if start else nodes:
            evaluated += 1
            if not gate_free or not (node.open_for_vms if is_vm else node.open_for_containers):
                if any(f(node) is not None for f in gate):
                    continue
            if only is not None:
                if only(node) is not None:
                    continue
            elif any(f(node) is not None for f in rest):
                continue
            append(node)
            if len(feasible) >= wanted:
                break
        self._next_start = (start + evaluated) % count
        return feasible, evaluated

    def _find_plain_feasible(self, nodes: Sequence[NodeInfo], start: int, fit: PlainResourceFit, *,
                             is_vm: bool, wanted: int) -> tuple[list[NodeInfo], int]:
        """The scan for a plain pod, skipped when every node is known to pass it
        (scheduler/room_floor.py): then the answer is the next ``wanted`` nodes."""
        if is_vm or not self.cache.room.admits(nodes, fit.cpu, fit.memory, fit.ephemeral):
            return _find_plain(nodes, start, fit, is_vm=is_vm, wanted=wanted)
        feasible = list(nodes[start:start + wanted])
        if len(feasible) < wanted:
            feasible += nodes[:wanted - len(feasible)]
        return feasible, wanted

    def _diagnose(self, pod: PodInfo, nodes: Sequence[NodeInfo],
                  active: Sequence[tuple[str, NodeFilter]]) -> FitError:
        reasons: Counter[str] = Counter()
        failed: set[str] = set()
        for node in nodes:
            for name, check in active:
                rejection = check(node)
                if rejection is not None:
                    failed.add(name)
                    reasons.update(rejection)
                    break
        return FitError(pod, len(nodes), reasons, failed)

    def _select(self, pod: PodInfo, feasible: list[NodeInfo]) -> str:
        totals: list[float] | None = None
        for plugin, weight in self.scores:
            scores = plugin.score(pod, self.cache, feasible)
            if scores is None:
                continue
            if weight != 1:
                scores = [s * weight for s in scores]
            totals = scores if totals is None else [t + s for t, s in zip(totals, scores, strict=True)]
        if totals is None:
            return feasible[self._rng.randrange(len(feasible))].name
        best = max(totals)
        # Ties are broken at random (upstream: reservoir sampling among the best); searching from
        # a random offset keeps this at C speed when hundreds of empty nodes tie.
        offset = self._rng.randrange(len(totals))
        try:
            return feasible[totals.index(best, offset)].name
        except ValueError:
            return feasible[totals.index(best)].name


def _find_plain(nodes: Sequence[NodeInfo], start: int, fit: PlainResourceFit, *, is_vm: bool,
                wanted: int) -> tuple[list[NodeInfo], int]:
    """Up to ``wanted`` nodes from ``start`` (round the list) with room for a plain pod, and how
    many were looked at. Reads the list in slices of ``wanted``: when most nodes fit, the first
    slice is enough, so the 5,000-node list is not copied per pod."""
    cpu, memory, ephemeral = fit.cpu, fit.memory, fit.ephemeral
    feasible: list[NodeInfo] = []
    append = feasible.append
    count = len(nodes)
    evaluated = 0
    position = start
    while evaluated < count and len(feasible) < wanted:
        part = nodes[position:min(position + wanted, position + count - evaluated, count)]
        position = (position + len(part)) % count
        for node in part:
            evaluated += 1
            if (node.open_for_vms if is_vm else node.open_for_containers) and node.free_pods > 0 \
                    and cpu <= node.free_cpu and memory <= node.free_memory \
                    and ephemeral <= node.free_ephemeral:
                append(node)
                if len(feasible) >= wanted:
                    break
    return feasible, evaluated
