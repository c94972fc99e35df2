"""The parts of Services, EndpointSlices and Pods that DNS answers from, read out of API JSON.

Only these small frozen records are kept, not whole objects: a cluster's pods would otherwise
fill the DNS pod's memory. Every record carries its tenant (``metadata.tenant``, ARKTOS.md §2;
``system`` when a server leaves it out); Services and Pods also carry their Arktos network, the
label ``arktos.futurewei.com/network`` (``default`` without it, ARKTOS.md §6b).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

SYSTEM_TENANT = "system"
NETWORK_LABEL = "arktos.futurewei.com/network"
DEFAULT_NETWORK = "default"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})

Key = tuple[str, str, str]  # tenant, namespace, name


class Scope(NamedTuple):
    """Who asks, and so what they may see: a tenant's network."""

    tenant: str
    network: str


SYSTEM_SCOPE = Scope(SYSTEM_TENANT, DEFAULT_NETWORK)


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int


@dataclass(frozen=True)
class Service:
    tenant: str
    namespace: str
    name: str
    network: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName Services
    headless: bool
    external_name: str
    ports: tuple[Port, ...]
    publish_not_ready: bool


@dataclass(frozen=True)
class Endpoint:
    addresses: tuple[str, ...]
    hostname: str
    ready: bool


@dataclass(frozen=True)
class EndpointSlice:
    tenant: str
    namespace: str
    name: str
    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Pod:
    tenant: str
    namespace: str
    name: str
    network: str
    ips: tuple[str, ...]
    host_network: bool
    terminal: bool


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("tenant") or SYSTEM_TENANT), str(metadata.get("namespace") or ""),
            str(metadata.get("name") or ""))


def network_of(obj: dict[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(NETWORK_LABEL) or DEFAULT_NETWORK)


def _ports(raw: list[dict[str, Any]] | None, *, number_field: str) -> tuple[Port, ...]:
    return tuple(Port(name=str(p.get("name") or ""), protocol=str(p.get("protocol") or "TCP"),
                      port=int(p.get(number_field) or 0)) for p in raw or [])


def service_from(obj: dict[str, Any]) -> Service:
    tenant, namespace, name = key_of(obj)
    spec = obj.get("spec") or {}
    cluster_ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP") or ""]) if ip]
    headless = spec.get("clusterIP") == "None"
    is_external = spec.get("type") == "ExternalName"
    return Service(
        tenant=tenant, namespace=namespace, name=name, network=network_of(obj),
        cluster_ips=() if headless or is_external else tuple(cluster_ips),
        headless=headless and not is_external,
        external_name=str(spec.get("externalName") or "") if is_external else "",
        ports=_ports(spec.get("ports"), number_field="port"),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
    )


def endpoint_slice_from(obj: dict[str, Any]) -> EndpointSlice:
    tenant, namespace, name = key_of(obj)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    endpoints = []
    for raw in obj.get("endpoints") or []:
        # An unset ready condition means ready (discovery.k8s.io/v1 EndpointConditions).
        ready = (raw.get("conditions") or {}).get("ready")
        endpoints.append(Endpoint(addresses=tuple(raw.get("addresses") or ()),
                                  hostname=str(raw.get("hostname") or ""), ready=ready is not False))
    return EndpointSlice(tenant=tenant, namespace=namespace, name=name,
                         service=str(labels.get(SERVICE_NAME_LABEL) or ""), endpoints=tuple(endpoints),
                         ports=_ports(obj.get("ports"), number_field="port"))


def pod_from(obj: dict[str, Any]) -> Pod:
    tenant, namespace, name = key_of(obj)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or []] or [status.get("podIP")]
    return Pod(tenant=tenant, namespace=namespace, name=name, network=network_of(obj),
               ips=tuple(str(ip) for ip in ips if ip), host_network=bool(spec.get("hostNetwork")),
               terminal=status.get("phase") in TERMINAL_PHASES)
