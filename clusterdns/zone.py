"""One tenant's view of the cluster domain as DNS records, built from the cache.

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
Every owner name's ancestors are kept too, so an existing name without records of the asked type
answers NODATA and only a name that does not exist answers NXDOMAIN.

A tenant sees its own Services only; when it has no ``default/kubernetes`` Service of its own it
sees tenant system's (every tenant reaches the API server under ``kubernetes.default``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, PTR, QTYPE, RD, SRV, TXT, A

from clusterdns.cache import KUBERNETES_SERVICE, ClusterCache
from clusterdns.objects import SYSTEM_TENANT, Endpoint, Port, Service

SCHEMA_VERSION = "1.1.0"


@dataclass
class Zone:
    domain: str  # lower case, with the trailing dot
    records: dict[str, dict[int, list[RD]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    names: set[str] = field(default_factory=set)  # owner names and their ancestors inside the domain
    reverse: dict[str, list[RD]] = field(default_factory=lambda: defaultdict(list))  # PTR owner → targets

    def add(self, name: str, qtype: int, rdata: RD) -> None:
        rdatas = self.records[name][qtype]
        if rdata not in rdatas:
            rdatas.append(rdata)
        self.mark(name)

    def mark(self, name: str) -> None:
        """The name exists (with or without records), and so do its ancestors."""
        while name.endswith(self.domain) and name not in self.names:
            self.names.add(name)
            name = name.split(".", 1)[1]

    def add_reverse(self, ip: str, target: str) -> None:
        owner = ipaddress.ip_address(ip).reverse_pointer + "."
        rdata = PTR(target)
        if rdata not in self.reverse[owner]:
            self.reverse[owner].append(rdata)


def address_record(ip: str) -> tuple[int, RD]:
    return (QTYPE.AAAA, AAAA(ip)) if ":" in ip else (QTYPE.A, A(ip))


def endpoint_hostname(endpoint: Endpoint, address: str) -> str:
    return (endpoint.hostname or address.replace(".", "-").replace(":", "-")).lower()


def build_zone(cache: ClusterCache, tenant: str, domain: str) -> Zone:
    zone = Zone(domain=domain)
    zone.mark(domain)
    zone.add(f"dns-version.{domain}", QTYPE.TXT, TXT(SCHEMA_VERSION))
    services = list(cache.services.get(tenant, {}).values())
    if tenant != SYSTEM_TENANT and KUBERNETES_SERVICE not in cache.services.get(tenant, {}):
        fallback = cache.services.get(SYSTEM_TENANT, {}).get(KUBERNETES_SERVICE)
        if fallback is not None:
            services.append(fallback)
    for service in services:
        _add_service(zone, cache, service)
    return zone


def _srv(zone: Zone, service_name: str, ports: tuple[Port, ...], targets: list[str]) -> None:
    for port in ports:
        if not port.name or not targets:
            continue
        owner = f"_{port.name.lower()}._{port.protocol.lower()}.{service_name}"
        weight = max(1, 100 // len(targets))
        for target in targets:
            zone.add(owner, QTYPE.SRV, SRV(priority=0, weight=weight, port=port.port, target=target))


def _add_service(zone: Zone, cache: ClusterCache, service: Service) -> None:
    name = f"{service.name}.{service.namespace}.svc.{zone.domain}".lower()
    if service.external_name:
        zone.add(name, QTYPE.CNAME, CNAME(service.external_name.rstrip(".") + "."))
        return
    if not service.headless:
        zone.mark(name)
        for ip in service.cluster_ips:
            zone.add(name, *address_record(ip))
            zone.add_reverse(ip, name)
        _srv(zone, name, service.ports, [name])
        return
    zone.mark(name)  # a headless Service exists even with no ready endpoint
    srv_targets: dict[Port, list[str]] = defaultdict(list)
    for endpoint_slice in cache.slices_of(service):
        for endpoint in endpoint_slice.endpoints:
            if not (endpoint.ready or service.publish_not_ready):
                continue
            for address in endpoint.addresses:
                host = f"{endpoint_hostname(endpoint, address)}.{name}"
                zone.add(name, *address_record(address))
                zone.add(host, *address_record(address))
                zone.add_reverse(address, host)
                for port in endpoint_slice.ports:
                    if host not in srv_targets[port]:
                        srv_targets[port].append(host)
    for port, targets in srv_targets.items():
        _srv(zone, name, (port,), targets)
