"""PodTopologySpread: keep matching pods evenly spread over topology domains.

upstream's PodTopologySpread plugin. For each constraint, count the pods of the incoming pod's
tenant and namespace that its ``labelSelector`` matches, per value of ``topologyKey`` over the
nodes that count (with ``nodeAffinityPolicy: Honor`` only nodes the pod's own node selector and
required affinity accept; with ``nodeTaintsPolicy: Honor`` only nodes whose taints it tolerates;
and only nodes carrying every constraint's key). ``DoNotSchedule`` constraints filter: placing the
pod in a domain must not make ``count + 1 - min(count)`` exceed ``maxSkew`` (``min`` is 0 while
fewer than ``minDomains`` domains exist). ``ScheduleAnyway`` constraints score: fewer matching
pods in the node's domain is better, each constraint weighted by log(domains + 2). Terminating
pods do not count. upstream's default (system) constraints are not applied.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from apis.tolerations import first_untolerated
from scheduler.cache import SchedulerCache
from scheduler.framework import MAX_NODE_SCORE, NodeFilter, Reasons
from scheduler.node_info import NodeInfo
from scheduler.plugins.node_affinity import matches_required
from scheduler.pod_info import PodInfo, SpreadConstraint

REASON_SKEW = "node(s) didn't match pod topology spread constraints"
REASON_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"


def _counts_node(pod: PodInfo, constraint: SpreadConstraint, node: NodeInfo,
                 constraints: Sequence[SpreadConstraint]) -> bool:
    if not all(c.topology_key in node.labels for c in constraints):
        return False
    if constraint.honor_node_affinity and not matches_required(pod, node):
        return False
    return not constraint.honor_node_taints or first_untolerated(pod.tolerations, node.hard_taints) is None


def domain_counts(pod: PodInfo, constraint: SpreadConstraint, cluster: SchedulerCache,
                  constraints: Sequence[SpreadConstraint]) -> Counter[str]:
    """Matching pods per domain; every domain of a counted node is present (possibly 0)."""
    counts: Counter[str] = Counter()
    counted: dict[str, bool] = {}
    key = constraint.topology_key
    for node in cluster.node_list:
        if _counts_node(pod, constraint, node, constraints):
            counted[node.name] = True
            counts[node.labels[key]] += 0
    for other, node in cluster.pods_in_namespace(pod.tenant, pod.namespace):
        if not counted.get(node.name) or other.key == pod.key:
            continue
        if (other.obj.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if constraint.selector.matches(other.labels):
            counts[node.labels[key]] += 1
    return counts


class PodTopologySpread:
    name = "PodTopologySpread"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        hard = [c for c in pod.spread_constraints if c.hard]
        if not hard:
            return None
        prepared = []
        for constraint in hard:
            counts = domain_counts(pod, constraint, cluster, hard)
            minimum = min(counts.values()) if counts else 0
            if len(counts) < constraint.min_domains:
                minimum = 0
            self_match = 1 if constraint.selector.matches(pod.labels) else 0
            prepared.append((constraint, counts, minimum, self_match))
        missing: Reasons = (REASON_MISSING_LABEL,)
        skewed: Reasons = (REASON_SKEW,)

        def check(node: NodeInfo) -> Reasons | None:
            for constraint, counts, minimum, self_match in prepared:
                value = node.labels.get(constraint.topology_key)
                if value is None:
                    return missing
                if counts.get(value, 0) + self_match - minimum > constraint.max_skew:
                    return skewed
            return None

        return check

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float] | None:
        soft = [c for c in pod.spread_constraints if not c.hard]
        if not soft:
            return None
        raw: list[float | None] = [0.0] * len(nodes)
        for constraint in soft:
            counts = domain_counts(pod, constraint, cluster, soft)
            weight = math.log(len(counts) + 2)
            for i, node in enumerate(nodes):
                value = node.labels.get(constraint.topology_key)
                current = raw[i]
                if value is None or current is None:
                    raw[i] = None  # upstream: a node without the key scores 0
                    continue
                raw[i] = current + counts.get(value, 0) * weight + (constraint.max_skew - 1)
        present = [r for r in raw if r is not None]
        if not present:
            return None
        highest, lowest = max(present), min(present)
        if highest == lowest:
            return [MAX_NODE_SCORE if r is not None else 0.0 for r in raw]
        return [0.0 if r is None else MAX_NODE_SCORE * (highest + lowest - r) / highest for r in raw]
