"""One tenant's view of the cluster domain as DNS records, kept up to date Service by Service.

The records follow the Kubernetes DNS-Based Service Discovery specification (schema 1.1.0) and
CoreDNS's kubernetes plugin where the specification leaves a choice:
- ``<svc>.<ns>.svc.<zone>``: A/AAAA of the ClusterIPs; of the ready endpoints for a headless
  Service; CNAME to ``externalName`` for an ExternalName Service.
- ``<hostname>.<svc>.<ns>.svc.<zone>`` for each ready endpoint of a headless Service, the hostname
  being the endpoint's ``hostname`` or, as CoreDNS does, its address with dashes.
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` SRV for named ports (priority 0, weight 100 split
  evenly as CoreDNS): to the Service name, or to each endpoint's name for a headless Service.
- PTR for ClusterIPs and for headless endpoints' addresses.
- ``dns-version.<zone>`` TXT with the schema version.
Every owner name's ancestors exist too (reference-counted), so an existing name without records
of the asked type answers NODATA and only a name that does not exist answers NXDOMAIN.

Each Service contributes a set of records (its *source*); a change re-renders that one Service
and swaps its contribution, so a change costs the same in a tenant of ten Services or ten
thousand. A zone is one network of one tenant: it holds the Services of that tenant joined to that
network only. ``kubernetes.default`` is the network's ``default/kubernetes-<network>`` (the
Network controller's, ARKTOS.md §6b), else the tenant's own ``default/kubernetes`` in that
network, else tenant system's: every tenant reaches the API server under that name.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, PTR, QTYPE, RD, SRV, TXT, A

from clusterdns.cache import KUBERNETES_SERVICE, NETWORK_KUBERNETES_PREFIX, ClusterCache
from clusterdns.objects import SYSTEM_TENANT, Endpoint, EndpointSlice, Port, Scope, Service

SCHEMA_VERSION = "1.1.0"
MARK = 0  # an entry that only says its name exists

Entry = tuple[str, int, RD | None]  # owner name, type (MARK: none), data
SourceKey = tuple[str, str]  # the Service's namespace and name


Table = dict[str, dict[int, dict[str, RD]]]  # owner → type → data keyed by its text (dnslib's
# record data compare equal but do not hash)


@dataclass
class Zone:
    domain: str  # lower case, with the trailing dot
    records: Table = field(default_factory=dict)
    ptrs: Table = field(default_factory=dict)  # reverse names of Service and endpoint addresses
    _name_refs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _counts: dict[tuple[str, int, str], int] = field(default_factory=lambda: defaultdict(int))
    _sources: dict[SourceKey, tuple[list[Entry], list[Entry]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._mark(self.domain, +1)

    def exists(self, name: str) -> bool:
        return name in self._name_refs

    def ptr_targets(self, owner: str) -> list[RD]:
        return list(self.ptrs.get(owner, {}).get(QTYPE.PTR, {}).values())

    def set_source(self, key: SourceKey, entries: list[Entry], reverse: list[Entry]) -> None:
        """Replace what ``key`` contributes with ``entries`` (forward) and ``reverse`` (PTR)."""
        old = self._sources.pop(key, None)
        if old is not None:
            for entry in old[0]:
                self._remove(self.records, entry, forward=True)
            for entry in old[1]:
                self._remove(self.ptrs, entry, forward=False)
        for entry in entries:
            self._add(self.records, entry, forward=True)
        for entry in reverse:
            self._add(self.ptrs, entry, forward=False)
        if entries or reverse:
            self._sources[key] = (entries, reverse)

    def _add(self, table: Table, entry: Entry, *, forward: bool) -> None:
        name, qtype, rdata = entry
        if forward:
            self._mark(name, +1)
        if rdata is None:
            return
        text = str(rdata)
        self._counts[(name, qtype, text)] += 1
        table.setdefault(name, {}).setdefault(qtype, {})[text] = rdata

    def _remove(self, table: Table, entry: Entry, *, forward: bool) -> None:
        name, qtype, rdata = entry
        if forward:
            self._mark(name, -1)
        if rdata is None:
            return
        text = str(rdata)
        count_key = (name, qtype, text)
        self._counts[count_key] -= 1
        if self._counts[count_key] > 0:
            return
        del self._counts[count_key]
        by_type = table[name]
        del by_type[qtype][text]
        if not by_type[qtype]:
            del by_type[qtype]
        if not by_type:
            del table[name]

    def _mark(self, name: str, delta: int) -> None:
        while name.endswith(self.domain):
            self._name_refs[name] += delta
            if self._name_refs[name] <= 0:
                del self._name_refs[name]
            if name == self.domain:
                break
            name = name.split(".", 1)[1]


def address_record(ip: str) -> tuple[int, RD]:
    return (QTYPE.AAAA, AAAA(ip)) if ":" in ip else (QTYPE.A, A(ip))


def endpoint_hostname(endpoint: Endpoint, address: str) -> str:
    return (endpoint.hostname or address.replace(".", "-").replace(":", "-")).lower()


def reverse_owner(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def build_zone(cache: ClusterCache, scope: Scope, domain: str) -> Zone:
    zone = Zone(domain=domain)
    zone.set_source(("", "dns-version"), [(f"dns-version.{domain}", QTYPE.TXT, TXT(SCHEMA_VERSION))], [])
    keys = set(cache.services.get(scope.tenant, {})) | {KUBERNETES_SERVICE}
    refresh_zone(zone, cache, scope, keys)
    return zone


def refresh_zone(zone: Zone, cache: ClusterCache, scope: Scope, keys: set[SourceKey]) -> None:
    """Re-render the Services ``keys`` of ``scope``'s tenant (gone ones, and those of another
    network, contribute nothing)."""
    for key in keys:
        if key == KUBERNETES_SERVICE:
            entries, reverse = _kubernetes_records(cache, scope, zone.domain)
            zone.set_source(key, entries, reverse)
            continue
        service = cache.services.get(scope.tenant, {}).get(key)
        if service is None or service.network != scope.network:
            zone.set_source(key, [], [])
        else:
            zone.set_source(key, *render_service(service, cache.slices_of(service), zone.domain))


def _kubernetes_records(cache: ClusterCache, scope: Scope, domain: str) -> tuple[list[Entry], list[Entry]]:
    """``kubernetes.default``'s records for this network (see the module's docstring)."""
    services = cache.services.get(scope.tenant, {})
    network_service = services.get((KUBERNETES_SERVICE[0], NETWORK_KUBERNETES_PREFIX + scope.network))
    if network_service is not None and network_service.network == scope.network:
        # The same addresses under the master name; the PTRs stay with kubernetes-<network>.
        alias = dataclasses.replace(network_service, name=KUBERNETES_SERVICE[1])
        entries, _ = render_service(alias, cache.slices_of(network_service), domain)
        return entries, []
    service = services.get(KUBERNETES_SERVICE)
    if service is None or service.network != scope.network:
        service = cache.services.get(SYSTEM_TENANT, {}).get(KUBERNETES_SERVICE)
    if service is None:
        return [], []
    return render_service(service, cache.slices_of(service), domain)


def _srv(owner_base: str, port: Port, targets: list[str]) -> list[Entry]:
    if not port.name or not targets:
        return []
    owner = f"_{port.name.lower()}._{port.protocol.lower()}.{owner_base}"
    weight = max(1, 100 // len(targets))
    return [(owner, QTYPE.SRV, SRV(priority=0, weight=weight, port=port.port, target=target))
            for target in targets]


def render_service(service: Service, slices: list[EndpointSlice], domain: str
                   ) -> tuple[list[Entry], list[Entry]]:
    """A Service's forward records and PTR records."""
    name = f"{service.name}.{service.namespace}.svc.{domain}".lower()
    entries: list[Entry] = [(name, MARK, None)]  # a Service's name exists even with no records
    reverse: list[Entry] = []
    if service.external_name:
        entries.append((name, QTYPE.CNAME, CNAME(service.external_name.rstrip(".") + ".")))
        return entries, reverse
    if not service.headless:
        for ip in service.cluster_ips:
            entries.append((name, *address_record(ip)))
            reverse.append((reverse_owner(ip), QTYPE.PTR, PTR(name)))
        for port in service.ports:
            entries.extend(_srv(name, port, [name]))
        return entries, reverse
    srv_targets: dict[Port, list[str]] = defaultdict(list)
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.endpoints:
            if not (endpoint.ready or service.publish_not_ready):
                continue
            for address in endpoint.addresses:
                host = f"{endpoint_hostname(endpoint, address)}.{name}"
                entries.append((name, *address_record(address)))
                entries.append((host, *address_record(address)))
                reverse.append((reverse_owner(address), QTYPE.PTR, PTR(host)))
                for port in endpoint_slice.ports:
                    if host not in srv_targets[port]:
                        srv_targets[port].append(host)
    for port, targets in srv_targets.items():
        entries.extend(_srv(name, port, targets))
    return entries, reverse
