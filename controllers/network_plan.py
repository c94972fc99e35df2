"""What the Network controller wants for one Network: its DNS and API Services, their endpoints.

Per Network ``N`` of tenant ``T`` (ARKTOS.md §6b): the selectorless Service ``kube-dns-N`` in T's
``kube-system`` (ports dns 53/UDP, dns-tcp 53/TCP) at the tenth address of N's Service range, and
``kubernetes-N`` in T's ``default`` (https 443) at its first — both labelled
``arktos.futurewei.com/network: N``, so they take their addresses from N. Their EndpointSlices
mirror the ready endpoints of tenant system's ``kube-system/kube-dns`` and ``default/kubernetes``:
the cluster DNS pods and the API servers serve every network, each network reaches them at
addresses of its own. A network of ipam Kubernetes has no range: its Services get addresses from
the cluster range as any; tenant system's ``default`` network of ipam Kubernetes is served by
system's own ``kube-dns`` and ``kubernetes`` and gets no copies. Pure functions: the controller
(`controllers.network`) reads the caches and writes what these return.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from client.cache import ObjectKey

NETWORK_LABEL = "arktos.futurewei.com/network"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "network-controller.arktos.futurewei.com"
SYSTEM_TENANT = "system"
DEFAULT_NETWORK = "default"
DNS_NAMESPACE, DNS_SERVICE = "kube-system", "kube-dns"
API_NAMESPACE, API_SERVICE = "default", "kubernetes"
DNS_SERVICE_INDEX = 10  # the cluster DNS's address in a range (upstream's kube-dns 10.0.0.10)
API_SERVICE_INDEX = 1

IPAM_KUBERNETES = "Kubernetes"

DNS_PORTS = ({"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
             {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53})
API_PORTS = ({"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},)


@dataclass(frozen=True, slots=True)
class NetworkService:
    """One Service a network gets, and the system Service whose endpoints it mirrors."""

    namespace: str
    name: str
    cluster_ip: str  # "" when the network has no range of its own (ipam Kubernetes): allocated
    ports: tuple[dict[str, Any], ...]
    mirrors: ObjectKey

    def key(self, tenant: str) -> ObjectKey:
        return ObjectKey(tenant, self.namespace, self.name)


def network_key(obj: dict[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return ObjectKey(str(metadata.get("tenant") or SYSTEM_TENANT), "", str(metadata.get("name") or ""))


def ipam_of(network: dict[str, Any]) -> str:
    service = (network.get("spec") or {}).get("service") or {}
    return str(service.get("ipam") or "Arktos")


def service_range(network: dict[str, Any]) -> ipaddress.IPv4Network | None:
    """The network's own Service range (cidrs[0]); None for ipam Kubernetes or none assigned."""
    if ipam_of(network) == IPAM_KUBERNETES:
        return None
    cidrs = ((network.get("spec") or {}).get("service") or {}).get("cidrs") or []
    try:
        return ipaddress.IPv4Network(str(cidrs[0])) if cidrs else None
    except ValueError:
        return None


def served_by_system(key: ObjectKey, network: dict[str, Any]) -> bool:
    """Tenant system's default network of ipam Kubernetes: its DNS is system's own kube-dns."""
    return key.tenant == SYSTEM_TENANT and key.name == DEFAULT_NETWORK and ipam_of(network) == IPAM_KUBERNETES


def network_services(network: dict[str, Any]) -> tuple[NetworkService, NetworkService]:
    """(``kube-dns-N``, ``kubernetes-N``) of ``network``."""
    name = network_key(network).name
    cidr = service_range(network)

    def address(index: int) -> str:
        return str(cidr.network_address + index) if cidr is not None else ""

    return (NetworkService(DNS_NAMESPACE, f"{DNS_SERVICE}-{name}", address(DNS_SERVICE_INDEX), DNS_PORTS,
                           ObjectKey(SYSTEM_TENANT, DNS_NAMESPACE, DNS_SERVICE)),
            NetworkService(API_NAMESPACE, f"{API_SERVICE}-{name}", address(API_SERVICE_INDEX), API_PORTS,
                           ObjectKey(SYSTEM_TENANT, API_NAMESPACE, API_SERVICE)))


