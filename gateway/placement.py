"""The live maps the gateway routes by: tenant → tenant partition, node → resource partition.

A tenant lives on the TP whose store holds its Tenant object (its ``spec.storageClusterId``, set
when the gateway created it); a node on the RP its kubelet registered with. Both maps are kept from
the gateway's own list+watch of every partition (client-go's reflector, ``client.informer``) with
the ``--partition-kubeconfig`` identity, so a tenant created a moment ago or a node that just
registered is routable without a restart. A tenant the gateway itself just created is recorded
at once (``record_tenant``) so the next request routes before the watch event arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from apis.identity import SYSTEM_TENANT
from client.cache import ObjectKey
from client.config import ClientConfig
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient
from gateway.partitions import Partition

log = logging.getLogger(__name__)

TENANTS = ResourceRef("", "v1", "tenants", "Tenant")
NODES = ResourceRef("", "v1", "nodes", "Node")


def partition_client_config(base: ClientConfig, partition: Partition, *, ca_file: str) -> ClientConfig:
    """The watch credentials of ``base`` aimed at ``partition`` (its CA: ``--partition-ca-file``)."""
    if ca_file:
        return dataclasses.replace(base, server=partition.url, ca_file=ca_file, ca_data=None,
                                   user_agent="arktos-gateway")
    return dataclasses.replace(base, server=partition.url, user_agent="arktos-gateway")


class PartitionMap:
    """name → partition index for one resource, fed by one informer per partition."""

    def __init__(self, informers: list[Informer], *, size: int) -> None:
        self._informers = informers
        self._size = size
        self._where: dict[str, int] = {}
        for index, informer in enumerate(informers):
            informer.add_handler(self._handler(index))

    def _handler(self, index: int) -> Callable[[str, ObjectKey], None]:
        informer = self._informers[index]

        def handle(event_type: str, key: ObjectKey) -> None:
            if informer.get(key) is not None:
                if key.name != SYSTEM_TENANT or index == 0:
                    self._where[key.name] = index
            elif self._where.get(key.name) == index:
                del self._where[key.name]

        return handle

    def lookup(self, name: str) -> int | None:
        return self._where.get(name)

    def record(self, name: str, index: int) -> None:
        self._where.setdefault(name, index)

    def counts(self) -> list[int]:
        """Objects per partition (seen or recorded), ``system`` left out."""
        counts = [0] * self._size
        for name, index in self._where.items():
            if name != SYSTEM_TENANT and index < self._size:
                counts[index] += 1
        return counts

    @property
    def synced(self) -> bool:
        return all(informer.has_synced for informer in self._informers)

    async def wait_synced(self) -> None:
        for informer in self._informers:
            await informer.wait_for_sync()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for informer in self._informers:
                group.create_task(informer.run(), name=f"gateway-{informer.ref.plural}-watch")


class Placement:
    """Both maps and the clients behind them."""

    def __init__(self, *, tenant_partitions: tuple[Partition, ...],
                 resource_partitions: tuple[Partition, ...],
                 watch_config: ClientConfig | None, ca_file: str) -> None:
        self._clients: list[ApiClient] = []
        # The watch identity per partition URL, also used by the gateway's /readyz probes.
        self.configs: dict[str, ClientConfig] = {}

        def informers(partitions: tuple[Partition, ...], ref: ResourceRef) -> list[Informer]:
            if watch_config is None:
                return []
            found = []
            for partition in partitions:
                config = partition_client_config(watch_config, partition, ca_file=ca_file)
                self.configs[partition.url] = config
                client = ApiClient(config)
                self._clients.append(client)
                found.append(Informer(client, ref))
            return found

        self.tenants = PartitionMap(informers(tenant_partitions, TENANTS), size=len(tenant_partitions))
        self.nodes = PartitionMap(informers(resource_partitions, NODES), size=len(resource_partitions))
        self.tenant_partition_count = len(tenant_partitions)

    @property
    def synced(self) -> bool:
        return self.tenants.synced and self.nodes.synced

    async def wait_synced(self) -> None:
        """Until both maps have their first lists (the caller bounds the wait)."""
        await self.tenants.wait_synced()
        await self.nodes.wait_synced()

    def tenant_partition(self, tenant: str) -> int:
        """The TP index of ``tenant``; an unknown one goes to tp0 (which answers for it)."""
        found = self.tenants.lookup(tenant)
        return found if found is not None and found < self.tenant_partition_count else 0

    def node_partition(self, node: str) -> int:
        found = self.nodes.lookup(node)
        return found if found is not None else 0

    def least_loaded_tenant_partition(self) -> int:
        """The TP with the fewest tenants; ties go to the lowest index."""
        counts = self.tenants.counts()
        return min(range(self.tenant_partition_count), key=lambda i: (counts[i], i))

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.tenants.run(), name="gateway-tenant-map")
                group.create_task(self.nodes.run(), name="gateway-node-map")
        finally:
            for client in self._clients:
                await client.close()
