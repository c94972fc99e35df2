"""The running kube-proxy: informers for Services and EndpointSlices of every tenant, the sync
runner, and the health server, supervised together.

As upstream's ``ProxyServer.Run``: the informers watch the cluster-wide lists (in Arktos the
all-tenants view, ``/api/v1/services``, which the ``system:kube-proxy`` identity may list and watch
through ``system:node-proxier``); every event requests a sync; the first sync waits until both caches
have listed, so a restart never programs a half-known state.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from client.informer import Informer
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient
from proxy.config import ProxyConfig
from proxy.healthz import healthz_app
from proxy.proxier import Proxier
from proxy.sync_runner import SyncRunner

log = logging.getLogger(__name__)

SERVICES = ResourceRef("", "v1", "services", "Service")
ENDPOINT_SLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")


class ProxyService:
    def __init__(self, client: ApiClient, proxier: Proxier, config: ProxyConfig) -> None:
        self.proxier = proxier
        self.config = config
        self.services = Informer(client, SERVICES, tenant=ALL_TENANTS)
        self.slices = Informer(client, ENDPOINT_SLICES, tenant=ALL_TENANTS)
        self.runner = SyncRunner(self._sync, min_interval_s=config.min_sync_period_s,
                                 max_interval_s=config.sync_period_s)

    async def _sync(self, periodic: bool) -> None:
        await self.proxier.sync(self.services.objects(), self.slices.objects(), full=periodic)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.services.run())
            tasks.create_task(self.slices.run())
            if self.config.healthz_bind_address:
                tasks.create_task(self._serve_healthz())
            await self.services.wait_for_sync()
            await self.slices.wait_for_sync()
            for informer in (self.services, self.slices):
                informer.add_handler(lambda _type, _key: self.runner.request())
            self.runner.request()
            tasks.create_task(self.runner.run())

    async def _serve_healthz(self) -> None:
        host, _, port = self.config.healthz_bind_address.rpartition(":")
        runner = web.AppRunner(healthz_app(self.runner, timeout_s=2 * self.config.sync_period_s),
                               access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port)).start()
            log.info("serving /healthz on %s", self.config.healthz_bind_address)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
