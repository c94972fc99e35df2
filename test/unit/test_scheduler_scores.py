"""Each scheduler score plugin as a pure function over feasible nodes.

Covers LeastAllocated and MostAllocated (upstream formulas, non-zero request defaults), balanced
allocation, the fused resource score equalling the two separate plugins, NodeAffinity preferred
weights, TaintToleration PreferNoSchedule counting, InterPodAffinity preferred affinity and
anti-affinity weights (and existing pods' terms, symmetrically), and PodTopologySpread
ScheduleAnyway. Leaves out the weighting across plugins (test_scheduler_algorithm.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from scheduler_fixtures import cluster, info, node, pod

from scheduler.cache import SchedulerCache
from scheduler.plugins.interpod_affinity import InterPodAffinity
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_basics import TaintToleration
from scheduler.plugins.resources import BalancedAllocation, NodeResourcesFit, ResourceAllocationScore
from scheduler.plugins.topology_spread import PodTopologySpread


def scores(plugin: Any, p: dict[str, Any], cache: SchedulerCache) -> dict[str, float] | None:
    result = plugin.score(info(p), cache, cache.node_list)
    return (
        None
        if result is None
        else {n.name: round(s, 2) for n, s in zip(cache.node_list, result, strict=True)}
    )


def test_least_allocated_prefers_the_emptier_node() -> None:
    cache = cluster(
        node("busy", cpu="4", memory="4Gi"),
        node("idle", cpu="4", memory="4Gi"),
        bound=(pod("old", cpu="2", memory="2Gi", node_name="busy"),),
    )
    result = scores(NodeResourcesFit(), pod("p", cpu="1", memory="1Gi"), cache)
    # (4-3)/4 and (4-1)/4 for cpu and memory alike
    assert result == {"busy": 25.0, "idle": 75.0}


def test_most_allocated_prefers_the_fuller_node() -> None:
    cache = cluster(
        node("busy", cpu="4", memory="4Gi"),
        node("idle", cpu="4", memory="4Gi"),
        bound=(pod("old", cpu="2", memory="2Gi", node_name="busy"),),
    )
    assert scores(NodeResourcesFit("MostAllocated"), pod("p", cpu="1", memory="1Gi"), cache) == {
        "busy": 75.0,
        "idle": 25.0,
    }


def test_scores_use_nonzero_defaults_for_pods_without_requests() -> None:
    cache = cluster(node("n", cpu="1", memory="1000Mi"))
    # 100m of 1 cpu, 200Mi of 1000Mi memory
    assert scores(NodeResourcesFit(), pod("p"), cache) == {"n": pytest.approx((90 + 80) / 2)}


def test_balanced_allocation_prefers_even_cpu_and_memory_use() -> None:
    cache = cluster(
        node("even", cpu="4", memory="4Gi"),
        node("skewed", cpu="4", memory="4Gi"),
        bound=(
            pod("old", cpu="2", memory="0", node_name="skewed"),
            pod("old2", cpu="1", memory="1Gi", node_name="even"),
        ),
    )
    result = scores(BalancedAllocation(), pod("p", cpu="1", memory="1Gi"), cache)
    assert result is not None and result["even"] == 100.0 and result["skewed"] < 100.0


@pytest.mark.parametrize("strategy", ["LeastAllocated", "MostAllocated"])
def test_fused_resource_score_equals_the_two_plugins(strategy: Any) -> None:
    cache = cluster(
        node("a", cpu="4", memory="8Gi"),
        node("b", cpu="8", memory="4Gi"),
        node("c", cpu="2"),
        bound=(pod("x", cpu="1500m", memory="3Gi", node_name="a"), pod("y", cpu="7", node_name="b")),
    )
    p = pod("p", cpu="500m", memory="1Gi")
    fit, balanced = scores(NodeResourcesFit(strategy), p, cache), scores(BalancedAllocation(), p, cache)
    fused = ResourceAllocationScore(strategy, fit_weight=1, balanced_weight=1)
    assert fit is not None and balanced is not None
    expected = {name: pytest.approx(fit[name] + balanced[name], abs=0.02) for name in fit}
    assert scores(fused, p, cache) == expected
    assert scores(fused, p, cache) == expected  # memoised answers are the same


def test_preferred_node_affinity_sums_weights_and_normalises() -> None:
    cache = cluster(
        node("both", labels={"zone": "a", "disk": "ssd"}), node("zone", labels={"zone": "a"}), node("none")
    )
    preferred = [
        {
            "weight": 30,
            "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
        },
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
    ]
    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}})
    assert scores(NodeAffinity(), p, cache) == {"both": 100.0, "zone": 75.0, "none": 0.0}
    assert scores(NodeAffinity(), pod("q"), cache) is None


def test_prefer_no_schedule_taints_lower_the_score_unless_tolerated() -> None:
    soft = {"key": "k", "effect": "PreferNoSchedule"}
    cache = cluster(
        node("clean"),
        node("one", taints=[soft]),
        node("two", taints=[soft, {"key": "j", "effect": "PreferNoSchedule"}]),
    )
    assert scores(TaintToleration(), pod("p"), cache) == {"clean": 100.0, "one": 50.0, "two": 0.0}
    tolerant = pod("q", tolerations=[{"key": "k", "operator": "Exists"}])
    assert scores(TaintToleration(), tolerant, cache) == {"clean": 100.0, "one": 100.0, "two": 0.0}


def test_preferred_pod_affinity_and_anti_affinity_weights() -> None:
    cache = cluster(
        node("a1", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("c1", labels={"zone": "c"}),
        bound=(
            pod("db", labels={"app": "db"}, node_name="a1"),
            pod("cache", labels={"app": "cache"}, node_name="b1"),
        ),
    )
    term = {"topologyKey": "zone"}
    p = pod(
        "web",
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "podAffinityTerm": {**term, "labelSelector": {"matchLabels": {"app": "db"}}},
                    }
                ]
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 5,
                        "podAffinityTerm": {**term, "labelSelector": {"matchLabels": {"app": "cache"}}},
                    }
                ]
            },
        },
    )
    # raw: a=+10, b=-5, c=0 -> min-max normalised
    assert scores(InterPodAffinity(), p, cache) == {"a1": 100.0, "b1": 0.0, "c1": 33.33}


def test_existing_pods_preferred_terms_attract_the_newcomer() -> None:
    fan = pod(
        "fan",
        node_name="b1",
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 20,
                        "podAffinityTerm": {
                            "topologyKey": "zone",
                            "labelSelector": {"matchLabels": {"app": "star"}},
                        },
                    }
                ]
            }
        },
    )
    cache = cluster(node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b"}), bound=(fan,))
    assert scores(InterPodAffinity(), pod("star", labels={"app": "star"}), cache) == {"a1": 0.0, "b1": 100.0}


def test_schedule_anyway_spread_prefers_the_emptier_domain() -> None:
    cache = cluster(
        node("a1", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("x"),
        bound=(
            pod("s1", labels={"app": "s"}, node_name="a1"),
            pod("s2", labels={"app": "s"}, node_name="a1"),
        ),
    )
    p = pod(
        "s3",
        labels={"app": "s"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "s"}},
            }
        ],
    )
    result = scores(PodTopologySpread(), p, cache)
    assert result is not None and result["b1"] == 100.0 and result["a1"] < result["b1"] and result["x"] == 0.0
