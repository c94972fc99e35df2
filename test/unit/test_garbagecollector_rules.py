"""Pure rules of the garbage collector, pod GC and controller options.

Covers: which deletion policy the collector uses for an object whose owners are gone or going
(controllers/garbagecollector.deletion_policy); where an ownerReference may resolve for every
pair of owner and dependent scopes — the dependent's tenant, its namespace for namespaced owners,
cluster-scoped owners only from tenant system, narrower owners invalid — and upstream's
OwnerRefInvalidNamespace message (controllers/gc_scope); the metadata-only transform and the
discovery filter of the graph (controllers/gc_graph: list+watch+delete, events ignored, scope
flags kept); pod GC's keys and oldest-first order (controllers/podgc); where the published root
CA comes from (controllers/options); the process's duration and boolean flags. Leaves out API
calls (test/component/test_controller_garbagecollector.py, test_controller_podgc.py).
"""

from __future__ import annotations

from pathlib import Path

from client.cache import ObjectKey
from client.resources import ResourceRef
from controllers.__main__ import parse_args
from controllers.garbagecollector import Classified, deletion_policy, is_deleting_with, reference_to
from controllers.gc_graph import GraphResource, _deletable, metadata_only, owner_uids
from controllers.gc_scope import OwnerPlace, Unresolvable, invalid_reference_message, owner_place
from controllers.options import ControllerOptions
from controllers.podgc import TERMINATED_PODS, oldest_first, pod_keys

REF = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1"}


def test_deletion_policy() -> None:
    plain = {"metadata": {}}
    assert deletion_policy(plain, Classified(dangling=[REF]), has_dependents=True) == "Background"
    assert deletion_policy(plain, Classified(waiting=[REF]), has_dependents=True) == "Foreground"
    assert deletion_policy(plain, Classified(waiting=[REF]), has_dependents=False) == "Background"
    assert deletion_policy({"metadata": {"finalizers": ["orphan"]}}, Classified(dangling=[REF]),
                           has_dependents=True) == "Orphan"
    assert deletion_policy({"metadata": {"finalizers": ["foregroundDeletion"]}}, Classified(dangling=[REF]),
                           has_dependents=False) == "Foreground"


def test_deleting_with_and_reference_lookup() -> None:
    owner = {"metadata": {"deletionTimestamp": "t", "finalizers": ["foregroundDeletion"]}}
    assert is_deleting_with(owner, "foregroundDeletion") and not is_deleting_with(owner, "orphan")
    assert not is_deleting_with({"metadata": {"finalizers": ["orphan"]}}, "orphan")  # not deleted yet
    dependent = {"metadata": {"ownerReferences": [REF, {**REF, "uid": "u2"}]}}
    assert reference_to(dependent, "u2") == {**REF, "uid": "u2"} and reference_to(dependent, "x") is None
    assert owner_uids(dependent) == ["u1", "u2"]


def test_metadata_only_keeps_what_ownership_needs() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}, "status": {"phase": "Running"},
           "metadata": {"name": "p", "namespace": "n", "tenant": "t", "uid": "u", "labels": {"a": "b"},
                        "resourceVersion": "7", "ownerReferences": [REF], "managedFields": [{}]}}
    slim = metadata_only(pod)
    assert slim == {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "p", "namespace": "n", "tenant": "t", "uid": "u", "resourceVersion": "7",
        "ownerReferences": [REF]}}
    assert ObjectKey.of(slim) == ObjectKey("t", "n", "p")


def test_graph_follows_deletable_watchable_resources_except_events() -> None:
    listing = {"groupVersion": "v1", "resources": [
        {"name": "pods", "kind": "Pod", "namespaced": True, "tenanted": True,
         "verbs": ["create", "delete", "get", "list", "watch"]},
        {"name": "pods/status", "kind": "Pod", "namespaced": True, "verbs": ["get", "update"]},
        {"name": "events", "kind": "Event", "namespaced": True, "verbs": ["delete", "list", "watch"]},
        {"name": "componentstatuses", "kind": "ComponentStatus", "verbs": ["get", "list"]},
        {"name": "nodes", "kind": "Node", "namespaced": False, "tenanted": False,
         "verbs": ["delete", "list", "watch"]},
    ]}
    assert list(_deletable(listing)) == [
        GraphResource(ResourceRef("", "v1", "pods", "Pod"), namespaced=True, tenanted=True),
        GraphResource(ResourceRef("", "v1", "nodes", "Node"), namespaced=False, tenanted=False),
    ]


def test_pod_gc_keys_and_order() -> None:
    done = {"metadata": {"name": "a", "namespace": "n", "tenant": "t"}, "status": {"phase": "Failed"}}
    running = {"metadata": {"name": "b", "namespace": "n", "tenant": "t"}, "status": {"phase": "Running"}}
    assert pod_keys(done) == [ObjectKey("t", "n", "a"), TERMINATED_PODS]
    assert pod_keys(running) == [ObjectKey("t", "n", "b")]
    pods = [{"metadata": {"name": n, "creationTimestamp": ts}} for n, ts in
            (("late", "2024-01-02T00:00:00Z"), ("b", "2024-01-01T00:00:00Z"), ("a", "2024-01-01T00:00:00Z"))]
    assert [p["metadata"]["name"] for p in oldest_first(pods)] == ["a", "b", "late"]


