"""The service variables every container gets (``KUBERNETES_SERVICE_HOST``, ``WEB_PORT``, ...).

Upstream's kubelet adds, for each service with a cluster IP, the variables of
``envvars.FromServices``: ``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT`` (first port), one
``<NAME>_SERVICE_PORT_<PORTNAME>`` per named port and Docker's link variables
(``<NAME>_PORT=tcp://ip:port``, ``<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]``). The master
service ``kubernetes`` in namespace ``default`` always counts; the pod's own namespace's services
only when ``enableServiceLinks`` is not false (``getServiceEnvVarMap``), and — Arktos — only those
of the pod's network (the label ``arktos.futurewei.com/network``, `kubelet.networks`), as the
cluster DNS shows a pod no other network's Services. The master service is the pod's network's
``kubernetes-<network>`` in its tenant's ``default`` namespace (made by the Network controller,
leading to the API server), under the name ``kubernetes``; without one, tenant ``system``'s
``kubernetes``: there is one API server (set) for all tenants, and it is what a pod's in-cluster
client reaches (``KUBERNETES_SERVICE_HOST``/``PORT``). The pod's own env wins over these (see
`kubelet.container_env`).
"""

from __future__ import annotations

import logging
from typing import Any

from client.errors import ApiError, NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from kubelet.networks import network_of, pod_tenant

log = logging.getLogger(__name__)

SERVICES = ResourceRef("", "v1", "services", "Service")
MASTER_TENANT = "system"
MASTER_NAMESPACE = "default"
MASTER_SERVICE = "kubernetes"
NETWORK_MASTER_PREFIX = "kubernetes-"


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def service_variables(service: dict[str, Any]) -> dict[str, str]:
    """The variables one service contributes (none without a cluster IP or ports)."""
    spec = service.get("spec") or {}
    ip = str(spec.get("clusterIP") or "")
    ports = spec.get("ports") or []
    if ip in ("", "None") or not ports:
        return {}
    prefix = _env_name(str((service.get("metadata") or {}).get("name", "")))
    host = f"[{ip}]" if ":" in ip else ip
    out = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0].get("port", ""))}
    for port in ports:
        if port.get("name"):
            out[f"{prefix}_SERVICE_PORT_{_env_name(str(port['name']))}"] = str(port.get("port", ""))
    for index, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        number = str(port.get("port", ""))
        url = f"{protocol.lower()}://{host}:{number}"
        if index == 0:
            out[f"{prefix}_PORT"] = url
        port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
        out.update({port_prefix: url, f"{port_prefix}_PROTO": protocol.lower(),
                    f"{port_prefix}_PORT": number, f"{port_prefix}_ADDR": ip})
    return out


async def master_service(client: ApiClient, tenant: str, network: str) -> dict[str, Any] | None:
    """The network's ``kubernetes-<network>`` named ``kubernetes``, else tenant system's
    ``kubernetes``; None when neither exists. Raises ApiError."""
    try:
        own = await client.get(SERVICES, NETWORK_MASTER_PREFIX + network, tenant=tenant,
                               namespace=MASTER_NAMESPACE)
        if network_of(own) == network:
            return {**own, "metadata": {**(own.get("metadata") or {}), "name": MASTER_SERVICE}}
    except NotFound:
        pass
    try:
        return await client.get(SERVICES, MASTER_SERVICE, tenant=MASTER_TENANT, namespace=MASTER_NAMESPACE)
    except NotFound:
        return None


async def service_env(client: ApiClient, pod: dict[str, Any]) -> dict[str, str]:
    """The service variables for ``pod``; an unreadable service list yields none (logged)."""
    metadata = pod.get("metadata") or {}
    tenant, network = pod_tenant(pod), network_of(pod)
    namespace = str(metadata.get("namespace") or "")
    services: dict[str, dict[str, Any]] = {}
    try:
        if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False and namespace:
            listed = await client.list(SERVICES, tenant=tenant, namespace=namespace)
            services.update({str(s["metadata"]["name"]): s for s in listed.get("items") or []
                             if network_of(s) == network})
        if MASTER_SERVICE not in services:  # a namespace's own "kubernetes" service wins
            master = await master_service(client, tenant, network)
            if master is not None:
                services[MASTER_SERVICE] = master
    except ApiError as e:
        log.warning("service variables for pod %s/%s unavailable: %s", namespace, metadata.get("name"), e)
        return {}
    env: dict[str, str] = {}
    for name in sorted(services):
        env.update(service_variables(services[name]))
    return env
