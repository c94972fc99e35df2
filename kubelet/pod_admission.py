"""Whether a pod may start on this node: upstream's kubelet pod admission, over the pods of every partition.

Each tenant partition's scheduler sees only its own TP's pods, so two TPs may place pods on one node
that together do not fit; a pod bound directly (``spec.nodeName``) skips the scheduler altogether.
Upstream's backstop is the kubelet's admission (``pkg/kubelet/lifecycle/predicate.go``), run once per
pod before it starts, in the order pods arrive, against the pods it already admitted and that have
not finished: the sysctl allowlist (`kubelet.sysctl_admission`), then the scheduler's
``AdmissionCheck`` with every failure listed, the first one reported —

1. resources: one more pod within ``allocatable.pods``, then every resource the pod requests
   (cpu, memory, ephemeral-storage, then extended resources and hugepages by name) within
   allocatable minus what the admitted pods request; an extended resource the node does not have at
   all is left out (upstream's ``removeMissingExtendedResources``). Reason ``OutOfcpu`` /
   ``OutOfmemory`` / ``OutOfephemeral-storage`` / ``OutOfpods`` / ``OutOf<resource>``, message
   ``Node didn't have enough resource: cpu, requested: 500, used: 1800, capacity: 2000``;
2. ``NodeAffinity`` (nodeSelector and required node affinity, `apis.node_affinity`), ``NodeName``,
   ``NodePorts`` (`apis.pod_resources.port_conflict`), then an untolerated ``NoExecute`` taint
   (``TaintToleration``): message ``Predicate <name> failed: <the scheduler's reason>``.

When node affinity is the only failure the node is fetched again and the pods checked once more, as
upstream does (a label added a moment ago). A rejected pod never starts: phase Failed, the reason, and
``Pod was rejected: <message>`` (`kubelet.pod_sync`). A verdict is kept until the pod finishes or
goes, so a later sync never admits a pod rejected before. The node's share is kept as running totals
— admitting or releasing a pod costs a few dict operations, never a walk over the node's pods — so
hollow nodes admit the same way at scale. One `NodeAdmission` per node serves every partition.
Left out: preemption of lower-priority pods for critical ones (upstream's
``CriticalPodAdmissionHandler``), the OS label checks (every node here is linux) and device plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.node_affinity import required_node_affinity
from apis.pod_resources import (
    BASE_RESOURCES,
    PODS,
    HostPort,
    amount,
    host_ports,
    is_extended_resource,
    pod_requests,
    port_conflict,
)
from apis.tolerations import NO_EXECUTE, Taint, first_untolerated, taints_of, tolerations_of
from kubelet.sysctl_admission import FORBIDDEN_REASON, SysctlAllowlist

log = logging.getLogger(__name__)

# The scheduler plugins' names and Filter reasons that upstream's admission reports.
NODE_AFFINITY = ("NodeAffinity", "node(s) didn't match Pod's node affinity/selector")
NODE_NAME = ("NodeName", "node(s) didn't match the requested node name")
NODE_PORTS = ("NodePorts", "node(s) didn't have free ports for the requested pod ports")
TAINT_TOLERATION = ("TaintToleration", "node(s) had taints that the pod didn't tolerate")
OUT_OF_PREFIX = "OutOf"  # OutOfcpu, OutOfmemory, OutOfpods, OutOfexample.com/gpu ...

FetchNode = Callable[[], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    message: str  # the event's text; the pod's status message is "Pod was rejected: " + this


def insufficient(resource: str, *, requested: int, used: int, capacity: int) -> Rejection:
    """upstream ``InsufficientResourceError``."""
    message = (f"Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, "
               f"capacity: {capacity}")
    return Rejection(f"{OUT_OF_PREFIX}{resource}", message)


def predicate_failed(predicate: tuple[str, str]) -> Rejection:
    """upstream ``PredicateFailureError``."""
    name, reason = predicate
    return Rejection(name, f"Predicate {name} failed: {reason}")


@dataclass(frozen=True, slots=True)
class NodeView:
    """What admission reads of the Node: its name, labels, NoExecute taints and allocatable."""

    name: str
    labels: Mapping[str, str]
    no_execute: tuple[Taint, ...]
    allocatable: Mapping[str, int]  # amounts (`apis.pod_resources.amount`): cpu in millicores
    resource_version: str = ""


def node_view(node: Mapping[str, Any]) -> NodeView:
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    raw = status.get("allocatable") or status.get("capacity") or {}
    taints = taints_of((node.get("spec") or {}).get("taints"))
    return NodeView(
        name=str(metadata.get("name") or ""),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        no_execute=tuple(t for t in taints if t.effect == NO_EXECUTE),
        allocatable={str(name): amount(str(name), value) for name, value in raw.items()},
        resource_version=str(metadata.get("resourceVersion") or ""))


@dataclass(frozen=True, slots=True)
class _Claim:
    """An admitted pod's share of the node."""

    requests: Mapping[str, int]
    ports: tuple[HostPort, ...]


