"""Reading from other partitions: the extra API servers a scale-out component holds clients for.

Arktos's scale-out splits the control plane into tenant partitions (TPs: pods, workloads) and
resource partitions (RPs: nodes, node leases), whose API servers never talk to each other; the
components that span them hold several clients (Arktos's ``--resource-providers`` of the
scheduler and the TP controller manager, ``--tenant-server-kubeconfig`` of the kubelet and the RP
controller manager). This module is that plumbing for the client runtime:

- `open_partitions` turns such a flag (a comma list of kubeconfigs) into open clients;
- `PartitionInformers` hands out one informer per (view, partition) — the same sharing rule as
  `client.informer_factory.SharedInformers`, one set per partition — and runs them all.

A *source* names a group of partitions (`TENANT_PARTITIONS`, `RESOURCE_PARTITIONS`). A source
that was not configured means the component's own API server (Arktos's rule: an empty flag is
today's single-cluster behaviour), so code reading through a source needs no second path.
Informers of another partition are waited for only up to a bound: one partition being down must
not stop a component from working with the others (their informers keep retrying meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from client.cache import IndexFunc
from client.config import ClientConfig, load_kubeconfig
from client.informer import Handler, Informer
from client.informer_factory import InformerView, SharedInformers
from client.rest import ApiClient

log = logging.getLogger(__name__)

TENANT_PARTITIONS = "tenant-partitions"  # --tenant-server-kubeconfig
RESOURCE_PARTITIONS = "resource-partitions"  # --resource-providers
OWN_PARTITION = "own"
# How long a component waits at start for another partition's informers before working without
# them (client-go's WaitForCacheSync has no bound; Arktos's components block on every partition).
REMOTE_SYNC_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Partition:
    """One API server a component reads from (and writes the objects it read there to).

    ``client`` (the kubeconfig's identity) reads; ``writer_for``, when set, gives the client a
    given controller class writes with there — its own service account in that partition, as
    ``--use-service-account-credentials`` does in the own one (`controllers.credentials`).
    """

    name: str  # for logs: the server's URL, or `OWN_PARTITION`
    client: ApiClient
    own: bool = False
    writer_for: Callable[[Any], ApiClient] | None = None


def kubeconfig_list(value: str) -> list[str]:
    """A comma list of kubeconfig paths as the flags take it; empty items are dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def partition_configs(kubeconfigs: Sequence[str]) -> list[ClientConfig]:
    """Reads every kubeconfig of a partition flag (raises `client.config.KubeconfigError`)."""
    return [load_kubeconfig(path) for path in kubeconfigs]


@contextlib.asynccontextmanager
async def open_partitions(configs: Sequence[ClientConfig]) -> AsyncIterator[list[Partition]]:
    """A client per partition, closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        partitions = []
        for config in configs:
            client = await stack.enter_async_context(ApiClient(config))
            partitions.append(Partition(config.server, client))
        yield partitions


@dataclass(frozen=True, slots=True)
class PartitionInformer:
    """One partition's informer for a view, with the partition to write back to."""

    partition: Partition
    informer: Informer


class PartitionInformers:
    """Informers over the partitions of each configured source, sharing one set per partition.

    ``own`` is the component's own informer set (its client is the own partition's); ``sources``
    maps a source name to its partitions. Run `run` as a supervised task.
    """

    def __init__(self, own: SharedInformers, sources: Mapping[str, Sequence[Partition]] | None = None,
                 *, watch_timeout_s: int | None = None) -> None:
        self._own = Partition(OWN_PARTITION, own.client, own=True)
        self._sets: dict[int, SharedInformers] = {id(own.client): own}
        self._sources = {name: tuple(parts) for name, parts in (sources or {}).items() if parts}
        for partition in (p for parts in self._sources.values() for p in parts):
            if id(partition.client) not in self._sets:
                self._sets[id(partition.client)] = SharedInformers(partition.client,
                                                                   watch_timeout_s=watch_timeout_s)

    def configured(self, source: str) -> bool:
        """Whether ``source`` names other partitions (False: it means the own one)."""
        return source in self._sources

    def partitions(self, source: str | None) -> tuple[Partition, ...]:
        """The partitions of ``source``; the own partition for None or an unconfigured source."""
        if source is None:
            return (self._own,)
        return self._sources.get(source) or (self._own,)

    def informers(self, view: InformerView, source: str | None, *,
                  indexers: Mapping[str, IndexFunc] | None = None) -> list[PartitionInformer]:
        """The informer of ``view`` in every partition of ``source`` (created on first request)."""
        return [PartitionInformer(p, self._sets[id(p.client)].informer(view, indexers=indexers))
                for p in self.partitions(source)]

    def add_handler(self, view: InformerView, source: str | None, handler: Handler) -> None:
        for item in self.informers(view, source):
            item.informer.add_handler(handler)

    async def run(self) -> None:
        """Runs the informers of the other partitions (the own set is run by its owner)."""
        async with asyncio.TaskGroup() as group:
            for key, informers in self._sets.items():
                if key != id(self._own.client):
                    group.create_task(informers.run(), name="partition informers")

    async def wait_for_sync(self, items: Sequence[PartitionInformer], *,
                            remote_timeout_s: float = REMOTE_SYNC_TIMEOUT_S) -> None:
        """Waits for the own partition's informers among ``items``, and for the others' up to
        ``remote_timeout_s`` (then goes on without them, logging which are missing)."""
        own = [i.informer.wait_for_sync() for i in items if i.partition.own]
        remote = [i for i in items if not i.partition.own]
        await asyncio.gather(*own)
        if not remote:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remote_timeout_s):
                await asyncio.gather(*(i.informer.wait_for_sync() for i in remote))
        for item in remote:
            if not item.informer.has_synced:
                log.warning("%r of partition %s not synced after %.0fs; going on without it "
                            "(it keeps retrying)", item.informer, item.partition.name, remote_timeout_s)
