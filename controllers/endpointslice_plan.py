"""Which EndpointSlices a Service should have, given its pods and the slices it has now.

Upstream's ``pkg/controller/endpointslice`` reconciler, in its essentials and kept pure:
- an endpoint per selected pod with an IP of the slice's address family (``spec.ipFamilies``,
  IPv4 by default), conditions ``ready`` (ready and not terminating, or publishNotReadyAddresses),
  ``serving`` (ready) and ``terminating``, a targetRef to the pod, nodeName and hostname;
- endpoints are grouped by their resolved port list: one set of slices per (family, ports);
- churn is kept low: an endpoint stays in the slice it is in, new endpoints fill slices that have
  room before new slices are made, at most ``maxEndpointsPerSlice`` (100) per slice; slices left
  empty, or for port lists no pod has any more, are deleted;
- a Service without endpoints keeps a single placeholder slice (no endpoints, no ports).
Slices are labelled ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`` and owned by their Service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apis.selectors import LabelSelector
from controllers.endpoint_pods import (
    endpoint_port,
    is_candidate,
    placement,
    pod_ip,
    resolve_target_port,
    selector_of,
    selects,
    service_labels,
    target_reference,
)
from controllers.pod_state import is_ready, is_terminating
from controllers.workload_objects import owner_reference

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100

PortsKey = tuple[tuple[tuple[str, Any], ...], ...]


@dataclass
class SlicePlan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)


def desired_endpoints(service: dict[str, Any], pods: list[dict[str, Any]]
                      ) -> dict[tuple[str, PortsKey], dict[str, dict[str, Any]]]:
    """Endpoints by (address type, ports), each keyed by pod name."""
    selector = selector_of(service) or LabelSelector()
    spec = service.get("spec") or {}
    families = list(spec.get("ipFamilies") or ["IPv4"])
    groups: dict[tuple[str, PortsKey], dict[str, dict[str, Any]]] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"].get("name"))):
        if not selects(selector, pod) or not is_candidate(pod, include_terminating=True):
            continue
        ports = [endpoint_port(sp, number) for sp in spec.get("ports") or ()
                 if (number := resolve_target_port(sp, pod)) is not None]
        for sp_port in ports:
            sp_port.setdefault("name", "")
        ports_key: PortsKey = tuple(sorted(tuple(sorted(p.items())) for p in ports))
        for family in families:
            address = pod_ip(pod, family)
            if address is not None:
                groups.setdefault((family, ports_key), {})[pod["metadata"]["name"]] = \
                    _endpoint(pod, service, address)
    return groups


def _endpoint(pod: dict[str, Any], service: dict[str, Any], address: str) -> dict[str, Any]:
    terminating = is_terminating(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    # A terminating pod is never "ready" unless the Service publishes not-ready addresses.
    ready = publish or (is_ready(pod) and not terminating)
    endpoint: dict[str, Any] = {
        "addresses": [address],
        "conditions": {"ready": ready, "serving": is_ready(pod), "terminating": terminating},
        "targetRef": target_reference(pod),
    }
    endpoint.update(placement(pod, service))
    return endpoint


def slice_ports_key(slice_: dict[str, Any]) -> PortsKey:
    return tuple(sorted(tuple(sorted({"name": "", **p}.items())) for p in slice_.get("ports") or ()))


def plan_slices(service: dict[str, Any], pods: list[dict[str, Any]],
                existing: list[dict[str, Any]]) -> SlicePlan:
    plan = SlicePlan()
    groups = desired_endpoints(service, pods)
    if not groups:
        return _placeholder_plan(service, existing)
    by_group: dict[tuple[str, PortsKey], list[dict[str, Any]]] = {}
    for slice_ in existing:
        group = (str(slice_.get("addressType")), slice_ports_key(slice_))
        if group in groups:
            by_group.setdefault(group, []).append(slice_)
        else:
            plan.delete.append(slice_)
    for group, wanted in groups.items():
        _plan_group(plan, service, group, wanted, by_group.get(group, []))
    return plan


def _plan_group(plan: SlicePlan, service: dict[str, Any], group: tuple[str, PortsKey],
                wanted: dict[str, dict[str, Any]], slices: list[dict[str, Any]]) -> None:
    placed: set[str] = set()
    kept: list[tuple[dict[str, Any], list[dict[str, Any]], bool]] = []
    for slice_ in sorted(slices, key=lambda s: str(s["metadata"].get("name"))):
        endpoints: list[dict[str, Any]] = []
        for endpoint in slice_.get("endpoints") or ():
            name = str((endpoint.get("targetRef") or {}).get("name"))
            if name in wanted and name not in placed and len(endpoints) < MAX_ENDPOINTS_PER_SLICE:
                endpoints.append(wanted[name])
                placed.add(name)
        changed = endpoints != list(slice_.get("endpoints") or ()) or _labels_changed(slice_, service)
        kept.append((slice_, endpoints, changed))
    fresh = [endpoint for name, endpoint in wanted.items() if name not in placed]
    for index, (slice_, endpoints, changed) in enumerate(kept):
        room = MAX_ENDPOINTS_PER_SLICE - len(endpoints)
        if fresh and room > 0:
            endpoints.extend(fresh[:room])
            del fresh[:room]
            changed = True
        kept[index] = (slice_, endpoints, changed)
    for slice_, endpoints, changed in kept:
        if not endpoints:
            plan.delete.append(slice_)
        elif changed:
            plan.update.append({**slice_, "metadata": {**slice_["metadata"], "labels": slice_labels(service)},
                                "endpoints": endpoints})
    while fresh:
        chunk, fresh = fresh[:MAX_ENDPOINTS_PER_SLICE], fresh[MAX_ENDPOINTS_PER_SLICE:]
        plan.create.append(new_slice(service, group[0], [dict(p) for p in group[1]], chunk))


def _placeholder_plan(service: dict[str, Any], existing: list[dict[str, Any]]) -> SlicePlan:
    plan = SlicePlan()
    placeholder = next((s for s in existing if not s.get("endpoints") and not s.get("ports")), None)
    plan.delete.extend(s for s in existing if s is not placeholder)
    if placeholder is None:
        family = str(((service.get("spec") or {}).get("ipFamilies") or ["IPv4"])[0])
        plan.create.append(new_slice(service, family, [], []))
    elif _labels_changed(placeholder, service):
        plan.update.append({**placeholder, "metadata": {**placeholder["metadata"],
                                                        "labels": slice_labels(service)}})
    return plan


def slice_labels(service: dict[str, Any]) -> dict[str, str]:
    labels = service_labels(service)
    labels[SERVICE_NAME_LABEL] = str(service["metadata"]["name"])
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def _labels_changed(slice_: dict[str, Any], service: dict[str, Any]) -> bool:
    return ((slice_.get("metadata") or {}).get("labels") or {}) != slice_labels(service)


def new_slice(service: dict[str, Any], address_type: str, ports: list[dict[str, Any]],
              endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = service["metadata"]
    body: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{metadata['name']}-", "namespace": metadata.get("namespace"),
                     "labels": slice_labels(service),
                     "ownerReferences": [owner_reference(service, api_version="v1", kind="Service")]},
        "addressType": address_type, "endpoints": endpoints,
    }
    if ports:
        body["ports"] = ports
    return body