class NodeAdmission:
    """The admitted pods of one node (from every partition) and the verdicts on its pods."""

    def __init__(self, node: Mapping[str, Any], *, sysctls: SysctlAllowlist | None = None,
                 fetch_node: FetchNode | None = None) -> None:
        self.view = node_view(node)
        self.sysctls = sysctls or SysctlAllowlist()
        self.fetch_node = fetch_node  # upstream's synchronous re-read of the node
        self._admitted: dict[str, _Claim] = {}
        self._rejected: dict[str, Rejection] = {}
        self._requested: dict[str, int] = {}
        self._ports: dict[tuple[str, int], dict[str, int]] = {}  # (protocol, port) -> {host IP: claims}

    @property
    def admitted_pods(self) -> int:
        return len(self._admitted)

    def requested(self, resource: str) -> int:
        return self._requested.get(resource, 0)

    def set_node(self, node: Mapping[str, Any]) -> None:
        """The Node as the API has it now (labels, taints and allocatable may have changed)."""
        version = str((node.get("metadata") or {}).get("resourceVersion") or "")
        if not version or version != self.view.resource_version:
            self.view = node_view(node)

    def rejection_of(self, uid: str) -> Rejection | None:
        """The verdict already given against pod ``uid``, if it was rejected."""
        return self._rejected.get(uid)

    async def admit(self, pod: dict[str, Any]) -> Rejection | None:
        """Admits ``pod`` (None: it may start, and now counts against the node) or rejects it.
        A pod admitted or rejected before gets the same answer again."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if uid in self._admitted:
            return None
        if uid in self._rejected:
            return self._rejected[uid]
        spec = pod.get("spec") or {}
        sysctl = self.sysctls.rejection(pod)
        claim = _Claim(pod_requests(spec).amounts, host_ports(spec))
        failures = [] if sysctl is None else [Rejection(FORBIDDEN_REASON, sysctl)]
        failures = failures or self._failures(spec, claim)
        if failures and self.fetch_node is not None and all(f.reason == NODE_AFFINITY[0] for f in failures):
            node = await self.fetch_node()
            if node is not None:
                self.set_node(node)
            if uid in self._admitted or uid in self._rejected:  # decided meanwhile
                return self._rejected.get(uid)
            failures = self._failures(spec, claim)
        if failures:
            self._rejected[uid] = failures[0]
            return failures[0]
        self._take(uid, claim)
        return None

    def release(self, uid: str) -> None:
        """Pod ``uid`` finished or is gone: its share is free and its verdict forgotten."""
        self._rejected.pop(uid, None)
        claim = self._admitted.pop(uid, None)
        if claim is None:
            return
        for name, value in claim.requests.items():
            self._requested[name] -= value
        for ip, protocol, port in claim.ports:
            ips = self._ports[(protocol, port)]
            ips[ip] -= 1
            if not ips[ip]:
                del ips[ip]
            if not ips:
                del self._ports[(protocol, port)]

    def _take(self, uid: str, claim: _Claim) -> None:
        self._admitted[uid] = claim
        for name, value in claim.requests.items():
            self._requested[name] = self._requested.get(name, 0) + value
        for ip, protocol, port in claim.ports:
            ips = self._ports.setdefault((protocol, port), {})
            ips[ip] = ips.get(ip, 0) + 1

    def _failures(self, spec: Mapping[str, Any], claim: _Claim) -> list[Rejection]:
        """Every reason the pod does not fit, in upstream's order (``AdmissionCheck`` + taints)."""
        view = self.view
        failures = self._insufficient(claim.requests)
        if not required_node_affinity(spec).matches(view.labels, view.name):
            failures.append(predicate_failed(NODE_AFFINITY))
        if spec.get("nodeName") and spec.get("nodeName") != view.name:
            failures.append(predicate_failed(NODE_NAME))
        if any(port_conflict(self._ports, ip, protocol, port) for ip, protocol, port in claim.ports):
            failures.append(predicate_failed(NODE_PORTS))
        if view.no_execute and first_untolerated(tolerations_of(spec.get("tolerations")), view.no_execute):
            failures.append(predicate_failed(TAINT_TOLERATION))
        return failures

    def _insufficient(self, requests: Mapping[str, int]) -> list[Rejection]:
        """upstream ``noderesources.Fits``: pods, then cpu, memory, ephemeral-storage, then the rest."""
        allocatable = self.view.allocatable
        failures = []
        allowed_pods = allocatable.get(PODS, 0)
        if len(self._admitted) + 1 > allowed_pods:
            failures.append(insufficient(PODS, requested=1, used=len(self._admitted), capacity=allowed_pods))
        others = sorted(name for name in requests if name not in BASE_RESOURCES)
        for name in (*BASE_RESOURCES, *others):
            wanted = requests.get(name, 0)
            if not wanted or (is_extended_resource(name) and name not in allocatable):
                continue
            used, capacity = self._requested.get(name, 0), allocatable.get(name, 0)
            if wanted > capacity - used:
                failures.append(insufficient(name, requested=wanted, used=used, capacity=capacity))
        return failures
