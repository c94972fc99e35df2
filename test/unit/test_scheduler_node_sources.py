"""Merging node informers of several resource partitions (scheduler/node_sources.py).

Covers: nodes of two partitions both reach the handler with their objects and remember their
partition; a name that shows up in a second partition is ignored there (the first partition owns
it) until the owner deletes it, when the other copy is taken over (DELETED, then ADDED with that
partition's object). Drives real `Informer`s with a scripted client (one queue of watch events
per partition; no sockets). Leaves out the scheduler cache itself (test_scheduler_cache) and real
servers (test/component/test_scale_out_scheduler.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

from client.cache import ObjectKey
from client.informer import Informer
from client.partitions import Partition, PartitionInformer
from scheduler.node_sources import NODES, NodeSources


def node(name: str, rv: int, zone: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": str(rv), "labels": {"zone": zone}}}


class ScriptedPartition:
    """A partition's API as its node informer sees it: an empty list, then queued watch events."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def list_all(self, ref: Any, **kwargs: Any) -> dict[str, Any]:
        return {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}

    async def watch(self, ref: Any, **kwargs: Any) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        while True:
            yield await self.events.get()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached within 2s")


async def test_nodes_of_two_partitions_merge_and_a_duplicate_name_stays_with_its_first_partition() -> None:
    apis = {"rp0": ScriptedPartition(), "rp1": ScriptedPartition()}
    items = [PartitionInformer(Partition(name, api), Informer(api, NODES))  # type: ignore[arg-type]
             for name, api in apis.items()]
    sources = NodeSources(items)
    seen: list[tuple[str, str, str | None]] = []

    def handler(event: str, key: ObjectKey, obj: dict[str, Any] | None) -> None:
        seen.append((event, key.name, (obj or {}).get("metadata", {}).get("labels", {}).get("zone")))

    sources.add_handler(handler)
    tasks = [asyncio.create_task(item.informer.run()) for item in items]
    try:
        await apis["rp0"].events.put(("ADDED", node("a", 2, "east")))
        await apis["rp1"].events.put(("ADDED", node("b", 2, "west")))
        await until(lambda: len(seen) == 2)
        assert sorted(seen) == [("ADDED", "a", "east"), ("ADDED", "b", "west")]
        assert (sources.partition_of("a"), sources.partition_of("b")) == ("rp0", "rp1")

        await apis["rp1"].events.put(("ADDED", node("a", 3, "stale")))  # the same name in rp1
        await apis["rp0"].events.put(("MODIFIED", node("a", 4, "east-2")))
        await until(lambda: len(seen) == 3)
        assert seen[-1] == ("MODIFIED", "a", "east-2")
        assert sources.partition_of("a") == "rp0"

        await apis["rp0"].events.put(("DELETED", node("a", 5, "east-2")))
        await until(lambda: len(seen) == 5)
        assert seen[-2:] == [("DELETED", "a", None), ("ADDED", "a", "stale")]
        assert sources.partition_of("a") == "rp1"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
