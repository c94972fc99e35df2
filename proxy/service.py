"""The running kube-proxy: informers for Services, EndpointSlices and (with network isolation) Pods
of every tenant, the sync runner, and the health server, supervised together.

As upstream's ``ProxyServer.Run``: the informers watch the cluster-wide lists (in Arktos the
all-tenants view, ``/api/v1/services``, which the ``system:kube-proxy`` identity may list and watch
through ``system:node-proxier``); every event requests a sync; the first sync waits until both caches
have listed, so a restart never programs a half-known state. Pods are cached slimmed to what
isolation reads, and a pod event requests a sync only when the pod's network or IPs changed (pods'
status changes are frequent; most change nothing here).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from client.informer import Informer, ObjectKey
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient
from proxy.config import ProxyConfig
from proxy.healthz import healthz_app
from proxy.isolation import PodMemberships, slim_pod
from proxy.proxier import Proxier
from proxy.sync_runner import SyncRunner

log = logging.getLogger(__name__)

SERVICES = ResourceRef("", "v1", "services", "Service")
ENDPOINT_SLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
PODS = ResourceRef("", "v1", "pods", "Pod")


class ProxyService:
    def __init__(self, client: ApiClient, proxier: Proxier, config: ProxyConfig) -> None:
        self.proxier = proxier
        self.config = config
        self.services = Informer(client, SERVICES, tenant=ALL_TENANTS)
        self.slices = Informer(client, ENDPOINT_SLICES, tenant=ALL_TENANTS)
        self.pods = (Informer(client, PODS, tenant=ALL_TENANTS, transform=slim_pod)
                     if config.network_isolation else None)
        self._memberships = PodMemberships()
        self.runner = SyncRunner(self._sync, min_interval_s=config.min_sync_period_s,
                                 max_interval_s=config.sync_period_s)

    async def _sync(self, periodic: bool) -> None:
        pods = self.pods.objects() if self.pods is not None else ()
        await self.proxier.sync(self.services.objects(), self.slices.objects(), pods, full=periodic)

    def _pod_changed(self, _type: str, key: ObjectKey) -> None:
        assert self.pods is not None
        if self._memberships.changed(key, self.pods.get(key)):
            self.runner.request()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.services.run())
            tasks.create_task(self.slices.run())
            if self.config.healthz_bind_address:
                tasks.create_task(self._serve_healthz())
            if self.pods is not None:
                tasks.create_task(self.pods.run())
            await self.services.wait_for_sync()
            await self.slices.wait_for_sync()
            for informer in (self.services, self.slices):
                informer.add_handler(lambda _type, _key: self.runner.request())
            if self.pods is not None:
                await self.pods.wait_for_sync()
                self.pods.add_handler(self._pod_changed)
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
