"""scheduler/room_floor.py: the shortcut that skips the per-node fit scan for plain pods.

Covers: placements with the shortcut are exactly the scan's over a changing cluster (pods of
mixed sizes placed, pods removed, nodes resized, cordoned and uncordoned, added and removed);
the floor follows placements down, turns the shortcut off while any node is closed, and after
removals is recomputed so the shortcut comes back. Leaves out the cost (a figure:
bench/scheduler_cycle_bench.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from scheduler_fixtures import cluster, info, node, pod

from scheduler.algorithm import FitError, SchedulingAlgorithm
from scheduler.cache import SchedulerCache
from scheduler.node_info import NodeInfo
from scheduler.plugins import default_filters, default_scores
from scheduler.room_floor import RoomFloor

SIZES = (("100m", "128Mi"), ("1", "1Gi"), ("2", "3Gi"), ("250m", "512Mi"))


class NeverAdmits(RoomFloor):
    def admits(self, nodes: Sequence[NodeInfo], cpu: int, memory: int, ephemeral: int) -> bool:
        return False


class CountingFloor(RoomFloor):
    def __init__(self) -> None:
        super().__init__(recompute_every_s=0)
        self.shortcuts = 0

    def admits(self, nodes: Sequence[NodeInfo], cpu: int, memory: int, ephemeral: int) -> bool:
        admitted = super().admits(nodes, cpu, memory, ephemeral)
        self.shortcuts += admitted
        return admitted


def nodes(count: int) -> list[dict[str, object]]:
    return [node(f"n{i:03d}", cpu=str(4 + i % 5), memory=f"{8 + i % 7}Gi", pods="12") for i in range(count)]


def churn(cache: SchedulerCache, choices: random.Random, step: int) -> None:
    """The same cluster changes, driven by the same random sequence, in both runs."""
    if step % 97 == 0 and cache.node_list:
        cache.remove_pod(next(iter(cache.node_list[choices.randrange(len(cache.node_list))].pods), None)
                         or next(iter(cache._pod_node)))
    if step % 150 == 0:
        cache.set_node(node("n007", cpu="6", memory="10Gi", pods="12", unschedulable=step % 300 == 0))
    if step % 210 == 0:
        cache.set_node(node(f"extra-{step}", cpu="2", memory="2Gi", pods="4"))
    if step % 333 == 0:
        cache.remove_node("n011")
    if step % 120 == 0:
        cache.set_node(node("n003", cpu=str(2 + step % 7), memory="9Gi", pods="12"))


def placements(floor: RoomFloor) -> list[str]:
    cache = SchedulerCache()
    cache.room = floor  # before the nodes arrive, as the cache's own floor is
    for each in nodes(240):
        cache.set_node(each)
    algorithm = SchedulingAlgorithm(cache, default_filters(), default_scores(), rng=random.Random(7))
    choices, placed = random.Random(3), []
    for step in range(1, 1500):
        churn(cache, choices, step)
        cpu, memory = SIZES[choices.randrange(len(SIZES))]
        pending = info(pod(f"p{step}", cpu=cpu, memory=memory))
        try:
            chosen = algorithm.schedule(pending).node
        except FitError:  # recorded, as the scan's run records it
            placed.append("FitError")
            continue
        cache.assume(pending, chosen)
        placed.append(chosen)
    return placed


def test_placements_with_the_shortcut_are_the_scans() -> None:
    floor = CountingFloor()
    with_shortcut, scanned = placements(floor), placements(NeverAdmits())
    assert with_shortcut == scanned
    assert floor.shortcuts > 100 and "FitError" in scanned  # the shortcut ran, then the cluster filled up


def test_the_floor_follows_placements_and_closed_nodes() -> None:
    cache = cluster(node("a", cpu="2", memory="4Gi", pods="3"), node("b", cpu="4", memory="4Gi", pods="3"))
    cache.room.recompute_every_s = 0
    one_cpu = (1000, 2**30, 0)
    assert cache.room.admits(cache.node_list, *one_cpu)
    cache.assume(info(pod("x", cpu="1500m")), "a")  # a has 500m left
    assert not cache.room.admits(cache.node_list, *one_cpu)
    cache.forget(info(pod("x")).key)  # a has room again: recomputed on the next question
    assert cache.room.admits(cache.node_list, *one_cpu)
    cache.set_node(node("b", cpu="4", memory="4Gi", pods="3", unschedulable=True))
    assert not cache.room.admits(cache.node_list, *one_cpu)
    cache.set_node(node("b", cpu="4", memory="4Gi", pods="3"))
    assert cache.room.admits(cache.node_list, *one_cpu)
    cache.set_node(node("c", cpu="4", memory="4Gi", pods="3", taints=[{"key": "k", "effect": "NoSchedule"}]))
    assert not cache.room.admits(cache.node_list, *one_cpu)
    cache.remove_node("c")
    assert cache.room.admits(cache.node_list, *one_cpu)


def test_a_stale_floor_waits_for_its_recompute_interval() -> None:
    cache = cluster(node("a", cpu="2", memory="4Gi", pods="3"))
    cache.room.recompute_every_s = 3600
    cache.assume(info(pod("x", cpu="1500m")), "a")
    cache.forget(info(pod("x")).key)
    assert cache.room.admits(cache.node_list, 1000, 0, 0)  # stale and never recomputed: now
    cache.assume(info(pod("y", cpu="1500m")), "a")
    assert not cache.room.admits(cache.node_list, 1000, 0, 0)
    cache.forget(info(pod("y")).key)
    assert not cache.room.admits(cache.node_list, 1000, 0, 0)  # stale, but not again so soon
