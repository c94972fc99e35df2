"""Helpers for the scheduler component tests: nodes and pods through the API, waits, events.

The API server (as upstream's does for kubelets' first status, see the lead's notes) keeps a
created object's status only through ``/status``, so `make_node` creates the Node and then
patches its status, as a registering kubelet would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from client.errors import AlreadyExists
from client.events import EVENTS
from client.resources import NAMESPACES, TENANTS
from client.rest import ApiClient
from scheduler.binder import PODS
from scheduler.scheduler import NODES


async def make_node(
    client: ApiClient,
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    conditions: dict[str, str] | None = None,
) -> None:
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    await client.create(
        NODES,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "spec": spec,
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        },
    )
    status = {
        "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
        "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}]
        + [{"type": t, "status": s} for t, s in (conditions or {}).items()],
    }
    await client.patch(NODES, name, {"status": status}, subresource="status")


async def make_tenant(client: ApiClient, tenant: str, namespace: str = "work") -> None:
    try:
        await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    except AlreadyExists:
        pass
    try:
        await client.create(NAMESPACES, {"metadata": {"name": namespace}}, tenant=tenant)
    except AlreadyExists:
        pass


async def make_pod(
    client: ApiClient,
    tenant: str,
    namespace: str,
    name: str,
    *,
    cpu: str = "100m",
    vm: bool = False,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> None:
    resources = {"requests": {"cpu": cpu, "memory": "64Mi"}}
    if vm:
        spec["virtualMachine"] = {
            "name": "vm",
            "image": "cirros",
            "keyPairName": "key",
            "resources": resources,
        }
    else:
        spec.setdefault("containers", [{"name": "c", "image": "busybox", "resources": resources}])
    await client.create(
        PODS,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec},
        tenant=tenant,
        namespace=namespace,
    )


async def make_vm_pod(client: ApiClient, tenant: str, namespace: str, name: str) -> None:
    """A pod with ``spec.virtualMachine`` and no containers (ARKTOS.md §4)."""
    await make_pod(client, tenant, namespace, name, vm=True, containers=[])
    assert (await get_pod(client, tenant, namespace, name))["spec"].get("virtualMachine")


async def get_pod(client: ApiClient, tenant: str, namespace: str, name: str) -> dict[str, Any]:
    return await client.get(PODS, name, tenant=tenant, namespace=namespace)


async def wait_for(probe: Callable[[], Any], *, limit_s: float = 15.0, what: str = "condition") -> Any:
    """Polls the async ``probe`` every 50 ms until it answers something truthy (bounded)."""
    for _ in range(int(limit_s / 0.05)):
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached within {limit_s}s")


async def node_of(client: ApiClient, tenant: str, namespace: str, name: str, *, limit_s: float = 15.0) -> str:
    async def bound() -> str:
        return str((await get_pod(client, tenant, namespace, name)).get("spec", {}).get("nodeName") or "")

    return str(await wait_for(bound, limit_s=limit_s, what=f"pod {name} bound"))


async def events_for(
    client: ApiClient, tenant: str, namespace: str, name: str, reason: str
) -> list[dict[str, Any]]:
    listed = await client.list(EVENTS, tenant=tenant, namespace=namespace)
    return [
        e
        for e in listed.get("items") or []
        if e.get("involvedObject", {}).get("name") == name and e.get("reason") == reason
    ]
