"""One full sync: from the Services and EndpointSlices in hand to the kernel's tables.

Upstream's ``syncProxyRules`` in full-sync mode: read which of our chains exist, write every chain
the current Services need and delete the others in one ``iptables-restore`` transaction, make sure
the built-in chains jump into ours, then clear UDP conntrack entries the change left stale. The
proxier keeps no state besides what UDP clean-up compares against, so a sync after any failure (or a
restart) rebuilds the same tables. `cleanup` is ``--cleanup``: the jumps and every chain of the
prefix go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from proxy.conntrack import Conntrack, UdpTarget, stale_deletions
from proxy.iptables import Iptables
from proxy.model import ServicePort, ServicePortName, endpoints_by_port, service_ports, usable_endpoints
from proxy.rules import RuleSettings, build_rules, jump_rules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncResult:
    service_ports: int
    rules: int
    stale_chains: int
    seconds: float


class Proxier:
    def __init__(self, iptables: Iptables, settings: RuleSettings, *,
                 conntrack: Conntrack | None = None) -> None:
        self.iptables = iptables
        self.settings = settings
        self.conntrack = conntrack
        self._udp: dict[ServicePortName, UdpTarget] = {}

    async def sync(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]]) -> SyncResult:
        started = time.monotonic()
        ports = [port for service in services for port in service_ports(service)]
        endpoints = endpoints_by_port(slices)
        rule_set = build_rules(self.settings, ports, endpoints)
        names = self.settings.chains
        stale_nat = {c for c in await self.iptables.chains("nat") if names.is_own(c)}
        stale_nat -= set(rule_set.nat_chains)
        stale_filter = {c for c in await self.iptables.chains("filter") if names.is_own(c)}
        await self.iptables.restore(rule_set.restore_text(stale_nat=stale_nat, stale_filter=stale_filter))
        await self.iptables.ensure_jumps(jump_rules(self.settings))
        await self._clear_udp(ports, endpoints)
        result = SyncResult(len(ports), rule_set.rule_count, len(stale_nat), time.monotonic() - started)
        log.info("synced %d service ports: %d rules, %d stale chains removed, %.3fs", result.service_ports,
                 result.rules, result.stale_chains, result.seconds)
        return result

    async def _clear_udp(self, ports: list[ServicePort], endpoints: Any) -> None:
        udp = {port.name: UdpTarget(port.cluster_ip, port.node_port,
                                    frozenset(e.ip for e in usable_endpoints(endpoints.get(port.name, ()))))
               for port in ports if port.name.protocol == "UDP"}
        commands = stale_deletions(self._udp, udp)
        self._udp = udp
        if commands and self.conntrack is not None:
            await self.conntrack.delete(commands)

    async def cleanup(self) -> int:
        """Removes the jumps and every chain of the prefix; the number of chains removed."""
        await self.iptables.remove_jumps(jump_rules(self.settings))
        return await self.iptables.remove_chains(self.settings.chains)
