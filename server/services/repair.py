"""The repair loop of Service allocations: claims and Services agree again.

Upstream's ipallocator/controller.Repair and portallocator/controller.Repair run every 3 minutes in
each API server: they rebuild the allocation from the Services that exist, so an address taken by
a write that never landed (a server that died between allocating and storing, a storage timeout)
is freed, and an address a Service holds without a claim (restored from a backup, created before
allocation existed) is claimed again. Upstream frees a leak only after seeing it on several runs;
here a claim must be older than ``leak_grace`` seconds, so a create in flight on another server
— claim written, Service not yet — is never mistaken for a leak. Several servers may run the loop
at once: every release is guarded by the revision the leak was read at.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from server.services.allocation import (
    ServiceAllocator,
    health_check_node_port_of,
    needs_cluster_ip,
    needs_node_ports,
    node_ports_of,
)
from server.services.claims import Claim, Claims, Holder
from server.storage.interface import StorageError
from server.watchcache import WatchCache

log = logging.getLogger(__name__)

DEFAULT_REPAIR_INTERVAL = 180.0  # upstream's 3 minutes


@dataclass(frozen=True, slots=True)
class RepairReport:
    freed: tuple[str, ...] = ()
    reclaimed: tuple[str, ...] = ()


class AllocationRepair:
    def __init__(self, allocator: ServiceAllocator, cache: WatchCache, *,
                 interval: float = DEFAULT_REPAIR_INTERVAL, leak_grace: float | None = None) -> None:
        self._allocator = allocator
        self._cache = cache
        self._interval = interval
        self._leak_grace = min(interval, 60.0) if leak_grace is None else leak_grace

    async def run(self) -> None:
        """Repair once at start (upstream's RunOnce), then every interval; errors are logged and
        retried on the next round."""
        while True:
            try:
                report = await self.repair_once()
                if report.freed or report.reclaimed:
                    log.info("service allocation repair: freed %s, reclaimed %s",
                             list(report.freed), list(report.reclaimed))
            except (StorageError, OSError) as e:
                log.warning("service allocation repair failed: %s", e)
            await asyncio.sleep(self._interval)

    async def repair_once(self) -> RepairReport:
        allocator = self._allocator
        # Claims first, Services second: a Service created in between is seen holding its claim.
        ip_claims, port_claims = await allocator.ips.all(), await allocator.ports.all()
        services = [cached.obj for cached in list(self._cache.resource("services").objects.values())]
        held_ips: dict[str, dict[str, Any]] = {}
        held_ports: dict[str, dict[str, Any]] = {}
        for service in services:
            spec = service.get("spec") or {}
            if needs_cluster_ip(spec) and spec.get("clusterIP"):
                held_ips.setdefault(str(spec["clusterIP"]), service)
            ports = node_ports_of(spec) if needs_node_ports(spec) else set()
            for port in ports | {health_check_node_port_of(spec)} - {0}:
                held_ports.setdefault(str(port), service)
        freed = [*await self._free_leaks(allocator.ips, ip_claims, held_ips),
                 *await self._free_leaks(allocator.ports, port_claims, held_ports)]
        reclaimed = [
            *await self._reclaim(allocator.ips, {c.item for c in ip_claims}, held_ips, ip=True),
            *await self._reclaim(allocator.ports, {c.item for c in port_claims}, held_ports, ip=False)]
        return RepairReport(tuple(freed), tuple(reclaimed))

    async def _free_leaks(self, claims: Claims, found: list[Claim],
                          held: dict[str, dict[str, Any]]) -> list[str]:
        now = time.time()
        freed = []
        for claim in found:
            holder = held.get(claim.item)
            if holder is not None and Holder.of(holder).uid == claim.holder.uid:
                continue
            if now - claim.created < self._leak_grace:
                continue  # perhaps a create in flight: its Service may land any moment
            if await claims.release_unheld(claim):
                log.warning("%s %s was allocated to %s/%s/%s but no such Service holds it: released",
                            "ClusterIP" if claims is self._allocator.ips else "NodePort", claim.item,
                            claim.holder.tenant, claim.holder.namespace, claim.holder.name)
                freed.append(claim.item)
        return freed

    async def _reclaim(self, claims: Claims, claimed: set[str], held: dict[str, dict[str, Any]], *,
                       ip: bool) -> list[str]:
        ranges = self._allocator.ranges
        ip_ranges = self._allocator.ranges_in_use() if ip else []
        reclaimed = []
        for item, service in held.items():
            if item in claimed:
                continue
            in_range = any(r.contains(item) for r in ip_ranges) if ip \
                else int(item) in ranges.node_ports
            if not in_range:
                log.warning("Service %s holds %s outside the configured range", _name(service), item)
                continue
            if await claims.claim(item, Holder.of(service)):
                log.warning("%s %s held by Service %s was not allocated: allocated now",
                            "ClusterIP" if ip else "NodePort", item, _name(service))
                reclaimed.append(item)
        return reclaimed


def _name(service: dict[str, Any]) -> str:
    holder = Holder.of(service)
    return f"{holder.tenant}/{holder.namespace}/{holder.name}"
