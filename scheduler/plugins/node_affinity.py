"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter, preferred terms score.

upstream's NodeAffinity plugin: a node passes when it has every ``nodeSelector`` label and, if
the pod has ``requiredDuringSchedulingIgnoredDuringExecution``, matches at least one of its node
selector terms (`scheduler.node_terms`). The score is the sum of the weights of the matching
``preferredDuringSchedulingIgnoredDuringExecution`` terms, normalised so the best node gets 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.cache import SchedulerCache
from scheduler.framework import NodeFilter, Reasons, normalize
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"


def matches_required(pod: PodInfo, node: NodeInfo) -> bool:
    labels = node.labels
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return False
    terms = pod.required_node_terms
    return terms is None or terms.matches(labels, node.name)


class NodeAffinity:
    name = "NodeAffinity"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        if not pod.node_selector and pod.required_node_terms is None:
            return None
        rejection: Reasons = (REASON_AFFINITY,)
        return lambda node: None if matches_required(pod, node) else rejection

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float] | None:
        preferred = pod.preferred_node_terms
        if not preferred:
            return None
        scores = []
        for node in nodes:
            fields = {"metadata.name": node.name}
            scores.append(sum(p.weight for p in preferred if p.term.matches(node.labels, fields)))
        return normalize(scores)
