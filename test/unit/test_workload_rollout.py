"""Unit tests of the Deployment arithmetic and revision rules (no server).

Covers: maxSurge/maxUnavailable resolution (ints, percentages, surge rounding up, unavailable
down, both-zero fallback); the new ReplicaSet's growth within replicas+maxSurge; old ReplicaSets
shrinking only as far as availability allows (unhealthy pods first, stale statuses not trusted);
proportional scaling mid-rollout; the pod-template-hash (stable, safe alphabet, ignores its own
label and null fields, salted by collisionCount); revisions and history cleanup; Progressing and
Available conditions incl. the progress deadline.
Leaves out: API writes (component tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers.deployment_history import (
    find_new_replica_set,
    new_replica_set_body,
    next_revision,
    refreshed_new_replica_set,
    replica_sets_to_delete,
)
from controllers.deployment_rollout import (
    fenceposts,
    int_or_percent,
    is_scaling_event,
    new_replica_set_size,
    old_replica_sets_scale_down,
    proportional_scale,
)
from controllers.deployment_status import calculate_status, condition, update_progress
from controllers.pod_template import template_hash, templates_equal_ignoring_hash

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
}


def deployment(replicas: int, surge: Any = "25%", unavailable: Any = "25%", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "uid": "d-uid", "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": TEMPLATE,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "progressDeadlineSeconds": 600,
            **spec,
        },
        "status": {},
    }


def rs(
    name: str,
    replicas: int,
    available: int | None = None,
    *,
    created: int = 0,
    revision: int = 1,
    annotations: dict[str, str] | None = None,
    status_replicas: int | None = None,
) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "generation": 1,
            "creationTimestamp": f"2026-01-01T00:00:{created:02d}Z",
            "annotations": {"deployment.kubernetes.io/revision": str(revision), **(annotations or {})},
        },
        "spec": {"replicas": replicas, "template": TEMPLATE},
        "status": {
            "replicas": replicas if status_replicas is None else status_replicas,
            "availableReplicas": replicas if available is None else available,
            "readyReplicas": replicas if available is None else available,
            "observedGeneration": 1,
        },
    }


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [
        (2, 10, True, 2),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("0%", 5, True, 0),
        ("100%", 7, False, 7),
    ],
)
def test_int_or_percent(value: Any, total: int, up: bool, expected: int) -> None:
    assert int_or_percent(value, total, round_up=up) == expected


def test_fenceposts_round_surge_up_unavailable_down_and_never_both_zero() -> None:
    assert fenceposts(deployment(10)) == (3, 2)
    assert fenceposts(deployment(5, surge=0, unavailable=0)) == (0, 1)
    assert fenceposts(deployment(3, surge="10%", unavailable="10%")) == (1, 0)


def test_new_replica_set_grows_within_surge() -> None:
    d = deployment(5, surge=1, unavailable=1)
    old = rs("old", 5)
    assert new_replica_set_size(d, [old], None) == 1
    new = rs("new", 1, 0, created=5)
    assert new_replica_set_size(d, [old, new], new) == 1  # 6 pods already: at the ceiling


def test_old_scale_down_keeps_min_available() -> None:
    d = deployment(5, surge=1, unavailable=1)
    old, new = rs("old", 5), rs("new", 1, 0, created=5)
    assert old_replica_sets_scale_down(d, [old], new) == {"old": 4}
    # A status written before the last scale-down claims 5 available of 4: only 4 count.
    stale_old = rs("old", 4, 5)
    assert old_replica_sets_scale_down(d, [stale_old], rs("new", 2, 1, created=5)) == {"old": 3}
    # Nothing available on the new side and the old one at the floor: no scale-down.
    assert old_replica_sets_scale_down(d, [rs("old", 4)], rs("new", 2, 0, created=5)) == {}


def test_unhealthy_old_pods_go_first() -> None:
    older, newer = rs("a", 2, 0, created=1), rs("b", 2, 2, created=2)
    new = rs("new", 0, 0, created=9)
    # Budget 2 (4 pods, 2 must stay available): both unhealthy pods go, no available one does.
    assert old_replica_sets_scale_down(deployment(4, surge=0, unavailable=2), [older, newer], new) == {"a": 0}
    # Budget 1: one unhealthy pod.
    assert old_replica_sets_scale_down(deployment(4, surge=0, unavailable=1), [older, newer], new) == {"a": 1}


def test_proportional_scale_mid_rollout() -> None:
    d = deployment(20, surge=3, unavailable=2)
    annotations = {
        "deployment.kubernetes.io/max-replicas": "13",
        "deployment.kubernetes.io/desired-replicas": "10",
    }
    new = rs("new", 5, created=5, annotations=annotations)
    old = rs("old", 8, created=1, annotations=annotations)
    assert is_scaling_event(d, [new, old])
    plan = proportional_scale(d, new, [old])
    assert sum(plan.values()) == 23
    assert plan["old"] > plan["new"] > 5


def test_single_active_replica_set_takes_the_new_size() -> None:
    d = deployment(7)
    assert proportional_scale(d, rs("new", 3), [rs("old", 0)]) == {"new": 7}


def test_template_hash_is_stable_and_ignores_its_label_and_nulls() -> None:
    pod_hash = template_hash(TEMPLATE)
    assert set(pod_hash) <= set("bcdfghjklmnpqrstvwxz2456789")
    labelled = {
        "metadata": {"labels": {"app": "web", "pod-template-hash": pod_hash}, "creationTimestamp": None},
        "spec": TEMPLATE["spec"],
    }
    assert template_hash(labelled) == pod_hash
    assert templates_equal_ignoring_hash(labelled, TEMPLATE)
    assert template_hash(TEMPLATE, 1) != pod_hash


def test_new_replica_set_body_and_revisions() -> None:
    d = deployment(3)
    body = new_replica_set_body(d, revision=4, replicas=1)
    pod_hash = body["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    assert body["metadata"]["name"] == f"web-{pod_hash}"
    assert body["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    assert body["metadata"]["ownerReferences"][0]["controller"] is True
    assert find_new_replica_set(d, [rs("x", 1, created=1), body]) is not None
    assert next_revision([rs("a", 0, revision=2), rs("b", 0, revision=7)]) == 8
    refreshed = refreshed_new_replica_set(d, rs("back", 3, revision=2), 8)
    assert refreshed is not None
    assert refreshed["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "8"
    assert refreshed["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"


def test_history_cleanup_deletes_oldest_empty_replica_sets() -> None:
    d = deployment(3, revisionHistoryLimit=1)
    old = [rs("r1", 0, revision=1), rs("r2", 0, revision=2), rs("r3", 1, revision=3)]
    assert [x["metadata"]["name"] for x in replica_sets_to_delete(d, old)] == ["r1", "r2"]
    assert replica_sets_to_delete(deployment(3, revisionHistoryLimit=5), old) == []


def test_conditions_complete_progressing_and_deadline() -> None:
    d = deployment(3)
    new = rs("new", 3)
    status = calculate_status(d, [new], new)
    update_progress(d, status, new)
    assert condition(status, "Available")["reason"] == "MinimumReplicasAvailable"  # type: ignore[index]
    assert condition(status, "Progressing")["reason"] == "NewReplicaSetAvailable"  # type: ignore[index]
    stalled = deployment(3)
    old_time = (datetime.now(UTC) - timedelta(seconds=700)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stalled["status"] = {
        "replicas": 3,
        "updatedReplicas": 1,
        "availableReplicas": 2,
        "readyReplicas": 2,
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "lastUpdateTime": old_time,
                "lastTransitionTime": old_time,
            }
        ],
    }
    sets = [rs("new", 1, 0), rs("old", 2)]
    status = calculate_status(stalled, sets, sets[0])
    update_progress(stalled, status, sets[0])
    progressing = condition(status, "Progressing")
    assert progressing is not None and progressing["status"] == "False"
    assert progressing["reason"] == "ProgressDeadlineExceeded"
