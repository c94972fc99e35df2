"""The plug points of a scheduling cycle: filters say no, scores say how good.

A slimmed upstream scheduling framework (``pkg/scheduler/framework``). Per pod and cycle, each
filter plugin's `prefilter` looks at the pod (and the cluster, for affinity and spread counts)
once and answers either None — the plugin has nothing to check for this pod, upstream's
PreFilter *Skip* — or a `NodeFilter` closure that answers None for a node that passes or the
reasons it does not (the texts of upstream's FailedScheduling message). Each score plugin looks
at the feasible nodes together and answers their scores already normalised to 0..100
(upstream's Score + NormalizeScore), or None when it would give every node the same score.
Keeping "skip" explicit is what lets a plain pod be checked against a node in a microsecond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from scheduler.cache import SchedulerCache
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

MAX_NODE_SCORE = 100

Reasons = tuple[str, ...]
NodeFilter = Callable[[NodeInfo], Reasons | None]


class FilterPlugin(Protocol):
    name: str

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None: ...


class ScorePlugin(Protocol):
    name: str

    def score(self, pod: PodInfo, cluster: SchedulerCache,
              nodes: Sequence[NodeInfo]) -> list[float] | None: ...


def normalize(scores: Sequence[float], *, reverse: bool = False) -> list[float] | None:
    """upstream ``helper.DefaultNormalizeScore``: scale so the best is 100 (reverse: the lowest
    raw score is best). None when all are equal (no opinion)."""
    if not scores:
        return None
    highest = max(scores)
    if highest == min(scores):
        return None
    if highest <= 0:
        return None
    if reverse:
        return [MAX_NODE_SCORE - s * MAX_NODE_SCORE / highest for s in scores]
    return [s * MAX_NODE_SCORE / highest for s in scores]


def min_max_normalize(scores: Sequence[float]) -> list[float] | None:
    """Scale raw scores that may be negative into 0..100 (upstream InterPodAffinity's
    NormalizeScore); None when all are equal."""
    if not scores:
        return None
    low, high = min(scores), max(scores)
    if low == high:
        return None
    span = high - low
    return [(s - low) * MAX_NODE_SCORE / span for s in scores]