def network_of_owned(obj: dict[str, Any]) -> ObjectKey | None:
    """The network a Service or slice of this controller belongs to (None: not one of them)."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    network = labels.get(NETWORK_LABEL)
    if not network:
        return None
    name = str(labels.get(SERVICE_NAME_LABEL) or metadata.get("name") or "")
    namespace = metadata.get("namespace")
    if (namespace, name) not in ((DNS_NAMESPACE, f"{DNS_SERVICE}-{network}"),
                                 (API_NAMESPACE, f"{API_SERVICE}-{network}")):
        return None
    return ObjectKey(str(metadata.get("tenant") or SYSTEM_TENANT), "", str(network))


def is_mirrored_source(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` is an EndpointSlice of system's kube-dns or kubernetes Service."""
    metadata = obj.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return (str(metadata.get("tenant") or SYSTEM_TENANT) == SYSTEM_TENANT
            and (metadata.get("namespace"), service) in ((DNS_NAMESPACE, DNS_SERVICE),
                                                         (API_NAMESPACE, API_SERVICE)))


def service_body(wanted: NetworkService, network_name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP", "ports": [dict(p) for p in wanted.ports]}
    if wanted.cluster_ip:
        spec["clusterIP"] = wanted.cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": wanted.name, "namespace": wanted.namespace,
                         "labels": {NETWORK_LABEL: network_name}},
            "spec": spec}


def service_differs(current: dict[str, Any], wanted: NetworkService, network_name: str) -> bool:
    """Whether the stored Service lost what this controller set (ports, label, selector)."""
    spec = current.get("spec") or {}
    labels = (current.get("metadata") or {}).get("labels") or {}
    ports = sorted((p.get("name"), p.get("port"), p.get("protocol", "TCP")) for p in spec.get("ports") or ())
    return (labels.get(NETWORK_LABEL) != network_name or bool(spec.get("selector"))
            or ports != sorted((p["name"], p["port"], p["protocol"]) for p in wanted.ports))


def mirrored_slice(wanted: NetworkService, network_name: str,
                   sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The EndpointSlice of ``wanted``: the ready addresses of the source slices, and their ports
    named as ``wanted``'s (kube-proxy pairs a Service port with the slice port of its name)."""
    names = {p["name"] for p in wanted.ports}
    addresses: set[str] = set()
    ports: dict[tuple[Any, Any], dict[str, Any]] = {}
    for source in sources:
        if source.get("addressType", "IPv4") != "IPv4":
            continue
        for endpoint in source.get("endpoints") or ():
            if (endpoint.get("conditions") or {}).get("ready", True) is not False:
                addresses.update(str(a) for a in endpoint.get("addresses") or ())
        for port in source.get("ports") or ():
            if port.get("name") in names:
                protocol = port.get("protocol", "TCP")
                ports[(port.get("name"), protocol)] = {"name": port.get("name"), "port": port.get("port"),
                                                       "protocol": protocol}
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": wanted.name, "namespace": wanted.namespace,
                     "labels": {SERVICE_NAME_LABEL: wanted.name, MANAGED_BY_LABEL: CONTROLLER_NAME,
                                NETWORK_LABEL: network_name}},
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in sorted(addresses)],
        "ports": [ports[k] for k in sorted(ports, key=lambda k: (str(k[0]), str(k[1])))],
    }


def slice_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def content(s: dict[str, Any]) -> Any:
        labels = (s.get("metadata") or {}).get("labels") or {}
        return (s.get("endpoints") or [], s.get("ports") or [],
                {k: labels.get(k) for k in wanted["metadata"]["labels"]})
    return content(current) != content(wanted)


def network_status(network: dict[str, Any], *, phase: str, message: str = "",
                   dns_service_ip: str = "") -> dict[str, Any] | None:
    """The status to write, or None when the network says it already."""
    fields = (("phase", phase), ("message", message), ("dnsServiceIP", dns_service_ip))
    status = {k: v for k, v in fields if v}
    current = network.get("status") or {}
    if {k: current.get(k) for k in ("phase", "message", "dnsServiceIP") if current.get(k)} == status:
        return None
    return status
