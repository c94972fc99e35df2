"""Each scheduler filter plugin as a pure function of (pod, node, cluster) dicts.

Covers NodeResourcesFit (cpu, memory, pods, ephemeral-storage, extended resources, init-container
max rule, sidecars, overhead, assumed pods counting), NodeName, NodeUnschedulable, NodeAffinity
(nodeSelector, In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields metadata.name, OR of terms, empty
terms), TaintToleration (NoSchedule/NoExecute/PreferNoSchedule, Exists/Equal), NodeRuntime (VM and
container runtime conditions), NodePorts (wildcard and specific host IPs), InterPodAffinity
(required affinity incl. the first-pod rule, anti-affinity both ways, tenant isolation,
namespaceSelector) and PodTopologySpread (maxSkew, missing label, minDomains). Leaves out the
algorithm's sampling and messages (test_scheduler_algorithm.py) and scores.
"""

from __future__ import annotations

from typing import Any

from scheduler_fixtures import cluster, info, node, pod

from scheduler.cache import SchedulerCache
from scheduler.framework import FilterPlugin, Reasons
from scheduler.plugins.interpod_affinity import InterPodAffinity
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_basics import NodeName, NodeRuntime, NodeUnschedulable, TaintToleration
from scheduler.plugins.node_ports import NodePorts
from scheduler.plugins.resources import NodeResourcesFit
from scheduler.plugins.topology_spread import PodTopologySpread


def run(plugin: FilterPlugin, p: dict[str, Any], cache: SchedulerCache, node_name: str) -> Reasons | None:
    check = plugin.prefilter(info(p), cache)
    return None if check is None else check(cache.nodes[node_name])


def affinity_term(
    labels: dict[str, str], key: str = "kubernetes.io/hostname", **extra: Any
) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


# -- NodeResourcesFit ---------------------------------------------------------------------------


def test_fit_accepts_a_pod_within_allocatable() -> None:
    cache = cluster(node("n1", cpu="2", memory="4Gi"))
    assert run(NodeResourcesFit(), pod("p", cpu="2", memory="4Gi"), cache, "n1") is None


def test_fit_names_every_insufficient_resource() -> None:
    cache = cluster(node("n1", cpu="1", memory="1Gi"))
    assert run(NodeResourcesFit(), pod("p", cpu="1500m", memory="2Gi"), cache, "n1") == (
        "Insufficient cpu",
        "Insufficient memory",
    )


def test_fit_counts_pods_already_on_the_node() -> None:
    cache = cluster(node("n1", cpu="2"), bound=(pod("old", cpu="1500m", node_name="n1"),))
    assert run(NodeResourcesFit(), pod("p", cpu="600m"), cache, "n1") == ("Insufficient cpu",)
    assert run(NodeResourcesFit(), pod("p", cpu="500m"), cache, "n1") is None


def test_fit_counts_assumed_pods_and_forget_releases_them() -> None:
    cache = cluster(node("n1", cpu="1"))
    first = info(pod("a", cpu="800m"))
    cache.assume(first, "n1")
    assert run(NodeResourcesFit(), pod("b", cpu="500m"), cache, "n1") == ("Insufficient cpu",)
    cache.forget(first.key)
    assert run(NodeResourcesFit(), pod("b", cpu="500m"), cache, "n1") is None


def test_fit_refuses_beyond_allowed_pod_count() -> None:
    cache = cluster(node("n1", pods="1"), bound=(pod("old", node_name="n1"),))
    assert run(NodeResourcesFit(), pod("p"), cache, "n1") == ("Too many pods",)


def test_fit_checks_ephemeral_storage_and_extended_resources() -> None:
    cache = cluster(node("n1", extra_allocatable={"example.com/gpu": "1"}))
    big_disk = pod("p", containers=[{"name": "c", "resources": {"requests": {"ephemeral-storage": "200Gi"}}}])
    assert run(NodeResourcesFit(), big_disk, cache, "n1") == ("Insufficient ephemeral-storage",)
    gpus = pod("q", containers=[{"name": "c", "resources": {"limits": {"example.com/gpu": "2"}}}])
    assert run(NodeResourcesFit(), gpus, cache, "n1") == ("Insufficient example.com/gpu",)


