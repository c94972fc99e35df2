"""Shared by the batch, endpoints and quota component tests: run chosen controllers in-process and
play the kubelet.

There is no kubelet yet, so tests move pods through their lives by writing ``pods/{name}/status``
as a kubelet would (phase, podIP, the Ready condition). The controllers run in this test process
through `client.controller.ControllerRunner`, against the module's real API server, so a failing
reconcile shows up in the test's own log. Each test works in a fresh tenant and namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from apis.meta import now_rfc3339
from client.controller import Controller, ControllerRunner, RuntimeSettings
from client.resources import NAMESPACES, TENANTS, ResourceRef
from client.rest import ApiClient

PODS = ResourceRef("", "v1", "pods", "Pod")
EVENTS = ResourceRef("", "v1", "events", "Event")


@contextlib.asynccontextmanager
async def running(client: ApiClient, *classes: type[Controller]) -> AsyncIterator[ControllerRunner]:
    """The controllers run for the duration of the block, then stop gracefully."""
    runner = ControllerRunner(client, list(classes), RuntimeSettings(reconcile_timeout_s=10))
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        runner.stop()
        await asyncio.wait_for(task, 15)


async def new_tenant_namespace(client: ApiClient, prefix: str) -> tuple[str, str]:
    """A fresh tenant with namespace ``work``, so tests never see each other's objects."""
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    await client.create(NAMESPACES, {"metadata": {"name": "work"}}, tenant=tenant)
    return tenant, "work"


async def eventually(check: Callable[[], Awaitable[Any]], what: str, *, limit_s: float = 20.0,
                     every_s: float = 0.1) -> Any:
    """Polls ``check`` until it answers something other than None or False (and answers that)."""
    deadline = asyncio.get_running_loop().time() + limit_s
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last is not None and last is not False:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"not reached within {limit_s}s: {what} (last: {last!r})")


async def list_pods(client: ApiClient, tenant: str, namespace: str,
                    label_selector: str | None = None) -> list[dict[str, Any]]:
    listed = await client.list(PODS, tenant=tenant, namespace=namespace, label_selector=label_selector)
    return list(listed.get("items") or [])


async def set_pod_status(client: ApiClient, pod: dict[str, Any], *, phase: str, ready: bool = False,
                         ip: str | None = None) -> dict[str, Any]:
    """What a kubelet reports: phase, readiness and (once running) an IP."""
    metadata = pod["metadata"]
    status: dict[str, Any] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now_rfc3339()}]}
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return await client.patch(PODS, metadata["name"], {"status": status}, tenant=metadata.get("tenant"),
                              namespace=metadata["namespace"], subresource="status")


async def event_reasons(client: ApiClient, tenant: str, namespace: str, involved: str) -> list[str]:
    listed = await client.list(EVENTS, tenant=tenant, namespace=namespace)
    return [e.get("reason", "") for e in listed.get("items") or []
            if (e.get("involvedObject") or {}).get("name") == involved]
