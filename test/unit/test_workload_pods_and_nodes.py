"""Unit tests of the pod and node rules the workload controllers share (no server).

Covers: which pods a scale-down deletes first; availability after minReadySeconds; pods from
templates (generateName, owner reference with hashKey); expectations (created pods awaited until
observed, deletions until terminating); DaemonSet eligibility (nodeSelector, node affinity incl.
matchFields, taints vs tolerations incl. the automatic ones, NoExecute eviction) and pinning;
StatefulSet identities, claims and the revision a recreated pod gets.
Leaves out: API calls (component tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from client.cache import ObjectKey
from controllers import pod_state
from controllers.daemonset_nodes import pinned_spec, should_run, target_node
from controllers.pod_template import pod_from_template
from controllers.statefulset_pods import claims_for, ordinal_of, stateful_pod, uses_current_revision
from controllers.workload_expectations import Expectations


def pod(
    name: str,
    *,
    node: str = "",
    phase: str = "Running",
    ready: bool = True,
    ready_for_s: int = 100,
    created_s_ago: int = 100,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    stamp = (now - timedelta(seconds=ready_for_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": (now - timedelta(seconds=created_s_ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}
            ],
        },
    }


def test_scale_down_prefers_unscheduled_then_not_ready_then_newest() -> None:
    pods = [
        pod("old-ready", node="n"),
        pod("new-ready", node="n", created_s_ago=1),
        pod("not-ready", node="n", ready=False),
        pod("pending", phase="Pending", ready=False),
    ]
    assert [p["metadata"]["name"] for p in pod_state.pods_to_delete(pods, 3)] == [
        "pending",
        "not-ready",
        "new-ready",
    ]


def test_availability_waits_for_min_ready_seconds() -> None:
    fresh = pod("p", ready_for_s=2)
    assert pod_state.is_available(fresh, 0)
    assert not pod_state.is_available(fresh, 10)
    left = pod_state.seconds_until_available(fresh, 10)
    assert left is not None and 7 <= left <= 8.5


def test_pod_from_template_owner_reference() -> None:
    owner = {
        "metadata": {"name": "web", "uid": "u1", "hashKey": 42},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            }
        },
    }
    body = pod_from_template(owner, api_version="apps/v1", kind="ReplicaSet")
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == {"app": "web"} and body["metadata"]["annotations"] == {"a": "b"}
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
            "hashKey": 42,
        }
    ]


def test_expectations_wait_for_the_cache() -> None:
    expectations = Expectations()
    owner = ObjectKey("t", "ns", "web")
    created = [ObjectKey("t", "ns", "web-a"), ObjectKey("t", "ns", "web-b")]
    expectations.expect_creations(owner, created)
    assert not expectations.satisfied(owner)
    assert expectations.observed(created[0], gone_or_going=False) == owner
    assert not expectations.satisfied(owner)
    expectations.observed(created[1], gone_or_going=False)
    assert expectations.satisfied(owner)
    expectations.expect_deletions(owner, created[:1])
    assert expectations.observed(created[0], gone_or_going=False) is None
    assert not expectations.satisfied(owner)
    expectations.observed(created[0], gone_or_going=True)
    assert expectations.satisfied(owner)
    assert Expectations(timeout_s=0.0).satisfied(owner)


def node(
    name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_daemon_eligibility() -> None:
    spec: dict[str, Any] = {"nodeSelector": {"pool": "a"}, "containers": []}
    assert should_run(spec, node("n1", {"pool": "a"})) == (True, True)
    assert should_run(spec, node("n2", {"pool": "b"})) == (False, False)
    tainted = node("n3", {"pool": "a"}, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    assert should_run(spec, tainted) == (False, True)
    evicting = node("n4", {"pool": "a"}, [{"key": "gone", "effect": "NoExecute"}])
    assert should_run(spec, evicting) == (False, False)
    automatic = node(
        "n5",
        {"pool": "a"},
        [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
        ],
    )
    assert should_run(spec, automatic) == (True, True)
    tolerant = {**spec, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]}
    assert should_run(tolerant, tainted) == (True, True)
    forgiving = {**spec, "tolerations": [{"operator": "Exists"}]}  # empty key + Exists: every taint
    assert should_run(forgiving, evicting) == (True, True)


def test_daemon_node_affinity_and_pinning() -> None:
    spec: dict[str, Any] = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]},
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
                    ]
                }
            }
        }
    }
    assert should_run(spec, node("x", {"zone": "z1"}))[0]
    assert should_run(spec, node("special"))[0]
    assert not should_run(spec, node("other", {"zone": "z2"}))[0]
    pinned = pinned_spec(spec, "node-7")
    assert target_node({"spec": pinned}) == "node-7"
    assert target_node({"spec": {**pinned, "nodeName": "bound"}}) == "bound"
    assert any(t["key"] == "node.kubernetes.io/not-ready" for t in pinned["tolerations"])


def test_daemon_tolerations_replace_matching_template_ones() -> None:
    """upstream AddOrUpdateDaemonPodTolerations: a template toleration with the same key, effect,
    operator and value as an automatic one is replaced by it (no time bound on not-ready)."""
    bounded = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 30}
    own = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
    pinned = pinned_spec({"tolerations": [bounded, own]}, "n1")
    not_ready = [t for t in pinned["tolerations"] if t.get("key") == "node.kubernetes.io/not-ready"]
    assert not_ready == [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]
    assert pinned["tolerations"][1] == own
    assert len(pinned["tolerations"]) == 7  # own + the six automatic ones (no host network)


def test_stateful_identity_claims_and_revision_choice() -> None:
    sts: dict[str, Any] = {
        "metadata": {"name": "db", "uid": "s1"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["RWO"]}}],
        },
    }
    body = stateful_pod(sts, 3, template=sts["spec"]["template"], revision="db-abc")
    assert body["metadata"]["name"] == "db-3" and ordinal_of("db", body) == 3
    assert body["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "3"
    assert body["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-3"}}]
    assert claims_for(sts, 3)[0]["metadata"] == {"name": "data-db-3", "labels": {"app": "db"}}
    assert ordinal_of("db", {"metadata": {"name": "db-x"}}) is None
    assert uses_current_revision(sts, 1) and not uses_current_revision(sts, 2)
