"""Informers over other partitions (client/partitions.py), with scripted clients (no sockets).

Covers: an unconfigured source (empty flag) means the own partition and shares the own informer
set; a configured one gives one informer per partition; the start-up wait does not hang on a
partition that never answers (it returns after the bound, with the reachable partitions synced);
the kubeconfig-list flag syntax. Leaves out real servers (test/component/test_scale_out_*.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from client.errors import ConnectionFailed
from client.informer_factory import InformerView, SharedInformers
from client.partitions import (
    RESOURCE_PARTITIONS,
    TENANT_PARTITIONS,
    Partition,
    PartitionInformers,
    kubeconfig_list,
)
from client.resources import ResourceRef

NODES = ResourceRef("", "v1", "nodes", "Node")


class ScriptedApi:
    """Lists no nodes (or fails every list when ``down``), then an idle watch."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down

    async def list_all(self, ref: Any, **kwargs: Any) -> dict[str, Any]:
        if self.down:
            raise ConnectionFailed("connection refused")
        return {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}

    async def watch(self, ref: Any, **kwargs: Any) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        await asyncio.Event().wait()
        yield ("BOOKMARK", {})  # pragma: no cover - never reached


def test_an_unconfigured_source_is_the_own_partition() -> None:
    own = SharedInformers(ScriptedApi())  # type: ignore[arg-type]
    rp0, rp1 = Partition("rp0", ScriptedApi()), Partition("rp1", ScriptedApi())  # type: ignore[arg-type]
    partitions = PartitionInformers(own, {RESOURCE_PARTITIONS: [rp0, rp1], TENANT_PARTITIONS: []})
    view = InformerView(NODES)
    [mine] = partitions.informers(view, TENANT_PARTITIONS)
    assert mine.partition.own and mine.informer is own.informer(view)
    assert not partitions.configured(TENANT_PARTITIONS) and partitions.configured(RESOURCE_PARTITIONS)
    assert [i.partition.name for i in partitions.informers(view, RESOURCE_PARTITIONS)] == ["rp0", "rp1"]
    # Asked twice, the same informers: one list+watch per (view, partition).
    assert [i.informer for i in partitions.informers(view, RESOURCE_PARTITIONS)] == \
        [i.informer for i in partitions.informers(view, RESOURCE_PARTITIONS)]


async def test_start_up_does_not_wait_forever_for_a_partition_that_is_down(
        caplog: pytest.LogCaptureFixture) -> None:
    own = SharedInformers(ScriptedApi())  # type: ignore[arg-type]
    up, down = Partition("rp0", ScriptedApi()), Partition("rp1", ScriptedApi(down=True))  # type: ignore[arg-type]
    partitions = PartitionInformers(own, {RESOURCE_PARTITIONS: [up, down]})
    items = partitions.informers(InformerView(NODES), RESOURCE_PARTITIONS)
    task = asyncio.create_task(partitions.run())
    try:
        with caplog.at_level(logging.WARNING, logger="client.partitions"):
            async with asyncio.timeout(5):
                await partitions.wait_for_sync(items, remote_timeout_s=0.3)
        assert [i.informer.has_synced for i in items] == [True, False]
        assert "partition rp1 not synced" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_kubeconfig_list_flag() -> None:
    assert kubeconfig_list("") == []
    assert kubeconfig_list("a.kubeconfig, b.kubeconfig,") == ["a.kubeconfig", "b.kubeconfig"]
