"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter, preferred terms score.

upstream's NodeAffinity plugin: a node passes when it has every ``nodeSelector`` label and, if
the pod has ``requiredDuringSchedulingIgnoredDuringExecution``, matches at least one of its node
selector terms (`apis.node_affinity`). The score is the sum of the weights of the matching
``preferredDuringSchedulingIgnoredDuringExecution`` terms, normalised so the best node gets 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from apis.node_affinity import NAME_FIELD
from scheduler.cache import SchedulerCache
from scheduler.framework import NodeFilter, Reasons, normalize
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"


def matches_required(pod: PodInfo, node: NodeInfo) -> bool:
    return pod.required_node_affinity.matches(node.labels, node.name)


class NodeAffinity:
    name = "NodeAffinity"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        required = pod.required_node_affinity
        if required.empty:
            return None
        rejection: Reasons = (REASON_AFFINITY,)
        return lambda node: None if required.matches(node.labels, node.name) else rejection

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float] | None:
        preferred = pod.preferred_node_terms
        if not preferred:
            return None
        scores = []
        for node in nodes:
            fields = {NAME_FIELD: node.name}
            scores.append(sum(p.weight for p in preferred if p.term.matches(node.labels, fields)))
        return normalize(scores)
