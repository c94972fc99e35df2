"""The gateway's own /healthz, /livez and /readyz.

``/livez`` and ``/healthz`` say the gateway process serves. ``/readyz`` also asks every partition's
``/readyz`` (with the ``--partition-kubeconfig`` identity: partitions may refuse anonymous callers)
and whether the live tenant and node maps have synced, so a load balancer stops sending traffic the
gateway cannot route.
``?verbose`` lists the checks as upstream's health endpoints do.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from client.config import ClientConfig
from gateway.partitions import Partition, Partitions
from gateway.placement import Placement

_PROBE_TIMEOUT_S = 2.0


async def _partition_ready(partition: Partition, config: ClientConfig | None) -> bool:
    context = config.ssl_context() if config is not None else partition.plain_context
    headers = config.auth_headers() if config is not None else {}
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S), aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context if context is not None else False)) as session:
            async with session.get(partition.url + "/readyz", headers=headers) as answer:
                await answer.read()
                return answer.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


async def readiness(partitions: Partitions, placement: Placement) -> list[tuple[str, bool]]:
    every = partitions.all()
    results = await asyncio.gather(*(_partition_ready(p, placement.configs.get(p.url)) for p in every))
    checks = [(f"partition-{p.name}", ok) for p, ok in zip(every, results, strict=True)]
    checks.append(("tenant-map-synced", placement.tenants.synced))
    checks.append(("node-map-synced", placement.nodes.synced))
    return checks


def health_answer(path: str, checks: list[tuple[str, bool]], *, verbose: bool) -> web.Response:
    healthy = all(ok for _, ok in checks)
    name = path.strip("/").split("/")[0]
    if not verbose:
        return web.Response(status=200 if healthy else 500, text="ok" if healthy else f"{name} check failed")
    lines = [f"[{'+' if ok else '-'}]{check} {'ok' if ok else 'failed'}" for check, ok in checks]
    lines.append(f"{name} check {'passed' if healthy else 'failed'}")
    return web.Response(status=200 if healthy else 500, text="\n".join(lines) + "\n")
