"""What the scheduler needs to know about a pod, computed once per pod version.

Upstream's framework wraps every pod in a ``PodInfo`` that pre-parses its affinity terms so that
filters do not re-read the raw object for each of thousands of nodes; we go further and also
pre-sum the resource requests, host ports and tolerations. Everything here is a pure function of
the pod's JSON, so it is computed when the pod enters the queue (or the cache) and reused for
every scheduling attempt and every node.

Requests and host ports follow upstream's pod request rules, which the kubelet's admission shares
(`apis.pod_resources`); "non-zero" requests are what the scoring functions use, as upstream's
``GetNonzeroRequests``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from apis.meta import parse_time
from apis.node_affinity import (
    PreferredNodeTerm,
    RequiredNodeAffinity,
    preferred_node_terms,
    required_node_affinity,
)
from apis.pod_resources import BASE_RESOURCES, HostPort, host_ports, pod_requests
from apis.selectors import LabelSelector, SelectorError, label_selector_from_meta
from apis.tolerations import Toleration, tolerations_of
from client.cache import ObjectKey

DEFAULT_SCHEDULER = "default-scheduler"


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A pod (anti-)affinity term, compiled: which pods it selects and over which topology."""

    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None  # None: only ``namespaces`` (or the pod's own)
    topology_key: str
    weight: int = 0  # preferred terms only


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    hard: bool  # whenUnsatisfiable: DoNotSchedule
    selector: LabelSelector
    min_domains: int
    honor_node_affinity: bool  # nodeAffinityPolicy Honor (the default)
    honor_node_taints: bool  # nodeTaintsPolicy Honor (default Ignore)


@dataclass(slots=True)
class PodInfo:
    """One pod's scheduling requirements (read-only once built)."""

    key: ObjectKey
    uid: str
    obj: dict[str, Any]
    labels: dict[str, str]
    priority: int
    created: float
    is_vm: bool
    requests: dict[str, int]  # cpu (milli), memory, ephemeral-storage and extended resources
    nonzero_cpu: int
    nonzero_memory: int
    host_ports: tuple[HostPort, ...]
    tolerations: tuple[Toleration, ...]
    node_name: str
    required_node_affinity: RequiredNodeAffinity
    preferred_node_terms: tuple[PreferredNodeTerm, ...]
    required_affinity: tuple[AffinityTerm, ...]
    required_anti_affinity: tuple[AffinityTerm, ...]
    preferred_affinity: tuple[AffinityTerm, ...]
    preferred_anti_affinity: tuple[AffinityTerm, ...]
    spread_constraints: tuple[SpreadConstraint, ...]
    scalar_requests: tuple[tuple[str, int], ...] = field(default=())

    @property
    def tenant(self) -> str:
        return self.key.tenant

    @property
    def namespace(self) -> str:
        return self.key.namespace

    @property
    def has_pod_affinity(self) -> bool:
        return bool(self.required_affinity or self.required_anti_affinity
                    or self.preferred_affinity or self.preferred_anti_affinity)

    def describe(self) -> str:
        return f"{self.key.namespace}/{self.key.name}"


def responsible_for(pod: dict[str, Any]) -> bool:
    """Pods this scheduler places: its scheduler name, no node yet, not being deleted."""
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName")
            and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_info(pod: dict[str, Any]) -> PodInfo:
    """Builds the `PodInfo` of ``pod``."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    requests = pod_requests(spec)
    affinity = spec.get("affinity") or {}
    pod_affinity = affinity.get("podAffinity") or {}
    pod_anti = affinity.get("podAntiAffinity") or {}
    namespace = str(metadata.get("namespace") or "")
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    return PodInfo(
        key=ObjectKey.of(pod),
        uid=str(metadata.get("uid") or ""),
        obj=pod,
        labels=labels,
        priority=int(spec.get("priority") or 0),
        created=_timestamp(metadata.get("creationTimestamp")),
        is_vm=bool(spec.get("virtualMachine")),
        requests=dict(requests.amounts),
        nonzero_cpu=requests.nonzero_cpu,
        nonzero_memory=requests.nonzero_memory,
        host_ports=host_ports(spec),
        tolerations=tolerations_of(spec.get("tolerations")),
        node_name=str(spec.get("nodeName") or ""),
        required_node_affinity=required_node_affinity(spec),
        preferred_node_terms=preferred_node_terms(spec),
        required_affinity=_terms(pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                 namespace),
        required_anti_affinity=_terms(pod_anti.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                      namespace),
        preferred_affinity=_weighted_terms(
            pod_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"), namespace),
        preferred_anti_affinity=_weighted_terms(
            pod_anti.get("preferredDuringSchedulingIgnoredDuringExecution"), namespace),
        spread_constraints=_spread_constraints(spec.get("topologySpreadConstraints"), labels),
        scalar_requests=tuple(sorted((k, v) for k, v in requests.amounts.items() if k not in BASE_RESOURCES)),
    )


def _timestamp(value: object) -> float:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed is not None else time.time()


def _selector(raw: Any) -> LabelSelector:
    try:
        return label_selector_from_meta(raw)
    except SelectorError:
        return LabelSelector(nothing=True)


def _term(raw: dict[str, Any], namespace: str, weight: int = 0) -> AffinityTerm:
    namespaces = frozenset(str(n) for n in raw.get("namespaces") or [])
    raw_ns_selector = raw.get("namespaceSelector")
    ns_selector = _selector(raw_ns_selector) if raw_ns_selector is not None else None
    if not namespaces and ns_selector is None:
        namespaces = frozenset((namespace,))  # upstream: "null or empty ... means this pod's namespace"
    return AffinityTerm(_selector(raw.get("labelSelector")), namespaces, ns_selector,
                        str(raw.get("topologyKey") or ""), weight)


def _terms(raw: Any, namespace: str) -> tuple[AffinityTerm, ...]:
    return tuple(_term(t, namespace) for t in raw or [] if isinstance(t, dict))


def _weighted_terms(raw: Any, namespace: str) -> tuple[AffinityTerm, ...]:
    return tuple(_term(t.get("podAffinityTerm") or {}, namespace, int(t.get("weight") or 0))
                 for t in raw or [] if isinstance(t, dict))


def _spread_constraints(raw: Any, labels: dict[str, str]) -> tuple[SpreadConstraint, ...]:
    constraints = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        selector_meta = dict(item.get("labelSelector") or {})
        match_label_keys = [k for k in item.get("matchLabelKeys") or [] if k in labels]
        if match_label_keys:  # matchLabelKeys: AND the pod's own values for those keys
            expressions = list(selector_meta.get("matchExpressions") or [])
            expressions += [{"key": k, "operator": "In", "values": [labels[k]]} for k in match_label_keys]
            selector_meta["matchExpressions"] = expressions
        constraints.append(SpreadConstraint(
            max_skew=int(item.get("maxSkew") or 1),
            topology_key=str(item.get("topologyKey") or ""),
            hard=item.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule",
            selector=_selector(item.get("labelSelector") and selector_meta),
            min_domains=int(item.get("minDomains") or 1),
            honor_node_affinity=item.get("nodeAffinityPolicy", "Honor") == "Honor",
            honor_node_taints=item.get("nodeTaintsPolicy", "Ignore") == "Honor",
        ))
    return tuple(constraints)
