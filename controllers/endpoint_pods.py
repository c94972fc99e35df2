"""Which pods back a Service, on which ports, and whether they should take traffic.

The Endpoints and EndpointSlice controllers answer the same questions (upstream shares them in
``pkg/controller/util/endpoint`` and ``pkg/api/v1/pod``): a Service's selector picks pods of its
namespace; a pod is an endpoint once it has an IP and until it has finished (and, for Endpoints,
until it is being deleted, unless ``publishNotReadyAddresses``); a ``targetPort`` that names a port
is looked up among the pod's container ports by name and protocol; ready means condition Ready
True. A pod event has to reach every Service it is or was a member of: `PodKey` lets a controller
enqueue the pod itself and expand it, inside its own worker, to Service keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apis.selectors import LabelSelector, label_selector_from_set
from apis.wire_types import meta_of, pod_spec_of
from client.cache import ObjectKey
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef
from controllers.pod_state import is_ready, is_terminating, phase

SERVICES = ResourceRef("", "v1", "services", "Service")
SERVICES_VIEW = InformerView(SERVICES, tenant=ALL_TENANTS)
SERVICES_BY_NAMESPACE = "endpoints/services-by-namespace"


@dataclass(frozen=True, slots=True, order=True)
class PodKey:
    """A queued pod: expanded by the worker into the keys of the Services it concerns."""

    tenant: str
    namespace: str
    name: str


def pod_key(pod: dict[str, Any]) -> list[PodKey]:
    key = ObjectKey.of(pod)
    return [PodKey(key.tenant, key.namespace, key.name)]


# Both controllers stamp the time of the change that triggered their write (upstream annotation).
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def pod_reference_value(tenant: str, namespace: str, name: str) -> str:
    """Index value that files an Endpoints/EndpointSlice under each pod it names."""
    return f"{tenant}/{namespace}/{name}"


def selector_of(service: dict[str, Any]) -> LabelSelector | None:
    """The Service's pod selector, or None when it has none (its endpoints are someone else's)."""
    selector = (service.get("spec") or {}).get("selector")
    return label_selector_from_set(selector) if isinstance(selector, dict) and selector else None


def selects(selector: LabelSelector, pod: dict[str, Any]) -> bool:
    return selector.matches(meta_of(pod).get("labels"))


def is_candidate(pod: dict[str, Any], *, include_terminating: bool) -> bool:
    """Upstream's ``ShouldPodBeInEndpoints``: an IP, not finished, not being deleted unless asked."""
    if not (pod.get("status") or {}).get("podIP"):
        return False
    if phase(pod) in ("Succeeded", "Failed"):
        return False
    return include_terminating or not is_terminating(pod)


def pod_ip(pod: dict[str, Any], family: str = "IPv4") -> str | None:
    """The pod's address of one IP family (``status.podIPs``, falling back to ``podIP``)."""
    status = pod.get("status") or {}
    addresses = [str(entry.get("ip")) for entry in status.get("podIPs") or () if entry.get("ip")]
    addresses = addresses or ([str(status["podIP"])] if status.get("podIP") else [])
    for address in addresses:
        if (":" in address) == (family == "IPv6"):
            return address
    return None


def takes_traffic(pod: dict[str, Any], service: dict[str, Any]) -> bool:
    """Ready, or the Service publishes not-ready addresses too."""
    return bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or is_ready(pod)


def resolve_target_port(service_port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    """The pod's port for one Service port (upstream ``FindPort``): a number is used as is, a
    name must match a container port of the same protocol; None when it does not."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_port(service_port: dict[str, Any], number: int) -> dict[str, Any]:
    port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def target_reference(pod: dict[str, Any]) -> dict[str, Any]:
    metadata = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": metadata.get("namespace", ""), "name": metadata.get("name", ""),
            "uid": metadata.get("uid", "")}


def hostname_for(pod: dict[str, Any], service: dict[str, Any]) -> str | None:
    """A pod's hostname is published only for the Service named by its ``subdomain``."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == (service.get("metadata") or {}).get("name"):
        return str(spec["hostname"])
    return None


def placement(pod: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """The ``nodeName`` and ``hostname`` an endpoint address (Endpoints) or endpoint
    (EndpointSlice) carries for ``pod``, each only when set."""
    fields = {}
    node = pod_spec_of(pod).get("nodeName")
    if node:
        fields["nodeName"] = node
    hostname = hostname_for(pod, service)
    if hostname:
        fields["hostname"] = hostname
    return fields


def is_headless(service: dict[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def service_labels(service: dict[str, Any]) -> dict[str, str]:
    """Labels endpoints objects inherit from their Service (plus the headless marker)."""
    labels = dict((service.get("metadata") or {}).get("labels") or {})
    if is_headless(service):
        labels["service.kubernetes.io/headless"] = ""
    return labels
