"""The scheduler's knobs, passed down from the command line as one frozen value (no globals).

Defaults are upstream's where upstream has one (scoring strategy, adaptive
percentageOfNodesToScore, 1 s → 10 s pod backoff); the concurrency limits are ours: upstream
runs each binding in its own goroutine, unbounded; we keep a fixed number of binds in flight so
that throughput is not bounded by round trips, nor the API server flooded.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.plugins.resources import ScoringStrategy


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    scoring_strategy: ScoringStrategy = "LeastAllocated"
    percentage_of_nodes_to_score: int = 0  # 0: upstream's adaptive rule
    bind_concurrency: int = 96
    # Events and pod-status writes share a bounded background queue (upstream's event
    # broadcaster drops events when its queue is full rather than slowing scheduling down).
    writer_concurrency: int = 4
    writer_queue_size: int = 20_000
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 10.0
    record_scheduled_events: bool = True
