"""The scheduler cache: assumed pods count at once, are confirmed by the watch, or forgotten.

Covers assume → confirm (the watch shows the pod where we put it: nothing recounted), assume →
forget (binding failed), a pod bound elsewhere than assumed (moved), pods bound to a node not yet
seen (kept on a placeholder and counted once the node appears), node removal, the namespace
index and the affinity indexes. Leaves out informer wiring (component tests).
"""

from __future__ import annotations

from scheduler_fixtures import cluster, info, node, pod


def test_assume_then_confirm_keeps_the_accounting() -> None:
    cache = cluster(node("n1", cpu="2"))
    p = info(pod("p", cpu="1", labels={"a": "b"}))
    cache.assume(p, "n1")
    assert cache.nodes["n1"].requested_cpu == 1000 and cache.is_assumed(p.key)
    assert cache.confirm(p.key, "n1", {"a": "b"})
    assert not cache.is_assumed(p.key)
    assert cache.node_of(p.key) == "n1" and cache.nodes["n1"].requested_cpu == 1000


def test_confirm_refuses_a_different_node_or_changed_labels() -> None:
    cache = cluster(node("n1"), node("n2"))
    p = info(pod("p", labels={"a": "b"}))
    cache.assume(p, "n1")
    assert not cache.confirm(p.key, "n2", {"a": "b"})
    assert not cache.confirm(p.key, "n1", {"a": "c"})


def test_forget_releases_an_assumed_pod_but_not_a_confirmed_one() -> None:
    cache = cluster(node("n1", cpu="2"))
    p = info(pod("p", cpu="1"))
    cache.assume(p, "n1")
    cache.forget(p.key)
    assert cache.nodes["n1"].requested_cpu == 0 and cache.node_of(p.key) is None
    cache.assume(p, "n1")
    cache.confirm(p.key, "n1", {})
    cache.forget(p.key)
    assert cache.nodes["n1"].requested_cpu == 1000


def test_pod_bound_elsewhere_moves_to_that_node() -> None:
    cache = cluster(node("n1", cpu="2"), node("n2", cpu="2"))
    p = pod("p", cpu="1")
    cache.assume(info(p), "n1")
    cache.observe_bound_pod(info(p), "n2")
    assert cache.nodes["n1"].requested_cpu == 0 and cache.nodes["n2"].requested_cpu == 1000


def test_pods_on_an_unknown_node_count_once_it_appears() -> None:
    cache = cluster(bound=(pod("p", cpu="1", node_name="late"),))
    assert cache.node_list == []
    cache.set_node(node("late", cpu="2"))
    assert [n.name for n in cache.node_list] == ["late"] and cache.nodes["late"].free_cpu == 1000
    cache.remove_node("late")
    assert cache.node_list == [] and "late" in cache.nodes  # its pods remain until deleted
    cache.remove_pod(info(pod("p")).key)
    assert "late" not in cache.nodes


def test_indexes_follow_pods() -> None:
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"x": "y"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    cache = cluster(node("n1"), bound=(pod("a", node_name="n1", affinity=anti), pod("b", node_name="n1")))
    assert [p.key.name for p, _ in cache.pods_in_namespace("system", "default")] == ["a", "b"]
    assert [p.key.name for p, _ in cache.anti_affinity_pods.values()] == ["a"]
    cache.remove_pod(info(pod("a")).key)
    assert cache.anti_affinity_pods == {} and cache.affinity_pods == {}
