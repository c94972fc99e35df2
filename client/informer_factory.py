"""Shared informers: one list+watch per resource view, however many controllers read it.

client-go's ``SharedInformerFactory`` exists because a controller manager runs dozens of
controllers that mostly watch the same few resources (pods, namespaces, nodes); one informer per
(resource, tenant, namespace, selectors) keeps the API server's watch count and the process's
memory independent of the number of controllers. Controllers ask for informers before `run`
starts them; indexers asked for by several controllers are added once by name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from client.cache import IndexFunc
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InformerView:
    """What one informer follows: a resource, optionally narrowed to a tenant/namespace/selector.

    ``tenant="all"`` is Arktos's literal for every tenant (ARKTOS.md §1); None means the short path
    (the caller's own tenant — or, for cluster-scoped resources, the whole cluster).
    """

    resource: ResourceRef
    tenant: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None


class SharedInformers:
    """Hands out one `Informer` per `InformerView` and runs them all."""

    def __init__(self, client: ApiClient, *, watch_timeout_s: int | None = None) -> None:
        self.client = client
        self._watch_timeout_s = watch_timeout_s
        self._informers: dict[InformerView, Informer] = {}

    def informer(self, view: InformerView | ResourceRef, *,
                 indexers: Mapping[str, IndexFunc] | None = None) -> Informer:
        """The informer for ``view`` (created on first request), with ``indexers`` added."""
        if isinstance(view, ResourceRef):
            view = InformerView(view)
        informer = self._informers.get(view)
        if informer is None:
            informer = Informer(self.client, view.resource, tenant=view.tenant, namespace=view.namespace,
                                label_selector=view.label_selector, field_selector=view.field_selector,
                                watch_timeout_s=self._watch_timeout_s)
            self._informers[view] = informer
        for name, func in (indexers or {}).items():
            if not informer.store.has_indexer(name):
                informer.store.add_indexer(name, func)
        return informer

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def run(self) -> None:
        """Runs every informer until cancelled (an informer's failure cancels the others)."""
        async with asyncio.TaskGroup() as group:
            for informer in self._informers.values():
                group.create_task(informer.run(), name=f"informer {informer!r}")

    async def wait_for_sync(self, informers: list[Informer] | None = None) -> None:
        """Waits until ``informers`` (default: all) have filled their caches once."""
        await asyncio.gather(*(i.wait_for_sync() for i in (informers or self.informers())))
