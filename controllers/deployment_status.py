"""A Deployment's status and conditions, as ``kubectl rollout status`` and users read them.

Upstream ``calculateStatus`` and ``syncRolloutStatus`` (pkg/controller/deployment/sync.go,
progress.go): counts summed over the Deployment's ReplicaSets (``updatedReplicas`` from the new
one), condition ``Available`` (MinimumReplicasAvailable when at least ``replicas -
maxUnavailable`` pods are available) and ``Progressing``: NewReplicaSetCreated when the new
ReplicaSet appears, ReplicaSetUpdated while pods move, NewReplicaSetAvailable once the rollout is
complete, ProgressDeadlineExceeded (status False) when nothing moved for
``progressDeadlineSeconds``; DeploymentPaused / DeploymentResumed (Unknown) around a pause.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from apis.meta import now_rfc3339, parse_time
from controllers.deployment_rollout import max_unavailable, name_of, spec_replicas

PROGRESSING = "Progressing"
AVAILABLE = "Available"


def calculate_status(deployment: dict[str, Any], all_sets: list[dict[str, Any]],
                     new_rs: dict[str, Any] | None) -> dict[str, Any]:
    """Counts and the Available condition; other conditions are carried over."""
    def total(field: str, sets: list[dict[str, Any]]) -> int:
        return sum(int((rs.get("status") or {}).get(field) or 0) for rs in sets)

    old_status = deployment.get("status") or {}
    available = total("availableReplicas", all_sets)
    unavailable = max(sum(spec_replicas(rs) for rs in all_sets) - available, 0)
    status: dict[str, Any] = {
        "observedGeneration": (deployment.get("metadata") or {}).get("generation", 0),
        "replicas": total("replicas", all_sets),
        "updatedReplicas": total("replicas", [new_rs] if new_rs is not None else []),
        "readyReplicas": total("readyReplicas", all_sets),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": copy.deepcopy(old_status.get("conditions") or []),
    }
    if old_status.get("collisionCount") is not None:
        status["collisionCount"] = old_status["collisionCount"]
    if available >= spec_replicas(deployment) - max_unavailable(deployment):
        set_condition(status, AVAILABLE, "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.")
    else:
        set_condition(status, AVAILABLE, "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.")
    return status


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in status.get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None


def set_condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str) -> None:
    """Sets a condition; an unchanged status keeps its lastTransitionTime (upstream
    ``SetDeploymentCondition``), and an unchanged reason and message keep lastUpdateTime too."""
    now = now_rfc3339()
    existing = condition(status, kind)
    entry = {"type": kind, "status": value, "lastUpdateTime": now, "lastTransitionTime": now,
             "reason": reason, "message": message}
    if existing is not None:
        if existing.get("status") == value:
            entry["lastTransitionTime"] = existing.get("lastTransitionTime", now)
            if existing.get("reason") == reason and existing.get("message") == message:
                entry["lastUpdateTime"] = existing.get("lastUpdateTime", now)
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != kind] + [entry]


def is_complete(deployment: dict[str, Any], status: dict[str, Any]) -> bool:
    """upstream ``DeploymentComplete``."""
    replicas = spec_replicas(deployment)
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    return (status.get("updatedReplicas") == replicas and status.get("replicas") == replicas
            and status.get("availableReplicas") == replicas
            and int(status.get("observedGeneration") or 0) >= generation)


def is_progressing(deployment: dict[str, Any], status: dict[str, Any]) -> bool:
    """upstream ``DeploymentProgressing``: something moved since the last status."""
    old = deployment.get("status") or {}

    def count(s: dict[str, Any], field: str) -> int:
        return int(s.get(field) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(status, "replicas") - count(status, "updatedReplicas")
    return (count(status, "updatedReplicas") > count(old, "updatedReplicas") or new_old < old_old
            or count(status, "readyReplicas") > count(old, "readyReplicas")
            or count(status, "availableReplicas") > count(old, "availableReplicas"))


def seconds_until_deadline(deployment: dict[str, Any], status: dict[str, Any],
                           now: datetime | None = None) -> float | None:
    """Time left before a still-progressing rollout times out (None: no deadline applies)."""
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    progressing = condition(status, PROGRESSING)
    if deadline is None or progressing is None or progressing.get("reason") in (
            "NewReplicaSetAvailable", "ProgressDeadlineExceeded", "DeploymentPaused"):
        return None
    updated = parse_time(progressing.get("lastUpdateTime"))
    if updated is None:
        return None
    return int(deadline) - ((now or datetime.now(UTC)) - updated).total_seconds()


def update_progress(deployment: dict[str, Any], status: dict[str, Any],
                    new_rs: dict[str, Any] | None) -> None:
    """The Progressing condition after a rollout step (upstream ``syncRolloutStatus``)."""
    spec = deployment.get("spec") or {}
    if spec.get("progressDeadlineSeconds") is None:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != PROGRESSING]
        return
    current = condition(status, PROGRESSING)
    rs_name = name_of(new_rs) if new_rs is not None else ""
    if current is not None and current.get("reason") == "ProgressDeadlineExceeded" and not is_progressing(
            deployment, status):
        return
    if is_complete(deployment, status):
        set_condition(status, PROGRESSING, "True", "NewReplicaSetAvailable",
                      f'ReplicaSet "{rs_name}" has successfully progressed.')
    elif is_progressing(deployment, status) or current is None:
        set_condition(status, PROGRESSING, "True", "ReplicaSetUpdated",
                      f'ReplicaSet "{rs_name}" is progressing.')
    else:
        left = seconds_until_deadline(deployment, status)
        if left is not None and left <= 0:
            set_condition(status, PROGRESSING, "False", "ProgressDeadlineExceeded",
                          f'ReplicaSet "{rs_name}" has timed out progressing.')


def update_paused(deployment: dict[str, Any], status: dict[str, Any]) -> None:
    """DeploymentPaused / DeploymentResumed (upstream ``checkPausedConditions``)."""
    if (deployment.get("spec") or {}).get("progressDeadlineSeconds") is None:
        return
    current = condition(status, PROGRESSING)
    paused = bool((deployment.get("spec") or {}).get("paused"))
    if paused and (current is None or current.get("reason") != "DeploymentPaused"):
        set_condition(status, PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused")
    elif not paused and current is not None and current.get("reason") == "DeploymentPaused":
        set_condition(status, PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed")
