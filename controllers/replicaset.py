"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching the selector (apps/v1).

Upstream ``pkg/controller/replicaset``; the shared machinery — claiming pods, slow-start creation,
expectations, ranking pods for deletion, status — is `controllers.replica_sync`. This module only
says what a ReplicaSet is: an ``apps/v1`` object whose ``spec.selector`` is a metav1
LabelSelector (matchLabels and matchExpressions). An empty selector selects nothing here: the API
refuses one, and adopting every pod of a namespace would be the wrong way to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apis.selectors import SelectorError, label_selector_from_meta
from client.controller import Watch
from controllers.registry import REGISTRY
from controllers.replica_sync import ReplicaKind, ReplicaSyncController, Selects
from controllers.workload_objects import (
    BY_NAMESPACE,
    CHILD_INDEXERS,
    PODS_VIEW,
    REPLICA_SETS,
    REPLICA_SETS_VIEW,
    namespace_of,
)


def label_selector_of(owner: dict[str, Any]) -> Selects | None:
    """``spec.selector`` (metav1.LabelSelector) as a predicate on labels; None when empty/invalid."""
    raw = (owner.get("spec") or {}).get("selector")
    if not isinstance(raw, dict):
        return None
    try:
        selector = label_selector_from_meta(raw)
    except SelectorError:
        return None
    if selector.empty:
        return None

    def selects(labels: Mapping[str, str]) -> bool:
        return selector.matches(labels)

    return selects


REPLICA_SET_KIND = ReplicaKind(REPLICA_SETS, REPLICA_SETS_VIEW, "apps/v1", label_selector_of)


@REGISTRY.register
class ReplicaSetController(ReplicaSyncController):
    name = "replicaset"
    replica_kind = REPLICA_SET_KIND
    watches = (
        Watch(REPLICA_SETS_VIEW, indexers={BY_NAMESPACE: namespace_of}),
        # Pod events are routed by `ReplicaSyncController._on_pod_event` (expectations, orphans).
        Watch(PODS_VIEW, keys=lambda pod: [], indexers=CHILD_INDEXERS),
    )
