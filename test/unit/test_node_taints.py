"""Taint/toleration rules of the node lifecycle controller (controllers/node_taints.py) and its
condition rewrite (controllers/nodelifecycle.conditions_unknown).

Covers: how long a pod may stay (no toleration → the 300 s default, a toleration without
seconds → forever, the shortest bound wins, negatives count as 0); adding and removing the
unreachable taints (not-ready swapped out, timeAdded only on NoExecute, idempotent); eviction
times; the Unknown conditions a silent kubelet leaves. Leaves out the controller's API calls
(test/component/test_controller_nodelifecycle.py) and the toleration matching rule itself
(test_tolerations.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controllers.node_taints import (
    NOT_READY_TAINT_KEY,
    UNREACHABLE_TAINT_KEY,
    eviction_due,
    toleration_seconds,
    with_unreachable_taints,
    without_unreachable_taints,
)
from controllers.nodelifecycle import conditions_unknown

TAINT = {"key": UNREACHABLE_TAINT_KEY, "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}


def pod(*tolerations: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"tolerations": list(tolerations)}}


def test_toleration_seconds() -> None:
    assert toleration_seconds(pod(), TAINT, default_seconds=300) == 300
    assert toleration_seconds(pod({"key": UNREACHABLE_TAINT_KEY, "operator": "Exists"}), TAINT,
                              default_seconds=300) is None
    both = pod({"operator": "Exists", "tolerationSeconds": 50},
               {"key": UNREACHABLE_TAINT_KEY, "operator": "Exists", "tolerationSeconds": 2})
    assert toleration_seconds(both, TAINT, default_seconds=300) == 2
    assert toleration_seconds(pod({"operator": "Exists", "tolerationSeconds": -5}), TAINT,
                              default_seconds=300) == 0
    unrelated = pod({"key": "other", "operator": "Exists"})
    assert toleration_seconds(unrelated, TAINT, default_seconds=300) == 300


def test_eviction_due_counts_from_the_taint() -> None:
    now = datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    two_seconds = pod({"operator": "Exists", "tolerationSeconds": 2})
    due = eviction_due(two_seconds, TAINT, default_seconds=300, now=now)
    assert due == datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert eviction_due(pod({"operator": "Exists"}), TAINT, default_seconds=300, now=now) is None


def test_unreachable_taints_added_once_and_removed() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    existing = [{"key": NOT_READY_TAINT_KEY, "effect": "NoExecute"},
                {"key": "dedicated", "effect": "NoSchedule"}]
    tainted = with_unreachable_taints(existing, now)
    assert {(t["key"], t["effect"]) for t in tainted} == {
        ("dedicated", "NoSchedule"), (UNREACHABLE_TAINT_KEY, "NoSchedule"),
        (UNREACHABLE_TAINT_KEY, "NoExecute")}
    no_execute = next(t for t in tainted if t["effect"] == "NoExecute")
    assert no_execute["timeAdded"] == "2024-01-01T00:00:00Z"
    assert with_unreachable_taints(tainted, datetime(2025, 1, 1, tzinfo=UTC)) == tainted
    assert without_unreachable_taints(tainted) == [{"key": "dedicated", "effect": "NoSchedule"}]


def test_silent_kubelet_conditions() -> None:
    conditions = [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": "hb", "lastTransitionTime": "old"},
        {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "hb"},
        {"type": "NetworkUnavailable", "status": "False"},
    ]
    updated = conditions_unknown(conditions, "now")
    ready = updated[0]
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert ready["lastHeartbeatTime"] == "hb" and ready["lastTransitionTime"] == "now"
    assert updated[1]["status"] == "Unknown"
    assert updated[2] == conditions[2]  # not one upstream monitors
    assert conditions[0]["status"] == "True"  # input untouched
    assert conditions_unknown(updated, "later") == updated  # idempotent
    never = conditions_unknown([], "now")
    assert never == [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                      "message": "Kubelet never posted node status.", "lastTransitionTime": "now"}]
