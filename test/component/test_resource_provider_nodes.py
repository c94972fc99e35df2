"""server.resource_providers.ResourceProviderNodes against small HTTP servers on loopback standing
in for resource partitions' API servers (``GET /api/v1/nodes/{name}``).

Covers: the node comes from whichever partition holds it; it is remembered for the TTL (no second
request) and read again after it (a changed address is seen); a node in no partition is NotFound
(404, upstream's text) and not remembered; a partition answering 500 or not listening makes a
missing node 503 naming it, while a node another partition holds is still found; the bearer token
of the partition's kubeconfig is sent.
Leaves out: TLS kubeconfigs and the pod proxy using it (test/component/test_pod_proxy_partitions.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from apiserver_process import free_port

from apis.kubeconfig import config_for_url
from server.errors import NotFound, ServiceUnavailable
from server.resource_providers import ResourceProviderNodes


@dataclass
class FakePartition:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    requests: list[tuple[str, str]] = field(default_factory=list)  # (node name, Authorization)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.requests.append((name, request.headers.get("Authorization", "")))
        if self.status != 200:
            return web.json_response({"kind": "Status"}, status=self.status)
        if name not in self.nodes:
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        return web.json_response(self.nodes[name])


def _node(name: str, address: str) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]}}


@pytest.fixture
async def partitions() -> AsyncIterator[list[FakePartition]]:
    made, runners = [FakePartition(), FakePartition()], []
    for partition in made:
        app = web.Application()
        app.router.add_get("/api/v1/nodes/{name}", partition.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        partition.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        runners.append(runner)
    yield made
    for runner in runners:
        await runner.cleanup()


def _nodes(partitions: list[FakePartition], *, ttl: float = 10.0,
           extra: Sequence[str] = ()) -> ResourceProviderNodes:
    urls = [p.url for p in partitions] + list(extra)
    return ResourceProviderNodes([(f"rp{i}", config_for_url(u, token=f"t{i}")) for i, u in enumerate(urls)],
                                 ttl=ttl, timeout=2.0)


async def test_found_in_the_partition_holding_it_and_remembered(partitions: list[FakePartition]) -> None:
    partitions[1].nodes["n1"] = _node("n1", "10.0.0.1")
    nodes = _nodes(partitions, ttl=0.2)
    try:
        assert (await nodes.node("n1"))["status"]["addresses"][0]["address"] == "10.0.0.1"
        assert (await nodes.node("n1"))["status"]["addresses"][0]["address"] == "10.0.0.1"
        assert partitions[1].requests == [("n1", "Bearer t1")]
        assert partitions[0].requests == [("n1", "Bearer t0")]
        partitions[1].nodes["n1"] = _node("n1", "10.0.0.2")
        await asyncio.sleep(0.3)
        assert (await nodes.node("n1"))["status"]["addresses"][0]["address"] == "10.0.0.2"
        assert len(partitions[1].requests) == 2
    finally:
        await nodes.close()


async def test_a_node_in_no_partition_is_not_found(partitions: list[FakePartition]) -> None:
    nodes = _nodes(partitions)
    try:
        for _ in range(2):
            with pytest.raises(NotFound, match='nodes "ghost" not found'):
                await nodes.node("ghost")
        assert len(partitions[0].requests) == 2  # a miss is not remembered
    finally:
        await nodes.close()


async def test_an_unanswering_partition_makes_a_miss_unavailable(partitions: list[FakePartition]) -> None:
    partitions[0].nodes["n1"] = _node("n1", "10.0.0.1")
    partitions[1].status = 500
    nodes = _nodes(partitions, extra=[f"http://127.0.0.1:{free_port()}"])
    try:
        assert (await nodes.node("n1"))["metadata"]["name"] == "n1"
        with pytest.raises(ServiceUnavailable) as refused:
            await nodes.node("ghost")
        message = refused.value.message
        assert "rp1: HTTP 500" in message and "rp2: ClientConnectorError" in message
    finally:
        await nodes.close()
