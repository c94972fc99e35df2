"""Taints and tolerations as the node lifecycle controller needs them: pure functions on JSON.

Upstream's taint eviction controller (``GetMatchingTolerations``, ``getMinTolerationTime``)
decides for how long a pod may stay on a node carrying a ``NoExecute`` taint; whether a
toleration matches a taint at all is the shared rule of `apis.tolerations`. Kept apart from the
controller so they can be unit-tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from apis.meta import now_rfc3339, parse_time
from apis.tolerations import NO_EXECUTE, NO_SCHEDULE, tolerates
from apis.wire_types import TaintJSON, pod_spec_of

UNREACHABLE_TAINT_KEY = "node.kubernetes.io/unreachable"
NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready"


def toleration_seconds(pod: Mapping[str, Any], taint: TaintJSON, *, default_seconds: int) -> float | None:
    """How long ``pod`` may keep running on a node with NoExecute ``taint``: None = forever.

    A pod without a matching toleration gets ``default_seconds``: upstream's DefaultTolerationSeconds
    admission plugin gives every pod such a toleration for the unreachable and not-ready taints
    (300 s), and our server does not add it, so the controller applies the same default. Among
    several matching tolerations the shortest bound wins (``getMinTolerationTime``).
    """
    matching = [t for t in pod_spec_of(pod).get("tolerations") or [] if tolerates(t, taint)]
    if not matching:
        return float(default_seconds)
    bounds = [t.get("tolerationSeconds") for t in matching]
    finite = [float(b) for b in bounds if b is not None]
    if len(finite) < len(bounds):  # some toleration has no bound
        return min(finite) if finite else None
    return max(0.0, min(finite))


def find_taint(taints: Iterable[TaintJSON], key: str, effect: str) -> TaintJSON | None:
    return next((t for t in taints if t.get("key") == key and t.get("effect") == effect), None)


def with_unreachable_taints(taints: list[TaintJSON], now: datetime) -> list[TaintJSON]:
    """``taints`` plus unreachable NoSchedule and NoExecute (timeAdded now); a not-ready taint of
    the same effect is swapped out, as upstream swaps them when the node's state changes."""
    kept = [t for t in taints if t.get("key") != NOT_READY_TAINT_KEY]
    if find_taint(kept, UNREACHABLE_TAINT_KEY, NO_SCHEDULE) is None:
        kept.append({"key": UNREACHABLE_TAINT_KEY, "effect": NO_SCHEDULE})
    if find_taint(kept, UNREACHABLE_TAINT_KEY, NO_EXECUTE) is None:
        kept.append({"key": UNREACHABLE_TAINT_KEY, "effect": NO_EXECUTE, "timeAdded": now_rfc3339(now)})
    return kept


def without_unreachable_taints(taints: list[TaintJSON]) -> list[TaintJSON]:
    return [t for t in taints if t.get("key") != UNREACHABLE_TAINT_KEY]


def eviction_due(pod: Mapping[str, Any], taint: TaintJSON, *, default_seconds: int,
                 now: datetime) -> datetime | None:
    """When ``pod`` is to be evicted because of NoExecute ``taint`` (None: never)."""
    seconds = toleration_seconds(pod, taint, default_seconds=default_seconds)
    if seconds is None:
        return None
    added = parse_time(taint.get("timeAdded")) or now
    return datetime.fromtimestamp(added.timestamp() + seconds, UTC)