def test_root_ca_prefers_the_flag_then_the_kubeconfig(tmp_path: Path) -> None:
    flag, kubeconfig = tmp_path / "flag.crt", tmp_path / "kc.crt"
    flag.write_text("FLAG")
    kubeconfig.write_text("KUBECONFIG")
    assert ControllerOptions(root_ca_file=str(flag), kubeconfig_ca_file=str(kubeconfig)).root_ca() == "FLAG"
    assert ControllerOptions(kubeconfig_ca_file=str(kubeconfig)).root_ca() == "KUBECONFIG"
    assert ControllerOptions(kubeconfig_ca_data=b"INLINE").root_ca() == "INLINE"
    assert ControllerOptions().root_ca() is None


def test_flags_take_go_durations_and_booleans() -> None:
    args = parse_args(["--master", "http://x", "--node-monitor-grace-period", "500ms",
                       "--leader-elect=false", "--leader-elect-lease-duration", "1m"])
    assert args.node_monitor_grace_period == 0.5 and args.leader_elect is False
    assert args.leader_elect_lease_duration == 60.0
    defaults = parse_args(["--master", "http://x"])
    assert defaults.leader_elect is True and defaults.leader_elect_lease_name == "kube-controller-manager"
    assert (defaults.leader_elect_lease_duration, defaults.leader_elect_renew_deadline,
            defaults.leader_elect_retry_period) == (15.0, 10.0, 2.0)
    assert defaults.terminated_pod_gc_threshold == 12500 and defaults.node_monitor_grace_period == 40.0
    assert defaults.default_unreachable_toleration_seconds == 300
    tuned = parse_args(["--master", "http://x", "--default-unreachable-toleration-seconds", "10"])
    assert tuned.default_unreachable_toleration_seconds == 10


NAMESPACED = GraphResource(ResourceRef("", "v1", "configmaps", "ConfigMap"), namespaced=True, tenanted=True)
TENANTED = GraphResource(ResourceRef("", "v1", "namespaces", "Namespace"), namespaced=False, tenanted=True)
CLUSTER = GraphResource(ResourceRef("", "v1", "nodes", "Node"), namespaced=False, tenanted=False)


def test_owner_references_resolve_only_inside_the_dependents_tenant() -> None:
    in_acme = {"metadata": {"tenant": "acme", "namespace": "web"}}
    acme_wide = {"metadata": {"tenant": "acme"}}
    in_system = {"metadata": {"tenant": "system", "namespace": "kube-node-lease"}}
    cluster = {"metadata": {}}
    table = [
        # (dependent resource, dependent, owner resource) -> where the owner must be
        (NAMESPACED, in_acme, NAMESPACED, OwnerPlace("acme", "web")),
        (NAMESPACED, in_acme, TENANTED, OwnerPlace("acme", "")),
        (NAMESPACED, in_acme, CLUSTER, Unresolvable.OUTSIDE_TENANT),
        (NAMESPACED, in_system, CLUSTER, OwnerPlace("", "")),  # a node lease owned by its Node
        (TENANTED, acme_wide, NAMESPACED, Unresolvable.INVALID),
        (TENANTED, acme_wide, TENANTED, OwnerPlace("acme", "")),
        (TENANTED, acme_wide, CLUSTER, Unresolvable.OUTSIDE_TENANT),
        (CLUSTER, cluster, NAMESPACED, Unresolvable.INVALID),
        (CLUSTER, cluster, TENANTED, Unresolvable.INVALID),
        (CLUSTER, cluster, CLUSTER, OwnerPlace("", "")),
    ]
    for dependent_resource, dependent, owner_resource, expected in table:
        assert owner_place(dependent_resource, dependent, owner_resource) == expected, \
            (dependent_resource.ref, dependent, owner_resource.ref)
    place = OwnerPlace("acme", "web")
    assert place.holds({"metadata": {"tenant": "acme", "namespace": "web", "name": "o"}})
    assert not place.holds({"metadata": {"tenant": "globex", "namespace": "web"}})  # same names elsewhere
    assert not place.holds({"metadata": {"tenant": "acme", "namespace": "other"}})
    assert OwnerPlace("", "").holds({"metadata": {"name": "node-1"}})


def test_invalid_reference_message_is_upstreams() -> None:
    dependent = {"metadata": {"tenant": "acme", "namespace": "web", "name": "d"}}
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1"}
    assert invalid_reference_message(ref, dependent) == \
        'ownerRef [apps/v1/ReplicaSet, namespace: web, name: rs, uid: u-1] does not exist in namespace "web"'
    assert invalid_reference_message({**ref, "apiVersion": "v1", "kind": "Node"}, dependent,
                                     outside_tenant=True).endswith('does not exist in tenant "acme"')
