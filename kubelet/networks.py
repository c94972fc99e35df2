"""The Arktos networks a kubelet's pods join (ARKTOS.md §6b): which one a pod is on, and its DNS.

A pod joins the network named by its label ``arktos.futurewei.com/network`` (``default`` without
it) of its own tenant. The Network controller gives each Ready network a ``kube-dns-<network>``
Service and records its address in the Network's ``status.dnsServiceIP``: the nameserver of that
network's ClusterFirst pods (`kubelet.pod_dns`). `NetworkWatch` keeps every tenant's Networks of
one tenant partition in an informer (in scale-out mode a pod's Network lives in the pod's tenant
partition, so each `kubelet.tenant_partition.TenantPartition` has its own); a pod asks only once,
when its sandbox is made, so a Network that changes later changes new sandboxes only, as a changed
``--cluster-dns`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from client.cache import ObjectKey
from client.informer import Informer
from client.resources import ALL_TENANTS, NETWORKS
from client.rest import ApiClient

NETWORK_LABEL = "arktos.futurewei.com/network"
DEFAULT_NETWORK = "default"
SYSTEM_TENANT = "system"


def pod_tenant(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("tenant") or SYSTEM_TENANT)


def network_of(obj: dict[str, Any]) -> str:
    """The network a pod or a Service joins (its label, else ``default``)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(NETWORK_LABEL) or DEFAULT_NETWORK)


class NetworkWatch:
    """Every tenant's Networks of one API server, watched. Run `run` as a supervised task."""

    def __init__(self, client: ApiClient) -> None:
        self.informer = Informer(client, NETWORKS, tenant=ALL_TENANTS)
        self._wait_until: float | None = None  # the end of the one wait for the first list

    async def run(self) -> None:
        await self.informer.run()

    async def wait_for_sync(self, timeout_s: float) -> bool:
        """Waits for the first list until ``timeout_s`` after the first call, and answers whether it
        came. Only that once: a server that refuses the list must not hold every pod back (they
        fall back to ``--cluster-dns``; the informer keeps trying for later ones)."""
        loop = asyncio.get_running_loop()
        if self._wait_until is None:
            self._wait_until = loop.time() + timeout_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.informer.wait_for_sync(), max(0.0, self._wait_until - loop.time()))
        return self.informer.has_synced

    def dns_service_ip(self, tenant: str, network: str) -> str:
        """The network's ``status.dnsServiceIP``; empty when the network is unknown or has none."""
        found = self.informer.get(ObjectKey(tenant, "", network))
        return str(((found or {}).get("status") or {}).get("dnsServiceIP") or "")
