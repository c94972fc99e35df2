"""The pod garbage collector against a real API server, run in-process (threshold 2).

Covers: a pod bound to a node that never existed is force-deleted (gone, no grace period) while a
pod on an existing node stays; deleting a node removes the pods bound to it; with more terminated
pods than ``--terminated-pod-gc-threshold`` the oldest surplus is deleted and the newest stay.
Leaves out unscheduled terminating pods (only reachable with a finalizer, which also blocks the
force delete) and upstream's 40 s quarantine (replaced by a live GET of the node).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from controller_harness import eventually, get_or_none, new_namespace, running

from client.rest import ApiClient
from controllers.nodelifecycle import NODES, PODS
from controllers.options import ControllerOptions
from controllers.podgc import PodGarbageCollector


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    options = ControllerOptions(terminated_pod_gc_threshold=2)
    async with running(apiserver.url, PodGarbageCollector, options=options) as test_client:
        yield test_client


async def pod(client: ApiClient, ns: str, name: str, *, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                      "spec": spec}, tenant="system", namespace=ns)


async def node(client: ApiClient) -> str:
    name = f"pg-{uuid.uuid4().hex[:6]}"
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    return name


async def test_pods_of_missing_nodes_are_deleted(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="pg")
    alive, doomed = await node(client), await node(client)
    await pod(client, ns, "orphan", node=f"never-{uuid.uuid4().hex[:6]}")
    await pod(client, ns, "on-alive", node=alive)
    await pod(client, ns, "on-doomed", node=doomed)
    await eventually(lambda: _gone(client, ns, "orphan"), "orphaned pod force-deleted")
    await client.delete(NODES, doomed)
    await eventually(lambda: _gone(client, ns, "on-doomed"), "pod of the deleted node removed")
    await asyncio.sleep(0.5)
    assert await get_or_none(client, PODS, "on-alive", namespace=ns) is not None


async def test_terminated_pods_beyond_the_threshold_are_deleted_oldest_first(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="pg-term")
    names = [f"done-{index}" for index in range(4)]
    for name in names:
        await pod(client, ns, name)
        current = await client.get(PODS, name, tenant="system", namespace=ns)
        current["status"] = {"phase": "Succeeded"}
        await client.update(PODS, current, subresource="status")

    async def survivors() -> list[str] | None:
        listed = await client.list(PODS, tenant="system", namespace=ns)
        left = sorted(p["metadata"]["name"] for p in listed["items"])
        return left if len(left) == 2 else None

    assert await eventually(survivors, "two terminated pods left") == names[2:]


async def _gone(client: ApiClient, ns: str, name: str) -> bool:
    return await get_or_none(client, PODS, name, namespace=ns) is None
