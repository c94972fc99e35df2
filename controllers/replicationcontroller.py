"""The ReplicationController controller: ReplicaSet's predecessor in core/v1.

Upstream's RC controller is the ReplicaSet controller wrapped in a conversion
(``pkg/controller/replication``); ours is `controllers.replica_sync` with a `ReplicaKind` whose
selector is RC's plain equality map (``spec.selector: {app: web}``, defaulted by the server from
the template labels). Pods get ``v1``/``ReplicationController`` controller references and names
``<rc>-<5 random chars>``.
"""

from __future__ import annotations

from typing import Any

from apis.selectors import label_selector_from_set
from client.controller import Watch
from controllers.registry import REGISTRY
from controllers.replica_sync import ReplicaKind, ReplicaSyncController, Selects
from controllers.workload_objects import (
    BY_NAMESPACE,
    CHILD_INDEXERS,
    PODS_VIEW,
    REPLICATION_CONTROLLERS,
    REPLICATION_CONTROLLERS_VIEW,
    namespace_of,
)


def equality_selector_of(owner: dict[str, Any]) -> Selects | None:
    """``spec.selector`` (a map of required label values) as a predicate; None when empty."""
    raw = (owner.get("spec") or {}).get("selector")
    if not isinstance(raw, dict) or not raw:
        return None
    return label_selector_from_set(raw).matches


REPLICATION_CONTROLLER_KIND = ReplicaKind(REPLICATION_CONTROLLERS, REPLICATION_CONTROLLERS_VIEW, "v1",
                                          equality_selector_of)


@REGISTRY.register
class ReplicationControllerController(ReplicaSyncController):
    name = "replicationcontroller"
    replica_kind = REPLICATION_CONTROLLER_KIND
    watches = (
        Watch(REPLICATION_CONTROLLERS_VIEW, indexers={BY_NAMESPACE: namespace_of}),
        Watch(PODS_VIEW, keys=lambda pod: [], indexers=CHILD_INDEXERS),
    )
