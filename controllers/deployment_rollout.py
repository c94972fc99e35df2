"""The arithmetic of a Deployment rollout: how many pods each ReplicaSet should have next.

Pure functions over raw Deployment/ReplicaSet objects, so the rules can be tested without a
server. They mirror upstream ``pkg/controller/deployment`` (``rolling.go``, ``sync.go``) and
``deployment/util``:
- maxSurge / maxUnavailable are ints or percentages of ``spec.replicas``; surge rounds up,
  unavailable rounds down, and both zero means one unavailable (``ResolveFenceposts``);
- the new ReplicaSet grows while the total stays within ``replicas + maxSurge``
  (``NewRSNewReplicas``);
- old ReplicaSets shrink while the available pods stay at least ``replicas - maxUnavailable``:
  first their unhealthy pods, then available ones, oldest ReplicaSet first
  (``reconcileOldReplicaSets``);
- a change of ``spec.replicas`` mid-rollout is spread over the active ReplicaSets in proportion to
  their size (``scale`` with ``getProportion``), the rounding leftover going to the largest.
A ReplicaSet's availability is read as ``min(status.availableReplicas, spec.replicas)``: a status
written before a scale-down must not count pods that are going away.
"""

from __future__ import annotations

import math
from typing import Any

from apis.meta import parse_time

DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"

Plan = dict[str, int]  # ReplicaSet name -> new spec.replicas


def spec_replicas(obj: dict[str, Any] | None) -> int:
    if obj is None:
        return 0
    return int((obj.get("spec") or {}).get("replicas", 1 if obj.get("kind") == "Deployment" else 0))


def available(rs: dict[str, Any] | None) -> int:
    if rs is None:
        return 0
    return min(int((rs.get("status") or {}).get("availableReplicas") or 0), spec_replicas(rs))


def name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """upstream ``GetScaledValueFromIntOrPercent``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def is_rolling(deployment: dict[str, Any]) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods (upstream ``ResolveFenceposts``)."""
    if not is_rolling(deployment):
        return 0, 0
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = spec_replicas(deployment)
    surge = int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # upstream: both zero would never make progress
    return surge, unavailable


def max_unavailable(deployment: dict[str, Any]) -> int:
    """upstream ``MaxUnavailable``: never more than the replicas."""
    replicas = spec_replicas(deployment)
    if not is_rolling(deployment) or replicas == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas)


def new_replica_set_size(deployment: dict[str, Any], all_sets: list[dict[str, Any]],
                         new_rs: dict[str, Any] | None) -> int:
    """How big the new ReplicaSet may be now (upstream ``NewRSNewReplicas``)."""
    replicas = spec_replicas(deployment)
    if not is_rolling(deployment):
        return replicas
    current_new = spec_replicas(new_rs)
    surge = fenceposts(deployment)[0]
    total = sum(spec_replicas(rs) for rs in all_sets)
    ceiling = replicas + surge
    if total >= ceiling:
        return current_new
    return current_new + min(ceiling - total, replicas - current_new)


