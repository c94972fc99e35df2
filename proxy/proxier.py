"""One sync: from the Services and EndpointSlices in hand to the kernel's tables.

Upstream's ``syncProxyRules``. A full sync (the first, the periodic one, any after a failure) reads
which of our chains exist, writes every chain the current Services need and deletes the others in
one ``iptables-restore`` transaction. A partial sync (a change between periodic syncs) writes the
fixed chains and only the SVC/SEP chains of service ports that changed since the last sync, and
deletes the chains those changes left unused — with 10,000 endpoints, a pod coming or going rewrites
a few chains instead of all of them. Network isolation (``proxy.isolation``) rides in the same
transaction: its per-pod chains are rewritten every sync, a network's ``NET`` chain only when its
pods or DNS Services changed. Either way the built-in chains are made to jump into ours and
UDP conntrack entries the change left stale are cleared. The only state is what the last successful
sync programmed, dropped on any failure, so the tables always converge. `cleanup` is ``--cleanup``:
the jumps and every chain of the prefix go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from proxy.conntrack import Conntrack, UdpTarget, stale_deletions
from proxy.iptables import Iptables
from proxy.isolation import IsolationPlan, isolation_plan
from proxy.model import ServicePortName, endpoints_by_port, service_ports
from proxy.rules import (
    Programmed,
    RuleSettings,
    build_rules,
    isolation_jump,
    jump_rules,
    network_chains,
    plan,
    service_chains,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncResult:
    service_ports: int
    networks: int  # networks with pods on the isolation rules (0 without isolation)
    rules: int  # rules written by this sync (a partial sync leaves unchanged services' chains alone)
    stale_chains: int
    seconds: float
    full: bool


class Proxier:
    def __init__(self, iptables: Iptables, settings: RuleSettings, *,
                 conntrack: Conntrack | None = None) -> None:
        self.iptables = iptables
        self.settings = settings
        self.conntrack = conntrack
        # What the last successful sync programmed; None = unknown (start, or a failed sync), so
        # the next sync must be full.
        self._programmed: dict[ServicePortName, Programmed] | None = None
        self._isolated: IsolationPlan | None = None
        self._udp: dict[ServicePortName, UdpTarget] = {}

    async def sync(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
                   pods: Iterable[dict[str, Any]] = (), *, full: bool = True) -> SyncResult:
        """Programs the tables for these objects. ``full=False`` (upstream's partial sync, used for
        changes between periodic syncs) rewrites only the chains of service ports and networks that
        changed since the last sync; a full one rewrites every chain and deletes whatever of ours is
        stale. ``pods`` feed network isolation (when the setting is on)."""
        started = time.monotonic()
        ports = [port for service in services for port in service_ports(service)]
        planned = plan(ports, endpoints_by_port(slices))
        isolated = (isolation_plan(pods, planned.values()) if self.settings.network_isolation
                    else IsolationPlan({}))
        previous, self._programmed = self._programmed, None
        previous_isolated, self._isolated = self._isolated, None
        if previous is None or previous_isolated is None:
            full = True
        unchanged = set() if full or previous is None else {
            name for name, programmed in planned.items() if previous.get(name) == programmed}
        unchanged_networks = set() if full or previous_isolated is None else {
            key for key, members in isolated.networks.items()
            if previous_isolated.networks.get(key) == members}
        rule_set = build_rules(self.settings, planned, unchanged=unchanged, isolation=isolated,
                               unchanged_networks=unchanged_networks)
        stale = await self._stale_chains(service_chains(self.settings, planned), None if full else previous)
        stale_filter = await self._stale_isolation_chains(isolated, None if full else previous_isolated)
        await self.iptables.restore(rule_set.restore_text(stale_nat=stale, stale_filter=stale_filter))
        await self.iptables.ensure_jumps(jump_rules(self.settings))
        if self.settings.network_isolation:  # after the others: ahead of every accepting rule
            await self.iptables.ensure_first(isolation_jump(self.settings), peers="-ISOLATION")
        self._programmed, self._isolated = planned, isolated
        await self._clear_udp(planned)
        result = SyncResult(len(planned), len(isolated.networks), rule_set.rule_count,
                            len(stale) + len(stale_filter), time.monotonic() - started, full)
        log.info("%s sync of %d service ports, %d networks: %d rules written, %d stale chains removed, "
                 "%.3fs", "full" if full else "partial", result.service_ports, result.networks, result.rules,
                 result.stale_chains, result.seconds)
        return result

    async def _stale_isolation_chains(self, isolated: IsolationPlan,
                                      previous: IsolationPlan | None) -> set[str]:
        """Filter chains of isolation to delete: NET chains of networks gone since a partial sync; on
        a full one every isolation chain not needed now (all of them with isolation off, after the
        jump into them is gone)."""
        names = self.settings.chains
        needed = network_chains(names, isolated)
        if previous is not None:
            return network_chains(names, previous) - needed
        existing = {chain for chain in await self.iptables.chains("filter")
                    if names.is_network_chain(chain) or chain in names.isolation_fixed()}
        if self.settings.network_isolation:
            return existing - needed - set(names.isolation_fixed())
        if existing:
            await self.iptables.remove_jumps([isolation_jump(self.settings)])
        return existing

    async def _stale_chains(self, needed: set[str],
                            previous: dict[ServicePortName, Programmed] | None) -> set[str]:
        """SVC/SEP chains to delete: after a partial sync, those the previous plan had and this one
        has not; after a full one (``previous`` None), every chain of ours not needed now."""
        if previous is not None:
            return service_chains(self.settings, previous) - needed
        names = self.settings.chains
        existing = {chain for chain in await self.iptables.chains("nat") if names.is_own(chain)}
        return existing - needed - set(names.nat_fixed())

    async def _clear_udp(self, planned: dict[ServicePortName, Programmed]) -> None:
        udp = {name: UdpTarget(port.cluster_ip, port.node_port, frozenset(e.ip for e in usable))
               for name, (port, usable) in planned.items() if name.protocol == "UDP"}
        commands = stale_deletions(self._udp, udp)
        self._udp = udp
        if commands and self.conntrack is not None:
            await self.conntrack.delete(commands)

    async def cleanup(self) -> int:
        """Removes the jumps and every chain of the prefix; the number of chains removed."""
        self._programmed = self._isolated = None
        await self.iptables.remove_jumps([isolation_jump(self.settings), *jump_rules(self.settings)])
        return await self.iptables.remove_chains(self.settings.chains)