def test_requests_use_the_larger_of_init_containers_and_the_sum_of_app_containers() -> None:
    p = pod(
        "p",
        containers=[
            {"name": "a", "resources": {"requests": {"cpu": "1"}}},
            {"name": "b", "resources": {"requests": {"cpu": "1"}}},
        ],
        initContainers=[{"name": "i", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}],
    )
    assert info(p).requests["cpu"] == 3000
    assert info(p).requests["memory"] == 1 << 30


def test_sidecar_init_containers_and_overhead_add_to_requests() -> None:
    p = pod(
        "p",
        containers=[{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
        initContainers=[
            {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}}
        ],
        overhead={"cpu": "100m"},
    )
    assert info(p).requests["cpu"] == 1600


def test_requests_default_to_limits_and_nonzero_defaults_apply_for_scoring() -> None:
    p = info(pod("p", containers=[{"name": "a", "resources": {"limits": {"memory": "1Gi"}}}]))
    assert p.requests == {"memory": 1 << 30}
    assert (p.nonzero_cpu, p.nonzero_memory) == (100, 1 << 30)


def test_vm_pod_is_sized_from_the_virtual_machine_requests() -> None:
    assert info(pod("vm", cpu="2", memory="2Gi", vm=True)).requests == {"cpu": 2000, "memory": 2 << 30}


# -- NodeName, NodeUnschedulable, TaintToleration, NodeRuntime ------------------------------------


def test_node_name_only_matches_its_node() -> None:
    cache = cluster(node("n1"), node("n2"))
    p = pod("p", nodeName="n2")
    assert run(NodeName(), p, cache, "n1") == ("node(s) didn't match the requested node name",)
    assert run(NodeName(), p, cache, "n2") is None
    assert NodeName().prefilter(info(pod("q")), cache) is None


def test_cordoned_node_refuses_unless_tolerated() -> None:
    cache = cluster(node("n1", unschedulable=True))
    assert run(NodeUnschedulable(), pod("p"), cache, "n1") == ("node(s) were unschedulable",)
    tolerant = pod(
        "q",
        tolerations=[
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
        ],
    )
    assert run(NodeUnschedulable(), tolerant, cache, "n1") is None


def test_taints_need_tolerations_for_noschedule_and_noexecute_only() -> None:
    cache = cluster(
        node("hard", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        node("exec", taints=[{"key": "k", "effect": "NoExecute"}]),
        node("soft", taints=[{"key": "k", "effect": "PreferNoSchedule"}]),
    )
    assert run(TaintToleration(), pod("p"), cache, "hard") == (
        "node(s) had untolerated taint {dedicated: gpu}",
    )
    assert run(TaintToleration(), pod("p"), cache, "exec") == ("node(s) had untolerated taint {k: }",)
    assert run(TaintToleration(), pod("p"), cache, "soft") is None
    equal = pod("q", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}])
    wrong_value = pod("r", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "cpu"}])
    everything = pod("s", tolerations=[{"operator": "Exists"}])
    assert run(TaintToleration(), equal, cache, "hard") is None
    assert run(TaintToleration(), wrong_value, cache, "hard") is not None
    assert run(TaintToleration(), everything, cache, "exec") is None


def test_vm_pod_needs_vm_runtime_ready() -> None:
    cache = cluster(
        node("vmready", conditions={"VmRuntimeReady": "True"}),
        node("vmdown", conditions={"VmRuntimeReady": "False"}),
        node("plain"),
    )
    vm = pod("vm", vm=True)
    assert run(NodeRuntime(), vm, cache, "vmready") is None
    assert run(NodeRuntime(), vm, cache, "vmdown") == ("node(s) didn't have a ready VM runtime",)
    assert run(NodeRuntime(), vm, cache, "plain") == ("node(s) didn't have a ready VM runtime",)


def test_container_pod_avoids_only_nodes_reporting_container_runtime_down() -> None:
    cache = cluster(
        node("down", conditions={"ContainerRuntimeReady": "False"}),
        node("up", conditions={"ContainerRuntimeReady": "True"}),
        node("unknown"),
    )
    assert run(NodeRuntime(), pod("p"), cache, "down") == ("node(s) didn't have a ready container runtime",)
    assert run(NodeRuntime(), pod("p"), cache, "up") is None
    assert run(NodeRuntime(), pod("p"), cache, "unknown") is None