def by_creation(sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(rs: dict[str, Any]) -> tuple[float, str]:
        created = parse_time((rs.get("metadata") or {}).get("creationTimestamp"))
        return (created.timestamp() if created else 0.0, name_of(rs))

    return sorted(sets, key=key)


def old_replica_sets_scale_down(deployment: dict[str, Any], old_sets: list[dict[str, Any]],
                                new_rs: dict[str, Any] | None) -> Plan:
    """New sizes for old ReplicaSets that may shrink now without breaking maxUnavailable."""
    old = [rs for rs in old_sets if spec_replicas(rs) > 0]
    if not old:
        return {}
    sizes = {name_of(rs): spec_replicas(rs) for rs in old_sets}
    availability = {name_of(rs): available(rs) for rs in old_sets}
    min_available = spec_replicas(deployment) - max_unavailable(deployment)
    new_unavailable = spec_replicas(new_rs) - available(new_rs)
    all_pods = sum(sizes.values()) + spec_replicas(new_rs)
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return {}
    plan: Plan = {}
    # Unhealthy pods of old ReplicaSets go first: removing them costs no availability.
    cleaned = 0
    for rs in by_creation(old):
        name = name_of(rs)
        unhealthy = sizes[name] - availability[name]
        if cleaned >= budget:
            break
        if unhealthy <= 0:
            continue
        cut = min(budget - cleaned, unhealthy)
        sizes[name] -= cut
        plan[name] = sizes[name]
        cleaned += cut
    # Then available pods, as far as the availability floor allows.
    available_now = sum(min(availability[n], sizes[n]) for n in sizes) + available(new_rs)
    allowed = available_now - min_available
    for rs in by_creation(old):
        if allowed <= 0:
            break
        name = name_of(rs)
        cut = min(sizes[name], allowed)
        if cut <= 0:
            continue
        sizes[name] -= cut
        plan[name] = sizes[name]
        allowed -= cut
    return plan


def is_scaling_event(deployment: dict[str, Any], all_sets: list[dict[str, Any]]) -> bool:
    """A ReplicaSet with pods remembers a different desired size: ``spec.replicas`` changed."""
    wanted = spec_replicas(deployment)
    for rs in all_sets:
        if spec_replicas(rs) <= 0:
            continue
        desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS_ANNOTATION)
        if desired is not None and str(desired).isdigit() and int(desired) != wanted:
            return True
    return False


def proportional_scale(deployment: dict[str, Any], new_rs: dict[str, Any] | None,
                       old_sets: list[dict[str, Any]]) -> Plan:
    """New sizes after ``spec.replicas`` changed (upstream ``DeploymentController.scale``)."""
    wanted = spec_replicas(deployment)
    all_sets = ([new_rs] if new_rs is not None else []) + old_sets
    active = [rs for rs in all_sets if spec_replicas(rs) > 0]
    if len(active) <= 1:
        target = active[0] if active else (new_rs or _latest(old_sets))
        return {name_of(target): wanted} if target is not None else {}
    if new_rs is not None and spec_replicas(new_rs) == wanted and available(new_rs) >= wanted:
        return {name_of(rs): 0 for rs in old_sets if spec_replicas(rs) > 0}
    if not is_rolling(deployment):
        return {}
    surge = fenceposts(deployment)[0]
    allowed = wanted + surge if wanted > 0 else 0
    to_add = allowed - sum(spec_replicas(rs) for rs in active)
    if to_add == 0:
        return {name_of(rs): spec_replicas(rs) for rs in active}
    # Scaling up favours the largest (then newest) ReplicaSet, scaling down the largest (then oldest).
    ordered = sorted(by_creation(active), key=lambda rs: -spec_replicas(rs))
    if to_add > 0:
        ordered = sorted(list(reversed(by_creation(active))), key=lambda rs: -spec_replicas(rs))
    plan: Plan = {}
    added = 0
    for rs in ordered:
        share = _proportion(rs, deployment, to_add, added, surge)
        plan[name_of(rs)] = spec_replicas(rs) + share
        added += share
    leftover = to_add - added
    first = name_of(ordered[0])
    plan[first] = max(plan[first] + leftover, 0)
    return plan


def _proportion(rs: dict[str, Any], deployment: dict[str, Any], to_add: int, added: int,
                surge: int) -> int:
    if spec_replicas(rs) == 0 or to_add == added:
        return 0
    wanted = spec_replicas(deployment)
    if wanted == 0:
        fraction = -spec_replicas(rs)
    else:
        annotations = (rs.get("metadata") or {}).get("annotations") or {}
        raw = annotations.get(MAX_REPLICAS_ANNOTATION)
        annotated = int(raw) if raw is not None and str(raw).isdigit() else int(
            (deployment.get("status") or {}).get("replicas") or 0)
        if annotated <= 0:
            return 0
        fraction = int(_round_half_away(spec_replicas(rs) * (wanted + surge) / annotated)) - spec_replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _round_half_away(value: float) -> float:
    return math.floor(value + 0.5) if value >= 0 else math.ceil(value - 0.5)


def _latest(sets: list[dict[str, Any]]) -> dict[str, Any] | None:
    ordered = by_creation(sets)
    return ordered[-1] if ordered else None
