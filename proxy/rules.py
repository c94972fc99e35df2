"""The iptables-restore text of one full sync: every chain the proxier owns, written from scratch.

This mirrors upstream's ``pkg/proxy/iptables/proxier.go`` (its full-sync path). The input is the
current set of Service ports and their endpoints; the output is one ``iptables-restore --noflush``
transaction per table in which every chain of ours is declared (``:CHAIN - [0:0]`` empties it) and
filled again, and every chain of ours that no Service needs any more is deleted (``-X``). Chains of
other owners — the built-in ones included — are left as they are; the jumps from the built-in
chains into ours are `JumpRule`s, kept in place by `proxy.iptables`.

nat:
  ``P-SERVICES``: per service port ``-d clusterIP -p proto --dport port -j P-SVC-x``, ending with
  ``-m addrtype --dst-type LOCAL -j P-NODEPORTS`` (a NodePort answers on every node address).
  ``P-SVC-x``: marks for masquerade traffic to the clusterIP from outside the cluster CIDR, then
  (ClientIP affinity) ``-m recent --rcheck`` per endpoint, then picks an endpoint with
  ``-m statistic --mode random --probability 1/n, 1/(n-1), ...``.
  ``P-SEP-y``: marks hairpin traffic (source = the endpoint itself) and DNATs to the endpoint.
  ``P-NODEPORTS``: marks and sends NodePort traffic to the service chain.
  ``P-MARK-MASQ`` / ``P-POSTROUTING``: set the masquerade mark / masquerade what carries it.
filter:
  ``P-SERVICES`` / ``P-EXTERNAL-SERVICES``: REJECT (icmp-port-unreachable) a service port with no
  usable endpoint, on its clusterIP / on its NodePort; ``P-FORWARD`` accepts marked traffic.
  With network isolation, ``P-ISOLATION`` (jumped to first from ``FORWARD``), ``P-ISOLATION-PODS`` and
  one ``P-NET-x`` per (tenant, network) refuse pod-to-pod connections across networks
  (``proxy.isolation``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from proxy.chains import ChainNames
from proxy.isolation import DNS_PORT, IsolationPlan, NetworkKey
from proxy.model import Endpoint, ServicePort, ServicePortName, usable_endpoints


@dataclass(frozen=True, slots=True)
class RuleSettings:
    chains: ChainNames
    cluster_cidr: str = ""
    masquerade_bit: int = 14
    network_isolation: bool = True

    @property
    def mark(self) -> str:
        value = 1 << self.masquerade_bit
        return f"{value:#x}/{value:#x}"

    @property
    def mark_value(self) -> str:
        return f"{1 << self.masquerade_bit:#x}"


@dataclass(frozen=True, slots=True)
class JumpRule:
    """A rule in a built-in chain that sends packets into one of ours (upstream's iptablesJumpChains)."""

    table: str
    chain: str
    args: tuple[str, ...]


def _jump(chains: ChainNames, table: str, chain: str, target: str, comment: str, *match: str) -> JumpRule:
    return JumpRule(table, chain, (*match, "-m", "comment", "--comment", f"{chains.prefix} {comment}",
                                   "-j", target))


def isolation_jump(settings: RuleSettings) -> JumpRule:
    """``FORWARD`` → ``P-ISOLATION``; it must come before every rule that accepts (``proxy.iptables``
    keeps it first)."""
    return _jump(settings.chains, "filter", "FORWARD", settings.chains.isolation, "network isolation")


def jump_rules(settings: RuleSettings) -> list[JumpRule]:
    """The jumps from built-in chains, in order; the isolation jump is not among them (it has its own
    place: first in ``FORWARD``)."""
    chains = settings.chains

    def jump(table: str, chain: str, target: str, comment: str, *match: str) -> JumpRule:
        return _jump(chains, table, chain, target, comment, *match)

    new = ("-m", "conntrack", "--ctstate", "NEW")
    return [
        jump("nat", "PREROUTING", chains.services, "service portals"),
        jump("nat", "OUTPUT", chains.services, "service portals"),
        jump("nat", "POSTROUTING", chains.postrouting, "postrouting rules"),
        jump("filter", "INPUT", chains.external_services, "externally-visible service portals", *new),
        jump("filter", "FORWARD", chains.forward, "forwarding rules"),
        jump("filter", "FORWARD", chains.services, "service portals", *new),
        jump("filter", "FORWARD", chains.external_services, "externally-visible service portals", *new),
        jump("filter", "OUTPUT", chains.services, "service portals", *new),
    ]


@dataclass(slots=True)
class _Table:
    name: str
    chains: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def chain(self, name: str) -> None:
        self.chains.append(name)

    def add(self, chain: str, *parts: str) -> None:
        self.rules.append(" ".join((f"-A {chain}", *parts)))

    def render(self, stale: Iterable[str]) -> str:
        stale = sorted(set(stale) - set(self.chains))
        lines = [f"*{self.name}"]
        lines += [f":{chain} - [0:0]" for chain in [*self.chains, *stale]]
        lines += self.rules
        lines += [f"-X {chain}" for chain in stale]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One sync's output: the restore text per table and how many rules it holds."""

    nat: _Table
    filter: _Table

    def restore_text(self, *, stale_nat: Iterable[str] = (), stale_filter: Iterable[str] = ()) -> str:
        """Both tables; ``stale_*`` chains are emptied and deleted."""
        return self.filter.render(stale_filter) + self.nat.render(stale_nat)

    @property
    def rule_count(self) -> int:
        return len(self.nat.rules) + len(self.filter.rules)


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _proto(port: ServicePort) -> str:
    protocol = port.name.protocol.lower()
    return f"-p {protocol} -m {protocol}"


# What one service port is programmed as: the port and the endpoints its chain spreads over.
Programmed = tuple[ServicePort, tuple[Endpoint, ...]]


def plan(ports: Iterable[ServicePort],
         endpoints: Mapping[ServicePortName, Iterable[Endpoint]]) -> dict[ServicePortName, Programmed]:
    """Each service port with its usable endpoints (the input of `build_rules`)."""
    return {port.name: (port, tuple(usable_endpoints(endpoints.get(port.name, ())))) for port in ports}


def service_chains(settings: RuleSettings, planned: Mapping[ServicePortName, Programmed]) -> set[str]:
    """The SVC and SEP chains a plan needs (ports without endpoints need none)."""
    chains = settings.chains
    needed = set()
    for name, (_, usable) in planned.items():
        if usable:
            needed.add(chains.service_chain(name))
            needed.update(chains.endpoint_chain(name, endpoint) for endpoint in usable)
    return needed


def build_rules(settings: RuleSettings, planned: Mapping[ServicePortName, Programmed], *,
                unchanged: Iterable[ServicePortName] = (), isolation: IsolationPlan | None = None,
                unchanged_networks: Iterable[NetworkKey] = ()) -> RuleSet:
    """The rules for a plan (see module doc). The SVC/SEP chains of ``unchanged`` ports are left out,
    so they keep what they hold (upstream's partial sync, MinimizeIPTablesRestore); the jumps into
    them from the fixed chains, which are always rewritten, are not. ``isolation`` (when the setting
    is on) adds the isolation chains; likewise without the NET chains of ``unchanged_networks``."""
    chains = settings.chains
    keep = set(unchanged)
    nat, filter_ = _Table("nat"), _Table("filter")
    for chain in chains.nat_fixed():
        nat.chain(chain)
    for chain in chains.filter_fixed():
        filter_.chain(chain)
    _fixed_rules(settings, nat, filter_)
    for name in sorted(planned):
        port, usable = planned[name]
        if usable:
            _service_rules(settings, nat, port, list(usable), write_chains=name not in keep)
        else:
            _reject_rules(filter_, chains, port)
    # Last: anything addressed to this host that matched no clusterIP may be a NodePort.
    nat.add(chains.services, _comment("kubernetes service nodeports"), "-m addrtype --dst-type LOCAL",
            f"-j {chains.node_ports}")
    if settings.network_isolation and isolation is not None:
        _isolation_rules(filter_, chains, isolation, unchanged=unchanged_networks)
    return RuleSet(nat, filter_)


def network_chains(chains: ChainNames, isolation: IsolationPlan) -> set[str]:
    """The NET chains an isolation plan needs."""
    return {chains.network_chain(key.tenant, key.network) for key in isolation.networks}


def _isolation_rules(filter_: _Table, chains: ChainNames, isolation: IsolationPlan, *,
                     unchanged: Iterable[NetworkKey]) -> None:
    keep = set(unchanged)
    filter_.chain(chains.isolation)
    filter_.chain(chains.isolation_pods)
    filter_.add(chains.isolation, _comment("replies of allowed connections"),
                "-m conntrack --ctstate RELATED,ESTABLISHED", "-j RETURN")
    for ip in isolation.dns_ips:
        _dns_exception(filter_, chains.isolation, "cluster DNS", ip, asked=ip)
    for service_ip, ip in isolation.shared_dns_routes:
        _dns_exception(filter_, chains.isolation, "cluster DNS Service", ip, asked=service_ip)
    for key, members in isolation.networks.items():
        network_chain = chains.network_chain(key.tenant, key.network)
        for ip in members.pod_ips:
            filter_.add(chains.isolation, _comment(f"pod of {key}"), f"-s {ip}/32", f"-j {network_chain}")
            filter_.add(chains.isolation_pods, _comment(f"pod of {key}"), f"-d {ip}/32",
                        "-j REJECT --reject-with icmp-admin-prohibited")
        if key in keep:
            continue
        filter_.chain(network_chain)
        for ip in members.pod_ips:
            filter_.add(network_chain, _comment(f"same network {key}"), f"-d {ip}/32", "-j RETURN")
        for service_ip, ip in members.dns_routes:
            _dns_exception(filter_, network_chain, f"DNS Service of {key}", ip, asked=service_ip)
        filter_.add(network_chain, _comment(f"other networks than {key}"), f"-j {chains.isolation_pods}")


def _dns_exception(filter_: _Table, chain: str, comment: str, dns_pod: str, *, asked: str) -> None:
    """Lets queries to ``dns_pod``:53 pass when they were addressed to ``asked`` (before DNAT)."""
    for protocol in ("udp", "tcp"):
        filter_.add(chain, _comment(comment), f"-d {dns_pod}/32 -p {protocol} -m {protocol}",
                    f"--dport {DNS_PORT} -m conntrack --ctorigdst {asked}/32", "-j RETURN")


def _fixed_rules(settings: RuleSettings, nat: _Table, filter_: _Table) -> None:
    chains = settings.chains
    nat.add(chains.postrouting, f"-m mark ! --mark {settings.mark}", "-j RETURN")
    # Clear the mark first: a packet re-entering the stack (hairpin) must not masquerade twice.
    nat.add(chains.postrouting, f"-j MARK --xor-mark {settings.mark_value}")
    nat.add(chains.postrouting, _comment("kubernetes service traffic requiring SNAT"), "-j MASQUERADE")
    nat.add(chains.mark_masq, f"-j MARK --or-mark {settings.mark_value}")
    filter_.add(chains.forward, _comment("kubernetes forwarding rules"), f"-m mark --mark {settings.mark}",
                "-j ACCEPT")
    filter_.add(chains.forward, _comment("kubernetes forwarding conntrack rule"),
                "-m conntrack --ctstate RELATED,ESTABLISHED", "-j ACCEPT")


def _service_rules(settings: RuleSettings, nat: _Table, port: ServicePort, usable: list[Endpoint], *,
                   write_chains: bool) -> None:
    chains = settings.chains
    service_chain = chains.service_chain(port.name)
    destination = f"-d {port.cluster_ip}/32 {_proto(port)} --dport {port.port}"
    nat.add(chains.services, _comment(f"{port.name} cluster IP"), destination, f"-j {service_chain}")
    if port.node_port:
        node_port = f"{_proto(port)} --dport {port.node_port}"
        nat.add(chains.node_ports, _comment(str(port.name)), node_port, f"-j {chains.mark_masq}")
        nat.add(chains.node_ports, _comment(str(port.name)), node_port, f"-j {service_chain}")
    if write_chains:
        _service_chain_rules(settings, nat, port, usable, destination)


def _service_chain_rules(settings: RuleSettings, nat: _Table, port: ServicePort, usable: list[Endpoint],
                         destination: str) -> None:
    chains = settings.chains
    service_chain = chains.service_chain(port.name)
    nat.chain(service_chain)
    if settings.cluster_cidr:
        nat.add(service_chain, _comment(f"{port.name} cluster IP"), f"! -s {settings.cluster_cidr}",
                destination, f"-j {chains.mark_masq}")
    endpoint_chains = [chains.endpoint_chain(port.name, endpoint) for endpoint in usable]
    if port.affinity_seconds:
        for chain in endpoint_chains:
            nat.add(service_chain, _comment(str(port.name)),
                    f"-m recent --name {chain} --mask 255.255.255.255 --rsource --rcheck",
                    f"--seconds {port.affinity_seconds} --reap", f"-j {chain}")
    count = len(usable)
    for index, chain in enumerate(endpoint_chains):
        remaining = count - index
        pick = "" if remaining == 1 else f"-m statistic --mode random --probability {1 / remaining:.10f} "
        nat.add(service_chain, _comment(f"{port.name} -> {usable[index]}"), f"{pick}-j {chain}")
    for endpoint, chain in zip(usable, endpoint_chains, strict=True):
        nat.chain(chain)
        nat.add(chain, _comment(str(port.name)), f"-s {endpoint.ip}/32", f"-j {chains.mark_masq}")
        recent = (f"-m recent --name {chain} --mask 255.255.255.255 --rsource --set "
                  if port.affinity_seconds else "")
        nat.add(chain, _comment(str(port.name)), _proto(port), f"{recent}-j DNAT --to-destination {endpoint}")


def _reject_rules(filter_: _Table, chains: ChainNames, port: ServicePort) -> None:
    reason = _comment(f"{port.name} has no endpoints")
    reject = "-j REJECT --reject-with icmp-port-unreachable"
    destination = f"-d {port.cluster_ip}/32 {_proto(port)} --dport {port.port}"
    filter_.add(chains.services, reason, destination, reject)
    if port.node_port:
        filter_.add(chains.external_services, reason, "-m addrtype --dst-type LOCAL",
                    f"{_proto(port)} --dport {port.node_port}", reject)