# -- NodeAffinity --------------------------------------------------------------------------------


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def test_node_selector_requires_every_label() -> None:
    cache = cluster(node("ssd", labels={"disk": "ssd", "zone": "a"}), node("hdd", labels={"disk": "hdd"}))
    p = pod("p", nodeSelector={"disk": "ssd", "zone": "a"})
    assert run(NodeAffinity(), p, cache, "ssd") is None
    assert run(NodeAffinity(), p, cache, "hdd") == ("node(s) didn't match Pod's node affinity/selector",)


def test_node_affinity_operators() -> None:
    cache = cluster(node("n1", labels={"zone": "a", "cores": "16"}), node("n2", labels={"zone": "b"}))
    cases = [
        (expr("zone", "In", "a", "c"), {"n1"}),
        (expr("zone", "NotIn", "a"), {"n2"}),
        (expr("cores", "Exists"), {"n1"}),
        (expr("cores", "DoesNotExist"), {"n2"}),
        (expr("cores", "Gt", "8"), {"n1"}),
        (expr("cores", "Lt", "8"), set()),
    ]
    for term, expected in cases:
        fits = {
            n
            for n in ("n1", "n2")
            if run(NodeAffinity(), pod("p", affinity=required(term)), cache, n) is None
        }
        assert fits == expected, term


def test_node_affinity_match_fields_and_or_of_terms() -> None:
    cache = cluster(node("n1", labels={"zone": "a"}), node("n2"), node("n3"))
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    p = pod("p", affinity=required(by_name, expr("zone", "In", "a")))
    assert {n for n in ("n1", "n2", "n3") if run(NodeAffinity(), p, cache, n) is None} == {"n1", "n2"}


def test_empty_node_selector_terms_match_nothing() -> None:
    cache = cluster(node("n1"))
    assert run(NodeAffinity(), pod("p", affinity=required({})), cache, "n1") is not None
    assert NodeAffinity().prefilter(info(pod("q")), cache) is None


# -- NodePorts -----------------------------------------------------------------------------------


def port_pod(
    name: str, port: int, host_ip: str = "", protocol: str = "TCP", node_name: str = ""
) -> dict[str, Any]:
    spec_port: dict[str, Any] = {"containerPort": 80, "hostPort": port, "protocol": protocol}
    if host_ip:
        spec_port["hostIP"] = host_ip
    return pod(name, node_name=node_name, containers=[{"name": "c", "image": "x", "ports": [spec_port]}])


def test_host_port_conflicts() -> None:
    cache = cluster(node("n1"), bound=(port_pod("old", 8080, node_name="n1"),))
    assert run(NodePorts(), port_pod("p", 8080), cache, "n1") == (
        "node(s) didn't have free ports for the requested pod ports",
    )
    assert run(NodePorts(), port_pod("p", 8080, protocol="UDP"), cache, "n1") is None
    assert run(NodePorts(), port_pod("p", 8081), cache, "n1") is None


def test_host_port_specific_ips_only_conflict_with_same_ip_or_wildcard() -> None:
    cache = cluster(node("n1"), bound=(port_pod("old", 8080, host_ip="10.0.0.1", node_name="n1"),))
    assert run(NodePorts(), port_pod("p", 8080, host_ip="10.0.0.2"), cache, "n1") is None
    assert run(NodePorts(), port_pod("p", 8080, host_ip="10.0.0.1"), cache, "n1") is not None
    assert run(NodePorts(), port_pod("p", 8080), cache, "n1") is not None


# -- InterPodAffinity ----------------------------------------------------------------------------


def zoned_cluster(*bound: dict[str, Any]) -> SchedulerCache:
    return cluster(
        node("a1", labels={"zone": "a"}),
        node("a2", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("nozone"),
        bound=bound,
    )


def test_required_affinity_follows_the_matching_pods_domain() -> None:
    cache = zoned_cluster(pod("db", labels={"app": "db"}, node_name="a1"))
    p = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "db"}, "zone")]
            }
        },
    )
    fits = {n for n in ("a1", "a2", "b1", "nozone") if run(InterPodAffinity(), p, cache, n) is None}
    assert fits == {"a1", "a2"}
    assert run(InterPodAffinity(), p, cache, "b1") == ("node(s) didn't match pod affinity rules",)


