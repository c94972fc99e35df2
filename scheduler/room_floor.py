"""A lower bound on every node's free room, so a plain pod can skip the per-node fit scan.

The scheduling cycle looks for ``percentageOfNodesToScore`` feasible nodes (≈ 500 of 5,000)
starting where the previous cycle stopped. For a pod without tolerations, affinity, ports or
spread constraints that is a scan of free CPU / memory / ephemeral storage / pod slots, node by
node — the scheduler's hottest loop, and on a large cluster its cost is memory traffic, not
arithmetic. When *every* listed node is open for containers and the smallest free room of any
node is at least the pod's request, the scan would accept each node it looks at, so its answer
is known without it: the next ``wanted`` nodes in order. This keeps that smallest room as a
floor that is cheap to keep valid:
- a pod placed on a node lowers the floor to that node's room (exact, O(1));
- a pod removed, or a node re-read with more room, can only raise the true minimum: the floor
  stays a valid lower bound and is marked stale; it is recomputed (one pass over the nodes) when
  a pod needs more than it, at most once per `RECOMPUTE_EVERY_S`;
- a node not open for containers (cordoned, tainted, runtime not ready) turns the shortcut off
  until it opens or goes.
Anything else falls back to the scan, so placements are exactly the scan's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from scheduler.node_info import NodeInfo

RECOMPUTE_EVERY_S = 0.5
Room = tuple[int, int, int, int]  # free cpu, memory, ephemeral storage, pod slots
_UNBOUNDED: Room = (2**63, 2**63, 2**63, 2**63)


def room_of(node: NodeInfo) -> Room:
    return node.free_cpu, node.free_memory, node.free_ephemeral, node.free_pods


class RoomFloor:
    """The smallest free room over the listed nodes (a lower bound), and which nodes are closed."""

    def __init__(self, *, recompute_every_s: float = RECOMPUTE_EVERY_S) -> None:
        self.recompute_every_s = recompute_every_s
        self._floor: Room = _UNBOUNDED
        self._stale = False
        self._recomputed_at = float("-inf")
        self._closed: set[str] = set()

    def lowered_to(self, node: NodeInfo) -> None:
        """``node`` (listed) lost room or was just listed: the floor follows it down."""
        cpu, memory, ephemeral, pods = room_of(node)
        f_cpu, f_memory, f_ephemeral, f_pods = self._floor
        self._floor = (min(f_cpu, cpu), min(f_memory, memory), min(f_ephemeral, ephemeral), min(f_pods, pods))

    def raised(self) -> None:
        """Some listed node gained room: the floor is still a lower bound, maybe a loose one."""
        self._stale = True

    def set_open(self, node: NodeInfo) -> None:
        if node.open_for_containers:
            self._closed.discard(node.name)
        else:
            self._closed.add(node.name)

    def forget(self, name: str) -> None:
        self._closed.discard(name)
        self._stale = True

    def admits(self, nodes: Sequence[NodeInfo], cpu: int, memory: int, ephemeral: int) -> bool:
        """True when every listed node is open for containers and has room for the request."""
        if self._closed:
            return False
        if self._fits(cpu, memory, ephemeral):
            return True
        now = time.monotonic()
        if not self._stale or now - self._recomputed_at < self.recompute_every_s:
            return False
        self._recompute(nodes, now)
        return self._fits(cpu, memory, ephemeral)

    def _fits(self, cpu: int, memory: int, ephemeral: int) -> bool:
        f_cpu, f_memory, f_ephemeral, f_pods = self._floor
        return f_pods > 0 and cpu <= f_cpu and memory <= f_memory and ephemeral <= f_ephemeral

    def _recompute(self, nodes: Sequence[NodeInfo], now: float) -> None:
        self._floor, self._stale, self._recomputed_at = _UNBOUNDED, False, now
        for node in nodes:
            self.lowered_to(node)
