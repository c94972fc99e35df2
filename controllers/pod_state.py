"""What a workload controller needs to know about a pod: active, ready, available, and which to
delete first.

Upstream keeps these in ``pkg/api/v1/pod`` (``IsPodReady``, ``IsPodAvailable``) and
``pkg/controller/controller_utils.go`` (``IsPodActive``, ``ActivePodsWithRanks``). Every workload
controller counts replicas the same way, so they share this module: a pod is *active* until it
has a deletionTimestamp or finished; *ready* when its Ready condition is True; *available* when
it has been ready for ``minReadySeconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apis.meta import parse_time
from apis.wire_types import Condition, meta_of, pod_spec_of, pod_status_of


def phase(pod: Mapping[str, Any]) -> str:
    return str(pod_status_of(pod).get("phase") or "")


def is_active(pod: Mapping[str, Any]) -> bool:
    """Not finished and not being deleted (upstream ``IsPodActive``)."""
    return phase(pod) not in ("Succeeded", "Failed") and not is_terminating(pod)


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(meta_of(pod).get("deletionTimestamp"))


def ready_condition(pod: Mapping[str, Any]) -> Condition | None:
    for condition in pod_status_of(pod).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return condition
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    """StatefulSet's health test (upstream ``isRunningAndReady``)."""
    return phase(pod) == "Running" and is_ready(pod)


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime")) or datetime.fromtimestamp(0, UTC)


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime | None = None) -> bool:
    """Ready for at least ``minReadySeconds`` (upstream ``IsPodAvailable``)."""
    since = ready_since(pod)
    if since is None:
        return False
    if min_ready_seconds <= 0:
        return True
    now = now or datetime.now(UTC)
    return (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: Mapping[str, Any], min_ready_seconds: int,
                            now: datetime | None = None) -> float | None:
    """How long until a ready pod becomes available (None when not ready or already available)."""
    since = ready_since(pod)
    if since is None or min_ready_seconds <= 0:
        return None
    left = min_ready_seconds - ((now or datetime.now(UTC)) - since).total_seconds()
    return left if left > 0 else None


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key: pods to delete first sort first (upstream ``ActivePods`` Less):
    unassigned before assigned; Pending < Unknown < Running; not ready before ready; ready more
    recently before ready longer; more restarts first; newer before older."""
    spec, status, metadata = pod_spec_of(pod), pod_status_of(pod), meta_of(pod)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or ()
                   if isinstance(c, dict))
    since = ready_since(pod)
    created = parse_time(metadata.get("creationTimestamp"))
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_RANK.get(phase(pod), 0),
        1 if is_ready(pod) else 0,
        -(since.timestamp() if since else 0.0),
        -restarts,
        -(created.timestamp() if created else 0.0),
        str(metadata.get("name") or ""),
    )


def pods_to_delete(pods: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The ``count`` pods a scale-down removes."""
    return sorted(pods, key=deletion_rank)[:max(count, 0)]
