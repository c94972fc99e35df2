"""The scheduler's own CPU per pod: scheduling cycles in-process, no API server, no network.

bench/scheduler_bench.py measures the end-to-end rate, which either process can limit (and on a
shared 2-core machine, whichever one another job slows down). This one runs the scheduling
cycle of `scheduler.Scheduler` — pop, filter, score, assume — over the same cluster shape
(5,000 nodes, 10,000 pods of 100m CPU / 128 MiB) on the scheduler's cache, and prints the
cycles per CPU second (process time, so other jobs on a shared machine count less), i.e. the
rate at which the scheduler process would stop being the limit. Binds are not sent: the slot is
released at once.

    .venv/bin/python bench/scheduler_cycle_bench.py [--nodes 5000] [--pods 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from api_bench import line
from scheduler_bench import node_object, pod_object

from client.cache import ObjectKey
from client.config import config_for_url
from client.rest import ApiClient
from scheduler.pod_info import pod_info
from scheduler.queue import QueuedPod
from scheduler.scheduler import Scheduler


class _NoBinds:
    """Stands in for the binder's network half: assumes stay, slots come back at once."""

    def __init__(self) -> None:
        self.started = 0

    def start(self, queued: QueuedPod, node: str) -> None:
        self.started += 1

    def release_slot(self) -> None:
        return None

    def report_unschedulable(self, *args: object) -> None:
        raise AssertionError("every pod of the bench fits")


async def cycles(nodes: int, pods: int) -> float:
    async with ApiClient(config_for_url("http://127.0.0.1:1")) as client:
        scheduler = Scheduler(client)
        fake = _NoBinds()
        scheduler.binder = fake  # type: ignore[assignment]
        for i in range(nodes):
            node = node_object(i)
            node["metadata"]["uid"] = f"n{i}"
            scheduler.cache.set_node(node)
        for i in range(pods):
            pod = pod_object(i)
            pod["metadata"].update(namespace="sched-bench", tenant="system", uid=f"p{i}")
            scheduler.queue.add(pod_info(pod))
        started = time.process_time()  # CPU seconds: other jobs on a shared machine do not count
        for _ in range(pods):
            scheduler.schedule_one(await scheduler.queue.pop())
        elapsed = time.process_time() - started
        assert fake.started == pods
        assert scheduler.cache.node_of(ObjectKey("system", "sched-bench", "pod-00000"))
        return pods / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10_000)
    args = parser.parse_args()
    rate = asyncio.run(cycles(args.nodes, args.pods))
    line("scheduler_cycles_per_s_one_core", rate, f"pods/s ({args.nodes} nodes, {args.pods} pods, no API)")


if __name__ == "__main__":
    main()
