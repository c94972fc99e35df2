"""The scheduling cycle: sampling, selection across weighted scores, and FailedScheduling texts.

Covers upstream's numFeasibleNodesToFind (adaptive percentage, minimum 100), rotation of the
starting node between cycles, a single feasible node taken without scoring, preferences decided by
weights (TaintToleration 3 vs resources), the upstream-style message naming counts per reason
(taints, VM runtime, resources), the failed-plugin set the queue uses, no nodes at all, and
spreading of identical pods over identical nodes. Leaves out the queue and API interaction.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scheduler_fixtures import cluster, info, node, pod

from scheduler.algorithm import FitError, SchedulingAlgorithm, num_feasible_nodes_to_find
from scheduler.cache import SchedulerCache
from scheduler.plugins import default_filters, default_scores


def algorithm(cache: SchedulerCache, **kwargs: int) -> SchedulingAlgorithm:
    return SchedulingAlgorithm(cache, default_filters(), default_scores(), rng=random.Random(1), **kwargs)


def test_nodes_to_find_follows_upstreams_adaptive_percentage() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(1000) == 420  # 50% - 8%
    assert num_feasible_nodes_to_find(5000) == 500  # 10%
    assert num_feasible_nodes_to_find(20000) == 1000  # floor of 5%
    assert num_feasible_nodes_to_find(150) == 100  # 49% of 150 is below the floor of 100
    assert num_feasible_nodes_to_find(5000, percentage=100) == 5000
    assert num_feasible_nodes_to_find(5000, percentage=1) == 100


def test_sampling_stops_early_and_rotates_the_start() -> None:
    cache = cluster(*(node(f"n{i:03d}") for i in range(300)))
    alg = algorithm(cache)
    first = alg.schedule(info(pod("a")))
    assert first.evaluated == first.feasible == num_feasible_nodes_to_find(300)
    second = alg.schedule(info(pod("b")))
    assert second.evaluated == num_feasible_nodes_to_find(300)
    assert alg._next_start == (2 * num_feasible_nodes_to_find(300)) % 300


def test_single_feasible_node_is_taken() -> None:
    cache = cluster(node("small", cpu="1"), node("big", cpu="8"))
    assert algorithm(cache).schedule(info(pod("p", cpu="4"))).node == "big"


def test_untolerated_soft_taint_outweighs_emptiness() -> None:
    cache = cluster(
        node("tainted", cpu="64", memory="256Gi", taints=[{"key": "k", "effect": "PreferNoSchedule"}]),
        node("clean", cpu="4", memory="8Gi"),
    )
    assert algorithm(cache).schedule(info(pod("p", cpu="1", memory="1Gi"))).node == "clean"


def test_failure_message_counts_each_reason_as_upstream_prints_it() -> None:
    cache = cluster(
        node("t", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
        node("c1"),
        node("c2"),
    )
    with pytest.raises(FitError) as caught:
        algorithm(cache).schedule(info(pod("vm", vm=True)))
    assert caught.value.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, "
        "2 node(s) didn't have a ready VM runtime."
    )
    assert caught.value.failed_plugins == {"TaintToleration", "NodeRuntime"}


def test_failure_message_for_resources() -> None:
    cache = cluster(node("a", cpu="1"), node("b", cpu="1", memory="1Gi"))
    with pytest.raises(FitError) as caught:
        algorithm(cache).schedule(info(pod("p", cpu="2", memory="2Gi")))
    # upstream sorts the "<count> <reason>" strings
    assert caught.value.message == "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."
    assert caught.value.reasons == Counter({"Insufficient cpu": 2, "Insufficient memory": 1})


def test_no_nodes_at_all() -> None:
    with pytest.raises(FitError) as caught:
        algorithm(cluster()).schedule(info(pod("p")))
    assert caught.value.message == "no nodes available to schedule pods"


def test_vm_pod_goes_to_the_vm_ready_node() -> None:
    cache = cluster(node("c1"), node("vm", conditions={"VmRuntimeReady": "True"}), node("c2"))
    assert algorithm(cache).schedule(info(pod("v", vm=True, cpu="1"))).node == "vm"


def test_identical_pods_spread_over_identical_nodes() -> None:
    cache = cluster(*(node(f"n{i}", cpu="4", memory="8Gi") for i in range(4)))
    alg = algorithm(cache)
    for i in range(8):
        p = info(pod(f"p{i}", cpu="1", memory="1Gi"))
        cache.assume(p, alg.schedule(p).node)
    assert sorted(len(n.pods) for n in cache.node_list) == [2, 2, 2, 2]
