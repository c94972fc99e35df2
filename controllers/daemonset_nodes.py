"""Which nodes a DaemonSet's pod belongs on, and how the pod is pinned there.

Upstream ``pkg/controller/daemon`` (``NodeShouldRunDaemonPod``, ``util.AddOrUpdateDaemonPodTolerations``,
``util.ReplaceDaemonSetPodNodeNameNodeAffinity``):
- a node is eligible when the pod template's ``nodeSelector`` and required node affinity
  (``nodeSelectorTerms``: matchExpressions on labels, matchFields on ``metadata.name``) match it;
- its NoSchedule/NoExecute taints must be tolerated (*should run*); an untolerated NoExecute
  taint also evicts a running daemon pod (*should continue running*); daemon pods get upstream's
  automatic tolerations (not-ready and unreachable NoExecute; disk/memory/pid pressure and
  unschedulable NoSchedule; network-unavailable for host-network pods), so node conditions and
  cordoning do not take them away;
- the pod is pinned to its node with required node affinity ``matchFields metadata.name In
  [node]`` and left for the scheduler to bind (upstream's way since 1.12).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from apis.node_affinity import NAME_FIELD, required_node_affinity
from apis.tolerations import NO_EXECUTE, NO_SCHEDULE, Taint, untolerated_taint, with_toleration
from apis.wire_types import PodSpec, TolerationJSON, meta_of, node_spec_of, pod_spec_of


def daemon_tolerations(host_network: bool) -> list[TolerationJSON]:
    tolerations: list[TolerationJSON] = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    if host_network:
        tolerations.append({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                            "effect": "NoSchedule"})
    return tolerations


def with_daemon_tolerations(spec: PodSpec) -> list[TolerationJSON]:
    """The template's tolerations plus the automatic ones (upstream
    ``AddOrUpdateDaemonPodTolerations``, which adds or updates each one in turn)."""
    tolerations: list[TolerationJSON] = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    for toleration in daemon_tolerations(bool(spec.get("hostNetwork"))):
        tolerations = with_toleration(tolerations, toleration)
    return tolerations


def selects_node(spec: PodSpec, node: Mapping[str, Any]) -> bool:
    """nodeSelector and required node affinity of a pod spec, evaluated on ``node``."""
    metadata = meta_of(node)
    return required_node_affinity(spec).matches(metadata.get("labels") or {}, metadata.get("name") or "")


def should_run(spec: PodSpec, node: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should run a daemon pod here, should keep an existing one) — upstream
    ``NodeShouldRunDaemonPod``."""
    if not selects_node(spec, node):
        return False, False
    tolerations = with_daemon_tolerations(spec)
    taints = node_spec_of(node).get("taints")
    # upstream: an untolerated NoSchedule or NoExecute taint keeps a new pod off, only an
    # untolerated NoExecute one evicts a running pod.
    run = untolerated_taint(taints, tolerations, _hard) is None
    keep = run or untolerated_taint(taints, tolerations, _no_execute) is None
    return run, keep


def _hard(taint: Taint) -> bool:
    return taint.effect in (NO_SCHEDULE, NO_EXECUTE)


def _no_execute(taint: Taint) -> bool:
    return taint.effect == NO_EXECUTE


def pinned_spec(spec: PodSpec, node_name: str) -> PodSpec:
    """The pod spec for one node: automatic tolerations, and required node affinity replaced by
    the node's name (upstream ``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    pinned = copy.deepcopy(spec)
    pinned["tolerations"] = with_daemon_tolerations(spec)
    affinity = pinned.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}]}
    return pinned


def target_node(pod: Mapping[str, Any]) -> str | None:
    """Where a daemon pod is or will be: its nodeName, else the node its affinity pins."""
    spec = pod_spec_of(pod)
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == NAME_FIELD and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None
