"""What the scheduler needs to know about a pod, computed once per pod version.

Upstream's framework wraps every pod in a ``PodInfo`` that pre-parses its affinity terms so that
filters do not re-read the raw object for each of thousands of nodes; we go further and also
pre-sum the resource requests, host ports and tolerations. Everything here is a pure function of
the pod's JSON, so it is computed when the pod enters the queue (or the cache) and reused for
every scheduling attempt and every node.

Requests follow upstream's ``computePodResourceRequest``: the sum over app containers, raised to
any larger init-container request (restartable "sidecar" init containers add to the sum), plus
``spec.overhead``. An Arktos VM pod (``spec.virtualMachine``, ARKTOS.md §4) is sized from the
VM's own requests. "Non-zero" requests — 100m CPU and 200 MiB memory for a container that names
none — are what the scoring functions use, as upstream's ``GetNonzeroRequests``.
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
from apis.selectors import LabelSelector, SelectorError, label_selector_from_meta
from apis.tolerations import Toleration, tolerations_of
from client.cache import ObjectKey
from scheduler.quantities import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, amount

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
_BASE = (CPU, MEMORY, EPHEMERAL_STORAGE)


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
    host_ports: tuple[tuple[str, str, int], ...]  # (hostIP, protocol, hostPort)
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
    requests, nonzero_cpu, nonzero_memory = _requests(spec)
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
        requests={k: v for k, v in requests.items() if v},
        nonzero_cpu=nonzero_cpu,
        nonzero_memory=nonzero_memory,
        host_ports=_host_ports(spec),
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
        scalar_requests=tuple(sorted((k, v) for k, v in requests.items() if k not in _BASE and v)),
    )


def _timestamp(value: object) -> float:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed is not None else time.time()


def _container_requests(container: dict[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = dict(resources.get("requests") or {})
    for name, value in (resources.get("limits") or {}).items():
        requests.setdefault(name, value)  # API defaulting: requests default to limits
    return {str(name): amount(str(name), value) for name, value in requests.items()}


def _add(total: dict[str, int], extra: dict[str, int]) -> None:
    for name, value in extra.items():
        total[name] = total.get(name, 0) + value


def _requests(spec: dict[str, Any]) -> tuple[dict[str, int], int, int]:
    """(requests, non-zero cpu, non-zero memory) per upstream's pod request rules."""
    total: dict[str, int] = {}
    nonzero_cpu = nonzero_memory = 0
    vm = spec.get("virtualMachine")
    containers = [vm] if isinstance(vm, dict) else list(spec.get("containers") or [])
    for container in containers:
        requests = _container_requests(container)
        _add(total, requests)
        nonzero_cpu += requests.get(CPU) or DEFAULT_MILLI_CPU_REQUEST
        nonzero_memory += requests.get(MEMORY) or DEFAULT_MEMORY_REQUEST
    sidecars: dict[str, int] = {}
    for init in spec.get("initContainers") or []:
        requests = _container_requests(init)
        if init.get("restartPolicy") == "Always":  # a sidecar keeps running next to the app
            _add(total, requests)
            _add(sidecars, requests)
            continue
        for name, value in requests.items():
            total[name] = max(total.get(name, 0), value + sidecars.get(name, 0))
    for name, value in (spec.get("overhead") or {}).items():
        total[str(name)] = total.get(str(name), 0) + amount(str(name), value)
    total[PODS] = 0  # the pod itself is counted by the fit check, not as a request
    return total, nonzero_cpu, nonzero_memory


def _host_ports(spec: dict[str, Any]) -> tuple[tuple[str, str, int], ...]:
    ports = []
    for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                ports.append((str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"),
                              host_port))
    return tuple(ports)


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
