"""Shared by the kubelet component tests: a hollow kubelet in the test's event loop, and waits.

The kubelet runs in-process (`kubelet.kubelet.Kubelet`) against the module's real API server so a
test can hold on to its hollow runtime — the records a restarted kubelet must adopt — and shorten
its intervals (lease renewal, resync). Kept out of conftest.py so test modules import it by a
unique name.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from client.errors import AlreadyExists
from client.resources import NAMESPACES, TENANTS
from client.rest import ApiClient
from kubelet.config import HOLLOW_ENDPOINTS, KubeletConfig, parse_runtime_endpoints
from kubelet.kubelet import Kubelet
from kubelet.runtimes import RuntimeRegistry

WAIT_S = 20.0


def hollow_config(name: str, *, endpoints: str = HOLLOW_ENDPOINTS, nodes: int = 1) -> KubeletConfig:
    return KubeletConfig(kubeconfig=None, master=None, hostname=name,
                         endpoints=tuple(parse_runtime_endpoints(endpoints)), hollow=True, nodes=nodes,
                         hollow_start_delay_s=0.1, node_ip="192.0.2.10", lease_renew_interval_s=0.5,
                         node_status_update_frequency_s=0.5)


@contextlib.asynccontextmanager
async def running_kubelet(client: ApiClient, name: str, *, endpoints: str = HOLLOW_ENDPOINTS,
                          registry: RuntimeRegistry | None = None) -> AsyncIterator[Kubelet]:
    """A registered hollow kubelet for the duration of the block."""
    kubelet = Kubelet(client, hollow_config(name, endpoints=endpoints),
                      registries={name: registry} if registry else None, resync_s=2.0)
    async with run_kubelet(kubelet):
        yield kubelet


@contextlib.asynccontextmanager
async def run_kubelet(kubelet: Kubelet, *, synced: bool = True) -> AsyncIterator[Kubelet]:
    """Runs ``kubelet`` in this event loop once its nodes registered and (``synced``) its pod watches
    listed; cancels it after the block."""
    task = asyncio.create_task(kubelet.run())
    try:
        await asyncio.wait_for(kubelet.registered.wait(), WAIT_S)
        if synced:
            await asyncio.wait_for(kubelet.wait_for_pods_synced(), WAIT_S)
        yield kubelet
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[Any]], what: str, *, within: float = WAIT_S) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


async def new_tenant_namespace(client: ApiClient) -> tuple[str, str]:
    tenant = f"kt-{uuid.uuid4().hex[:6]}"
    with contextlib.suppress(AlreadyExists):
        await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, {"metadata": {"name": "work"}}, tenant=tenant)
    return tenant, "work"


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
