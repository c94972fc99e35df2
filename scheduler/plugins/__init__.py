"""The filter and score plugins of the default profile, in upstream's order.

Filters run in upstream's default-profile order (NodeUnschedulable, NodeName, TaintToleration,
NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity) with Arktos's
runtime check (`NodeRuntime`) after the taints; the first filter that rejects a node names the
reason counted in FailedScheduling. Score weights are upstream's defaults (TaintToleration 3,
NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1,
NodeResourcesBalancedAllocation 1).
"""

from __future__ import annotations

from scheduler.framework import FilterPlugin, ScorePlugin
from scheduler.plugins.interpod_affinity import InterPodAffinity
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_basics import NodeName, NodeRuntime, NodeUnschedulable, TaintToleration
from scheduler.plugins.node_ports import NodePorts
from scheduler.plugins.resources import NodeResourcesFit, ResourceAllocationScore, ScoringStrategy
from scheduler.plugins.topology_spread import PodTopologySpread

# Pod-independent node checks that `NodeInfo.open_for_*` answers at once for a pod without
# tolerations; the algorithm runs them one by one only to explain a rejection.
NODE_GATE_PLUGINS = ("NodeUnschedulable", "TaintToleration", "NodeRuntime")


def default_filters() -> list[FilterPlugin]:
    return [NodeUnschedulable(), NodeName(), TaintToleration(), NodeRuntime(), NodeAffinity(),
            NodePorts(), NodeResourcesFit(), PodTopologySpread(), InterPodAffinity()]


def default_scores(strategy: ScoringStrategy = "LeastAllocated") -> list[tuple[ScorePlugin, int]]:
    """(plugin, weight) pairs; the two resource scores (weight 1 each) share one pass."""
    return [(TaintToleration(), 3), (NodeAffinity(), 2), (PodTopologySpread(), 2), (InterPodAffinity(), 2),
            (ResourceAllocationScore(strategy, fit_weight=1, balanced_weight=1), 1)]
