"""What the proxier programs, read out of Service and EndpointSlice JSON.

Upstream's ``pkg/proxy`` turns each Service into one ``ServicePort`` per port and each
EndpointSlice into endpoints filed under the same ``ServicePortName`` (namespace/name:port), so
rules are written per service port. Arktos adds the tenant: two tenants may both hold
``default/web``, so the name carries it. Which endpoints take traffic follows upstream's
``CategorizeEndpoints``: the ready ones; only when none is ready, the serving-but-terminating ones
(so connections drain during a rolling update instead of being refused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Arktos: the network a pod or Service joins within its tenant (issue 15).
NETWORK_LABEL = "arktos.futurewei.com/network"
DEFAULT_NETWORK = "default"
# The default ClientIP affinity timeout (upstream's DefaultClientIPServiceAffinitySeconds, 3 hours).
DEFAULT_AFFINITY_SECONDS = 10800
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True, slots=True, order=True)
class ServicePortName:
    """One port of one Service: ``tenant/namespace/name:port`` (the port name may be empty)."""

    tenant: str
    namespace: str
    name: str
    port: str
    protocol: str

    def __str__(self) -> str:
        base = f"{self.tenant}/{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@dataclass(frozen=True, slots=True)
class ServicePort:
    """What the rules need of one Service port."""

    name: ServicePortName
    cluster_ip: str
    port: int
    node_port: int = 0
    # sessionAffinity ClientIP: its timeout in seconds; 0 = no affinity.
    affinity_seconds: int = 0
    network: str = DEFAULT_NETWORK  # the Service's network within its tenant (its label)


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """One backend address of a Service port."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


def service_ports(service: dict[str, Any]) -> list[ServicePort]:
    """The proxied ports of a Service; none for headless, ExternalName or address-less Services."""
    metadata = service.get("metadata") or {}
    spec = service.get("spec") or {}
    cluster_ip = str(spec.get("clusterIP") or "")
    if spec.get("type") == "ExternalName" or not cluster_ip or cluster_ip == "None" or ":" in cluster_ip:
        return []
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
    network = str((metadata.get("labels") or {}).get(NETWORK_LABEL) or DEFAULT_NETWORK)
    result = []
    for port in spec.get("ports") or []:
        protocol = str(port.get("protocol") or "TCP")
        if protocol not in PROTOCOLS or not port.get("port"):
            continue
        name = ServicePortName(str(metadata.get("tenant") or "system"), str(metadata.get("namespace") or ""),
                               str(metadata.get("name") or ""), str(port.get("name") or ""), protocol)
        result.append(ServicePort(name, cluster_ip, int(port["port"]),
                                  node_port=int(port.get("nodePort") or 0) if node_ports else 0,
                                  affinity_seconds=affinity, network=network))
    return result


def slice_endpoints(endpoint_slice: dict[str, Any]) -> dict[ServicePortName, set[Endpoint]]:
    """The endpoints an EndpointSlice gives each port of its Service (IPv4 slices only)."""
    metadata = endpoint_slice.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or endpoint_slice.get("addressType", "IPv4") != "IPv4":
        return {}
    tenant = str(metadata.get("tenant") or "system")
    namespace = str(metadata.get("namespace") or "")
    result: dict[ServicePortName, set[Endpoint]] = {}
    for port in endpoint_slice.get("ports") or []:
        if port.get("port") is None:
            continue
        name = ServicePortName(tenant, namespace, service, str(port.get("name") or ""),
                               str(port.get("protocol") or "TCP"))
        found = result.setdefault(name, set())
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            # Upstream: a nil ready means ready; a nil serving means "same as ready".
            ready = conditions.get("ready") is not False
            serving = ready if conditions.get("serving") is None else bool(conditions["serving"])
            terminating = bool(conditions.get("terminating"))
            for address in (endpoint.get("addresses") or [])[:1]:
                found.add(Endpoint(str(address), int(port["port"]), ready, serving, terminating))
    return result


def endpoints_by_port(slices: Iterable[dict[str, Any]]) -> dict[ServicePortName, set[Endpoint]]:
    """Every slice's endpoints merged per service port (a Service may have several slices)."""
    merged: dict[ServicePortName, set[Endpoint]] = {}
    for endpoint_slice in slices:
        for name, endpoints in slice_endpoints(endpoint_slice).items():
            merged.setdefault(name, set()).update(endpoints)
    return merged


def usable_endpoints(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Upstream's CategorizeEndpoints for cluster traffic: the ready endpoints, or, when none is
    ready, the serving ones that are terminating. Sorted, so rules come out in a stable order; one
    entry per address:port even if two slices list it."""
    unique = {(e.ip, e.port): e for e in sorted(endpoints)}
    ready = [e for e in unique.values() if e.ready]
    if ready:
        return ready
    return [e for e in unique.values() if e.serving and e.terminating]
