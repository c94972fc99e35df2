"""InterPodAffinity: place a pod near (affinity) or away from (anti-affinity) other pods.

upstream's InterPodAffinity plugin, per topology domain (the value of ``topologyKey`` on a node):
- existing pods' *required anti-affinity* terms that select the incoming pod forbid their domains;
- the incoming pod's *required affinity* needs, for every term, a domain already holding a pod
  that matches all its terms — except for the first pod of a group: when no pod matches yet and
  the pod matches its own terms, any node with the topology keys will do;
- the incoming pod's *required anti-affinity* forbids domains holding a pod its terms select.
Scores add preferred weights per domain: + for the incoming pod's preferred affinity, - for its
preferred anti-affinity, and symmetrically for existing pods' preferred terms (and their required
affinity, at upstream's hardPodAffinityWeight 1) that select the incoming pod; min-max normalised.

Arktos: terms only ever see pods of the incoming pod's own tenant; ``namespaces`` and
``namespaceSelector`` name namespaces of that tenant (ARKTOS.md §1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from scheduler.cache import SchedulerCache
from scheduler.framework import NodeFilter, Reasons, min_max_normalize
from scheduler.node_info import NodeInfo
from scheduler.pod_info import AffinityTerm, PodInfo

REASON_EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI = "node(s) didn't match pod anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

TopologyCounts = Counter[tuple[str, str]]


def term_selects(term: AffinityTerm, owner_tenant: str, pod: PodInfo, cluster: SchedulerCache) -> bool:
    """Does ``term`` (of a pod in ``owner_tenant``) select ``pod``?"""
    if pod.tenant != owner_tenant:
        return False
    if pod.namespace not in term.namespaces:
        selector = term.namespace_selector
        if selector is None or not selector.matches(cluster.namespace_labels(pod.tenant, pod.namespace)):
            return False
    return term.selector.matches(pod.labels)


def candidate_pods(terms: Sequence[AffinityTerm], tenant: str,
                   cluster: SchedulerCache) -> Iterator[tuple[PodInfo, NodeInfo]]:
    """Pods that ``terms`` might select: those in the namespaces the terms cover."""
    namespaces: set[str] = set()
    for term in terms:
        namespaces.update(term.namespaces)
        if term.namespace_selector is not None:
            namespaces.update(ns for ns in cluster.namespaces_of_tenant(tenant)
                              if term.namespace_selector.matches(cluster.namespace_labels(tenant, ns)))
    for namespace in sorted(namespaces):
        yield from cluster.pods_in_namespace(tenant, namespace)


def _count(counts: TopologyCounts, terms: Iterable[AffinityTerm], node: NodeInfo, amount: int = 1) -> None:
    for term in terms:
        value = node.labels.get(term.topology_key)
        if value is not None:
            counts[(term.topology_key, value)] += amount


def _has_all_keys(node: NodeInfo, terms: Sequence[AffinityTerm]) -> bool:
    return all(term.topology_key in node.labels for term in terms)


class InterPodAffinity:
    name = "InterPodAffinity"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        if not (pod.required_affinity or pod.required_anti_affinity or cluster.anti_affinity_pods):
            return None
        existing_anti = self._existing_anti_counts(pod, cluster)
        affinity, anti = self._incoming_counts(pod, cluster)
        first_of_group = not affinity and all(term_selects(t, pod.tenant, pod, cluster)
                                              for t in pod.required_affinity)
        if not existing_anti and not anti and not pod.required_affinity:
            return None
        rejected_existing: Reasons = (REASON_EXISTING_ANTI,)
        rejected_affinity: Reasons = (REASON_AFFINITY,)
        rejected_anti: Reasons = (REASON_ANTI,)

        def check(node: NodeInfo) -> Reasons | None:
            labels = node.labels
            for (key, value), count in existing_anti.items():
                if count and labels.get(key) == value:
                    return rejected_existing
            if pod.required_affinity:
                if not _has_all_keys(node, pod.required_affinity):
                    return rejected_affinity
                if not first_of_group and not all(affinity[(t.topology_key, labels[t.topology_key])] > 0
                                                  for t in pod.required_affinity):
                    return rejected_affinity
            for term in pod.required_anti_affinity:
                domain = labels.get(term.topology_key)
                if domain is not None and anti[(term.topology_key, domain)] > 0:
                    return rejected_anti
            return None

        return check

    @staticmethod
    def _existing_anti_counts(pod: PodInfo, cluster: SchedulerCache) -> TopologyCounts:
        counts: TopologyCounts = Counter()
        for other, node_name in cluster.anti_affinity_pods.values():
            node = cluster.nodes.get(node_name)
            if node is None or not node.obj:
                continue
            _count(counts, (t for t in other.required_anti_affinity
                            if term_selects(t, other.tenant, pod, cluster)), node)
        return counts

    @staticmethod
    def _incoming_counts(pod: PodInfo, cluster: SchedulerCache) -> tuple[TopologyCounts, TopologyCounts]:
        affinity: TopologyCounts = Counter()
        anti: TopologyCounts = Counter()
        terms = pod.required_affinity + pod.required_anti_affinity
        if not terms:
            return affinity, anti
        for other, node in candidate_pods(terms, pod.tenant, cluster):
            if pod.required_affinity and all(term_selects(t, pod.tenant, other, cluster)
                                             for t in pod.required_affinity):
                _count(affinity, pod.required_affinity, node)
            _count(anti, (t for t in pod.required_anti_affinity
                          if term_selects(t, pod.tenant, other, cluster)), node)
        return affinity, anti

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float] | None:
        preferred = pod.preferred_affinity + pod.preferred_anti_affinity
        if not preferred and not cluster.affinity_pods:
            return None
        counts: TopologyCounts = Counter()
        if preferred:
            for other, where in candidate_pods(preferred, pod.tenant, cluster):
                for term in pod.preferred_affinity:
                    if term_selects(term, pod.tenant, other, cluster):
                        _count(counts, (term,), where, term.weight)
                for term in pod.preferred_anti_affinity:
                    if term_selects(term, pod.tenant, other, cluster):
                        _count(counts, (term,), where, -term.weight)
        for other, node_name in cluster.affinity_pods.values():  # symmetry: their terms about us
            node = cluster.nodes.get(node_name)
            if node is None or not node.obj:
                continue
            for term in other.required_affinity:
                if term_selects(term, other.tenant, pod, cluster):
                    _count(counts, (term,), node, HARD_POD_AFFINITY_WEIGHT)
            for term in other.preferred_affinity:
                if term_selects(term, other.tenant, pod, cluster):
                    _count(counts, (term,), node, term.weight)
            for term in other.preferred_anti_affinity:
                if term_selects(term, other.tenant, pod, cluster):
                    _count(counts, (term,), node, -term.weight)
        if not counts:
            return None
        raw = [float(sum(c for (key, value), c in counts.items() if node.labels.get(key) == value))
               for node in nodes]
        return min_max_normalize(raw)
