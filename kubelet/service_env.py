"""The service variables every container gets (``KUBERNETES_SERVICE_HOST``, ``WEB_PORT``, ...).

Upstream's kubelet adds, for each service with a cluster IP, the variables of
``envvars.FromServices``: ``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT`` (first port), one
``<NAME>_SERVICE_PORT_<PORTNAME>`` per named port and Docker's link variables
(``<NAME>_PORT=tcp://ip:port``, ``<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]``). The master
service ``kubernetes`` in namespace ``default`` always counts; the pod's own namespace's services
only when ``enableServiceLinks`` is not false (``getServiceEnvVarMap``). The master service is
tenant ``system``'s, for pods of every tenant: there is one API server (set) for all tenants, and
it is what a pod's in-cluster client reaches (``KUBERNETES_SERVICE_HOST``/``PORT``). The pod's own
env wins over these (see `kubelet.container_env`).
"""

from __future__ import annotations

import logging
from typing import Any

from client.errors import ApiError, NotFound
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)

SERVICES = ResourceRef("", "v1", "services", "Service")
MASTER_TENANT = "system"
MASTER_NAMESPACE = "default"
MASTER_SERVICE = "kubernetes"


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


async def service_env(client: ApiClient, pod: dict[str, Any]) -> dict[str, str]:
    """The service variables for ``pod``; an unreadable service list yields none (logged)."""
    metadata = pod.get("metadata") or {}
    tenant = str(metadata.get("tenant") or "") or None
    namespace = str(metadata.get("namespace") or "")
    services: dict[str, dict[str, Any]] = {}
    try:
        if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False and namespace:
            listed = await client.list(SERVICES, tenant=tenant, namespace=namespace)
            services.update({str(s["metadata"]["name"]): s for s in listed.get("items") or []})
        if MASTER_SERVICE not in services:  # a namespace's own "kubernetes" service wins
            try:
                services[MASTER_SERVICE] = await client.get(SERVICES, MASTER_SERVICE, tenant=MASTER_TENANT,
                                                            namespace=MASTER_NAMESPACE)
            except NotFound:
                pass
    except ApiError as e:
        log.warning("service variables for pod %s/%s unavailable: %s", namespace, metadata.get("name"), e)
        return {}
    env: dict[str, str] = {}
    for name in sorted(services):
        env.update(service_variables(services[name]))
    return env
