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
from typing import Any

NAME_FIELD = "metadata.name"


def daemon_tolerations(host_network: bool) -> list[dict[str, Any]]:
    tolerations = [
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


def with_daemon_tolerations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's tolerations plus the automatic ones it lacks (same key and effect)."""
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    present = {(t.get("key"), t.get("effect")) for t in tolerations}
    for toleration in daemon_tolerations(bool(spec.get("hostNetwork"))):
        if (toleration["key"], toleration["effect"]) not in present:
            tolerations.append(toleration)
    return tolerations


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """upstream ``Toleration.ToleratesTaint``."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def _matches_expression(expression: dict[str, Any], value: str | None) -> bool:
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def _matches_term(term: dict[str, Any], node: dict[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # upstream: an empty term matches nothing
    name = str((node.get("metadata") or {}).get("name") or "")
    return (all(_matches_expression(e, labels.get(e.get("key"))) for e in expressions)
            and all(_matches_expression(f, name if f.get("key") == NAME_FIELD else None) for f in fields))


def selects_node(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """nodeSelector and required node affinity of a pod spec, evaluated on ``node``."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(_matches_term(t, node) for t in required.get("nodeSelectorTerms") or [])


def should_run(spec: dict[str, Any], node: dict[str, Any]) -> tuple[bool, bool]:
    """(should run a daemon pod here, should keep an existing one) — upstream
    ``NodeShouldRunDaemonPod``."""
    if not selects_node(spec, node):
        return False, False
    tolerations = with_daemon_tolerations(spec)
    run, keep = True, True
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if any(tolerates(t, taint) for t in tolerations):
            continue
        run = False
        if taint.get("effect") == "NoExecute":
            keep = False
    return run, keep


def pinned_spec(spec: dict[str, Any], node_name: str) -> dict[str, Any]:
    """The pod spec for one node: automatic tolerations, and required node affinity replaced by
    the node's name (upstream ``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    pinned = copy.deepcopy(spec)
    pinned["tolerations"] = with_daemon_tolerations(spec)
    affinity = pinned.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}]}
    return pinned


def target_node(pod: dict[str, Any]) -> str | None:
    """Where a daemon pod is or will be: its nodeName, else the node its affinity pins."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == NAME_FIELD and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None
