"""A Deployment's revisions: which ReplicaSet is new, what revision it carries, what history to keep.

Every template a Deployment has had lives on as a ReplicaSet named ``<deployment>-<hash>``
(`controllers.pod_template.template_hash`), labelled and selected by ``pod-template-hash``. The
ReplicaSet whose template equals the Deployment's (ignoring that label) is the *new* one; its
``deployment.kubernetes.io/revision`` annotation is one more than the highest old revision, and a
ReplicaSet brought back (``kubectl rollout undo`` patches the old template in) moves its previous
number into ``deployment.kubernetes.io/revision-history``. The Deployment carries its new
ReplicaSet's revision too. Old ReplicaSets scaled to zero are kept as history up to
``revisionHistoryLimit``, oldest deleted first. This is what ``kubectl rollout history/undo``
read. Upstream: ``deployment/util`` (``SetNewReplicaSetAnnotations``, ``FindNewReplicaSet``,
``MaxRevision``) and ``sync.go`` (``cleanupDeployment``).
"""

from __future__ import annotations

import copy
from typing import Any

from controllers.deployment_rollout import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    by_creation,
    fenceposts,
    spec_replicas,
)
from controllers.pod_template import POD_TEMPLATE_HASH_LABEL, template_hash, templates_equal_ignoring_hash
from controllers.workload_objects import owner_reference

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
# Deployment annotations that are not copied onto its ReplicaSets (upstream annotationsToSkip).
_NOT_COPIED = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
})


def revision_of(obj: dict[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def find_new_replica_set(deployment: dict[str, Any], sets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The oldest ReplicaSet whose template is the Deployment's (upstream ``FindNewReplicaSet``)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    for rs in by_creation(sets):
        if templates_equal_ignoring_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def next_revision(old_sets: list[dict[str, Any]]) -> int:
    return max((revision_of(rs) for rs in old_sets), default=0) + 1


def copied_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def replicas_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    """desired-replicas and max-replicas: what a later proportional scale compares against."""
    replicas = spec_replicas(deployment)
    return {DESIRED_REPLICAS_ANNOTATION: str(replicas),
            MAX_REPLICAS_ANNOTATION: str(replicas + fenceposts(deployment)[0])}


def refreshed_new_replica_set(deployment: dict[str, Any], rs: dict[str, Any],
                              revision: int) -> dict[str, Any] | None:
    """The existing new ReplicaSet with annotations and minReadySeconds brought up to date, or
    None when nothing changes."""
    updated = copy.deepcopy(rs)
    metadata = updated.setdefault("metadata", {})
    annotations: dict[str, str] = dict(metadata.get("annotations") or {})
    before = dict(annotations)
    annotations.update(copied_annotations(deployment))
    current = revision_of(rs)
    if current < revision:
        annotations[REVISION_ANNOTATION] = str(revision)
        if current:
            history = [h for h in annotations.get(REVISION_HISTORY_ANNOTATION, "").split(",") if h]
            annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*history, str(current)])
    metadata["annotations"] = annotations
    spec = updated.setdefault("spec", {})
    min_ready = (deployment.get("spec") or {}).get("minReadySeconds") or 0
    changed = annotations != before or (spec.get("minReadySeconds") or 0) != min_ready
    spec["minReadySeconds"] = min_ready
    return updated if changed else None


def new_replica_set_body(deployment: dict[str, Any], *, revision: int, replicas: int) -> dict[str, Any]:
    """The ReplicaSet for the Deployment's current template: ``<name>-<hash>``, selected by hash."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    template = copy.deepcopy(spec.get("template") or {})
    pod_hash = template_hash(template, status.get("collisionCount"))
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    name = (deployment.get("metadata") or {}).get("name", "")
    annotations = {**copied_annotations(deployment), REVISION_ANNOTATION: str(revision),
                   **replicas_annotations(deployment)}
    body_spec: dict[str, Any] = {"replicas": replicas, "selector": selector, "template": template,
                                 "minReadySeconds": spec.get("minReadySeconds") or 0}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-{pod_hash}", "labels": dict(template_meta["labels"]),
                     "annotations": annotations,
                     "ownerReferences": [owner_reference(deployment, api_version="apps/v1",
                                                         kind="Deployment")]},
        "spec": body_spec,
    }


def replica_sets_to_delete(deployment: dict[str, Any],
                           old_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Old, empty ReplicaSets beyond ``revisionHistoryLimit``, lowest revision first."""
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None:
        return []
    alive = [rs for rs in old_sets if not (rs.get("metadata") or {}).get("deletionTimestamp")]
    excess = len(alive) - int(limit)
    if excess <= 0:
        return []
    doomed = []
    for rs in sorted(alive, key=revision_of)[:excess]:
        status = rs.get("status") or {}
        observed = int(status.get("observedGeneration") or 0) >= int(
            (rs.get("metadata") or {}).get("generation") or 0)
        if spec_replicas(rs) == 0 and int(status.get("replicas") or 0) == 0 and observed:
            doomed.append(rs)
    return doomed
