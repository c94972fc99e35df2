"""API objects for the cluster DNS tests (unit and component): Services, EndpointSlices and Pods
as the API server serves them, with their tenant and (a label) their network."""

from __future__ import annotations

from typing import Any

NETWORK_LABEL = "arktos.futurewei.com/network"


def _metadata(name: str, namespace: str, tenant: str, network: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "tenant": tenant}
    if network is not None:
        metadata["labels"] = {NETWORK_LABEL: network}
    return metadata


def service(name: str, *, namespace: str = "default", tenant: str = "system", cluster_ip: str = "10.0.0.50",
            ports: list[dict[str, Any]] | None = None, network: str | None = None,
            **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"clusterIP": cluster_ip, "ports": ports if ports is not None else
                            [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(name, namespace, tenant, network),
            "spec": body}


def endpoint_slice(name: str, service_name: str, endpoints: list[dict[str, Any]], *,
                   namespace: str = "default", tenant: str = "system",
                   ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "namespace": namespace, "tenant": tenant,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def endpoint(ip: str, *, hostname: str = "", ready: bool | None = True) -> dict[str, Any]:
    body: dict[str, Any] = {"addresses": [ip]}
    if hostname:
        body["hostname"] = hostname
    if ready is not None:
        body["conditions"] = {"ready": ready}
    return body


def pod(name: str, ip: str, *, namespace: str = "default", tenant: str = "system", phase: str = "Running",
        host_network: bool = False, network: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _metadata(name, namespace, tenant, network),
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "hostNetwork": host_network},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}}
