"""The Network controller's plan: per-network Services, mirrored slices, status, event keys.

Covers: kube-dns-N at the 10th and kubernetes-N at the 1st address of the network's /24, no fixed
address for ipam Kubernetes, system's default network (ipam Kubernetes) served by system's own;
the mirrored slice keeps only ready IPv4 addresses and the ports the Service names; which
Services and slices map to which network key (and system's sources to none of them); a status
write only when it changes; system's default network is ipam Kubernetes in the tenant defaults.
Leaves out: the API, the controller's writes (test/component/test_network_services.py).
"""

from __future__ import annotations

from typing import Any

from client.cache import ObjectKey
from controllers.network_plan import (
    CONTROLLER_NAME,
    is_mirrored_source,
    mirrored_slice,
    network_of_owned,
    network_services,
    network_status,
    served_by_system,
    service_body,
    service_differs,
    slice_differs,
)
from controllers.tenant_defaults import tenant_defaults


def network(name: str, tenant: str = "a", **service: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "tenant": tenant}, "spec": {"type": "flat", "service": service}}


def test_services_sit_at_the_10th_and_1st_address_of_the_range() -> None:
    dns, api = network_services(network("vpc1", ipam="Arktos", cidrs=["10.96.7.0/24"]))
    assert (dns.namespace, dns.name, dns.cluster_ip) == ("kube-system", "kube-dns-vpc1", "10.96.7.10")
    assert (api.namespace, api.name, api.cluster_ip) == ("default", "kubernetes-vpc1", "10.96.7.1")
    assert [(p["name"], p["port"], p["protocol"]) for p in dns.ports] == [("dns", 53, "UDP"),
                                                                          ("dns-tcp", 53, "TCP")]
    assert dns.mirrors == ObjectKey("system", "kube-system", "kube-dns")
    body = service_body(dns, "vpc1")
    assert body["metadata"]["labels"] == {"arktos.futurewei.com/network": "vpc1"}
    assert body["spec"]["clusterIP"] == "10.96.7.10" and "selector" not in body["spec"]
    assert not service_differs(body, dns, "vpc1")
    assert service_differs({**body, "spec": {**body["spec"], "selector": {"a": "b"}}}, dns, "vpc1")


def test_kubernetes_ipam_networks_get_allocated_addresses_and_system_default_gets_none() -> None:
    dns, api = network_services(network("k", ipam="Kubernetes"))
    assert dns.cluster_ip == api.cluster_ip == ""
    assert "clusterIP" not in service_body(dns, "k")["spec"]
    system_default = network("default", "system", ipam="Kubernetes")
    assert served_by_system(ObjectKey("system", "", "default"), system_default)
    assert not served_by_system(ObjectKey("a", "", "default"), network("default", ipam="Kubernetes"))
    assert not served_by_system(ObjectKey("system", "", "default"), network("default", "system"))


def test_the_mirrored_slice_keeps_ready_addresses_and_the_named_ports() -> None:
    dns, _ = network_services(network("vpc1", cidrs=["10.96.7.0/24"]))
    sources = [
        {"addressType": "IPv4", "endpoints": [
            {"addresses": ["10.88.0.5"], "conditions": {"ready": True}, "targetRef": {"name": "dns-1"}},
            {"addresses": ["10.88.0.6"], "conditions": {"ready": False}},
            {"addresses": ["10.88.0.7"]}],
         "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"},
                   {"name": "dns-tcp", "port": 5353, "protocol": "TCP"},
                   {"name": "metrics", "port": 9153, "protocol": "TCP"}]},
        {"addressType": "IPv6", "endpoints": [{"addresses": ["fd00::1"]}], "ports": []},
    ]
    got = mirrored_slice(dns, "vpc1", sources)
    assert got["metadata"]["name"] == "kube-dns-vpc1" and got["metadata"]["namespace"] == "kube-system"
    assert got["metadata"]["labels"] == {"kubernetes.io/service-name": "kube-dns-vpc1",
                                         "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME,
                                         "arktos.futurewei.com/network": "vpc1"}
    assert got["endpoints"] == [{"addresses": ["10.88.0.5"], "conditions": {"ready": True}},
                                {"addresses": ["10.88.0.7"], "conditions": {"ready": True}}]
    assert got["ports"] == [{"name": "dns", "port": 5353, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}]
    assert not slice_differs(got, mirrored_slice(dns, "vpc1", sources))
    another = {"endpoints": [{"addresses": ["10.88.0.9"]}], "ports": []}
    assert slice_differs(got, mirrored_slice(dns, "vpc1", [*sources[:1], another]))


def test_events_map_to_the_network_they_concern() -> None:
    def obj(tenant: str, namespace: str, name: str, **labels: str) -> dict[str, Any]:
        return {"metadata": {"tenant": tenant, "namespace": namespace, "name": name, "labels": labels}}
    net = {"arktos.futurewei.com/network": "vpc1"}
    assert network_of_owned(obj("a", "kube-system", "kube-dns-vpc1", **net)) == ObjectKey("a", "", "vpc1")
    assert network_of_owned(obj("a", "default", "kubernetes-vpc1", **net)) == ObjectKey("a", "", "vpc1")
    assert network_of_owned(obj("a", "default", "web", **net)) is None
    assert network_of_owned(obj("a", "default", "kube-dns-vpc1", **net)) is None
    slice_ = obj("a", "kube-system", "x-abcde", **net, **{"kubernetes.io/service-name": "kube-dns-vpc1"})
    assert network_of_owned(slice_) == ObjectKey("a", "", "vpc1")
    assert is_mirrored_source(obj("system", "kube-system", "kube-dns-x",
                                  **{"kubernetes.io/service-name": "kube-dns"}))
    assert is_mirrored_source(obj("system", "default", "kubernetes",
                                  **{"kubernetes.io/service-name": "kubernetes"}))
    assert not is_mirrored_source(obj("a", "default", "kubernetes",
                                      **{"kubernetes.io/service-name": "kubernetes"}))


def test_status_is_written_only_when_it_changes() -> None:
    net = network("vpc1")
    ready = network_status(net, phase="Ready", dns_service_ip="10.96.7.10")
    assert ready == {"phase": "Ready", "dnsServiceIP": "10.96.7.10"}
    assert network_status({**net, "status": ready}, phase="Ready", dns_service_ip="10.96.7.10") is None
    assert network_status({**net, "status": ready}, phase="Failed", message="no") == {"phase": "Failed",
                                                                                     "message": "no"}


def test_system_default_network_keeps_the_cluster_range() -> None:
    def default_network(tenant: str) -> dict[str, Any]:
        return next(d.body for d in tenant_defaults(tenant) if d.view.resource.kind == "Network")
    assert default_network("system")["spec"] == {"type": "flat", "service": {"ipam": "Kubernetes"}}
    assert default_network("a")["spec"] == {"type": "flat"}