def test_first_pod_of_a_self_affine_group_may_go_anywhere_with_the_key() -> None:
    cache = zoned_cluster()
    p = pod(
        "first",
        labels={"app": "x"},
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "x"}, "zone")]
            }
        },
    )
    fits = {n for n in ("a1", "a2", "b1", "nozone") if run(InterPodAffinity(), p, cache, n) is None}
    assert fits == {"a1", "a2", "b1"}


def test_required_anti_affinity_avoids_domains_with_matching_pods() -> None:
    cache = zoned_cluster(pod("other", labels={"app": "web"}, node_name="a1"))
    p = pod(
        "web",
        labels={"app": "web"},
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "web"}, "zone")]
            }
        },
    )
    fits = {n for n in ("a1", "a2", "b1", "nozone") if run(InterPodAffinity(), p, cache, n) is None}
    assert fits == {"b1", "nozone"}


def test_existing_pods_anti_affinity_keeps_the_newcomer_out() -> None:
    loner = pod(
        "loner",
        node_name="a1",
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "noisy"}, "zone")]
            }
        },
    )
    cache = zoned_cluster(loner)
    assert run(InterPodAffinity(), pod("n", labels={"app": "noisy"}), cache, "a2") == (
        "node(s) didn't satisfy existing pods anti-affinity rules",
    )
    assert run(InterPodAffinity(), pod("n", labels={"app": "noisy"}), cache, "b1") is None
    assert run(InterPodAffinity(), pod("q", labels={"app": "quiet"}), cache, "a2") is None


def test_affinity_terms_never_see_other_tenants_pods() -> None:
    cache = zoned_cluster(pod("web", tenant="other", labels={"app": "web"}, node_name="a1"))
    p = pod(
        "web",
        labels={"app": "web"},
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "web"}, "zone")]
            }
        },
    )
    assert run(InterPodAffinity(), p, cache, "a1") is None


def test_namespace_selector_widens_the_term_to_labelled_namespaces() -> None:
    cache = zoned_cluster(pod("db", namespace="data", labels={"app": "db"}, node_name="b1"))
    cache.set_namespace("system", "data", {"team": "x"})
    same_ns = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "db"}, "zone")]
            }
        },
    )
    selected = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    affinity_term({"app": "db"}, "zone", namespaceSelector={"matchLabels": {"team": "x"}})
                ]
            }
        },
    )
    assert run(InterPodAffinity(), same_ns, cache, "b1") is not None  # own namespace holds no db
    assert run(InterPodAffinity(), selected, cache, "b1") is None
    assert run(InterPodAffinity(), selected, cache, "a1") is not None


# -- PodTopologySpread ---------------------------------------------------------------------------


def spread(max_skew: int = 1, key: str = "zone", **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": max_skew,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}},
            **extra,
        }
    ]


def test_spread_refuses_a_domain_that_would_exceed_max_skew() -> None:
    cache = zoned_cluster(pod("s1", labels={"app": "s"}, node_name="a1"))
    p = pod("s2", labels={"app": "s"}, topologySpreadConstraints=spread())
    assert run(PodTopologySpread(), p, cache, "a2") == (
        "node(s) didn't match pod topology spread constraints",
    )
    assert run(PodTopologySpread(), p, cache, "b1") is None
    assert run(PodTopologySpread(), p, cache, "nozone") == (
        "node(s) didn't match pod topology spread constraints (missing required label)",
    )


def test_spread_allows_more_with_larger_skew_and_min_domains_counts_missing_domains() -> None:
    cache = zoned_cluster(pod("s1", labels={"app": "s"}, node_name="a1"))
    assert (
        run(
            PodTopologySpread(),
            pod("s2", labels={"app": "s"}, topologySpreadConstraints=spread(2)),
            cache,
            "a2",
        )
        is None
    )
    # With minDomains 3 but only 2 zones, the global minimum counts as 0.
    cache = zoned_cluster(
        pod("s1", labels={"app": "s"}, node_name="a1"), pod("s3", labels={"app": "s"}, node_name="b1")
    )
    p = pod("s2", labels={"app": "s"}, topologySpreadConstraints=spread(1, minDomains=3))
    assert run(PodTopologySpread(), p, cache, "b1") is not None
