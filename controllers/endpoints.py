"""The Endpoints controller: keep ``core/v1`` Endpoints in step with each Service's ready pods.

Upstream's ``pkg/controller/endpoint``: for every Service with a selector, an Endpoints object of
the same name lists the selected pods' IPs — ready pods in ``addresses``, the others in
``notReadyAddresses`` — with a ``targetRef`` to the pod, grouped into subsets of pods that
expose the same resolved ports (``RepackSubsets``). Services without a selector are left alone
(their Endpoints are written by hand); when a Service is deleted its Endpoints go too. Writes
happen only when the content changed, each stamped with ``endpoints.kubernetes.io/
last-change-trigger-time``. Pods, Services and Endpoints of every tenant are watched.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from apis.meta import now_rfc3339
from apis.selectors import LabelSelector
from client.cache import ObjectKey, by_namespace, namespace_index_value
from client.controller import Controller, Watch
from client.errors import NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef
from controllers.endpoint_pods import (
    SERVICES_BY_NAMESPACE,
    SERVICES_VIEW,
    TRIGGER_TIME,
    PodKey,
    endpoint_port,
    is_candidate,
    placement,
    pod_key,
    pod_reference_value,
    resolve_target_port,
    selector_of,
    selects,
    service_labels,
    takes_traffic,
    target_reference,
)
from controllers.registry import REGISTRY
from controllers.workload_objects import BY_NAMESPACE, CHILD_INDEXERS, PODS_VIEW

log = logging.getLogger(__name__)

ENDPOINTS = ResourceRef("", "v1", "endpoints", "Endpoints")
ENDPOINTS_VIEW = InformerView(ENDPOINTS, tenant=ALL_TENANTS)
ENDPOINTS_BY_POD = "endpoints/by-pod"


def pods_named(endpoints: dict[str, Any]) -> list[str]:
    metadata = endpoints.get("metadata") or {}
    tenant, namespace = str(metadata.get("tenant") or ""), str(metadata.get("namespace") or "")
    return sorted({pod_reference_value(tenant, namespace, str(address["targetRef"].get("name")))
                   for subset in endpoints.get("subsets") or ()
                   for field in ("addresses", "notReadyAddresses")
                   for address in subset.get(field) or () if (address.get("targetRef") or {}).get("name")})


def desired_subsets(service: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subsets for ``service`` over its namespace's ``pods``, repacked and sorted."""
    selector = selector_of(service) or LabelSelector()
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    # resolved port list → (ready addresses, not-ready addresses)
    by_ports: dict[tuple[tuple[Any, ...], ...], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"].get("name"))):
        if not selects(selector, pod) or not is_candidate(pod, include_terminating=publish):
            continue
        address = _address(pod, service)
        ports = [endpoint_port(sp, number) for sp in spec.get("ports") or ()
                 if (number := resolve_target_port(sp, pod)) is not None]
        if spec.get("ports") and not ports:
            continue  # no Service port resolves on this pod (a missing named port)
        group = tuple(sorted(tuple(sorted(p.items())) for p in ports))
        ready, not_ready = by_ports.setdefault(group, ([], []))
        (ready if takes_traffic(pod, service) else not_ready).append(address)
    subsets = []
    for group, (ready, not_ready) in sorted(by_ports.items()):
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready, key=_address_order)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_address_order)
        if group:
            subset["ports"] = [dict(p) for p in group]
        subsets.append(subset)
    return subsets


def _address(pod: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    address: dict[str, Any] = {"ip": (pod.get("status") or {}).get("podIP"),
                               "targetRef": target_reference(pod)}
    address.update(placement(pod, service))
    return address


def _address_order(address: dict[str, Any]) -> tuple[str, str]:
    return str(address.get("ip")), str((address.get("targetRef") or {}).get("uid"))


@REGISTRY.register
class EndpointsController(Controller):
    name = "endpoint"
    workers = 5
    watches = (
        Watch(SERVICES_VIEW, indexers={SERVICES_BY_NAMESPACE: by_namespace}),
        Watch(ENDPOINTS_VIEW, indexers={ENDPOINTS_BY_POD: pods_named}),
        Watch(PODS_VIEW, keys=pod_key, indexers=CHILD_INDEXERS),
    )

    async def reconcile(self, key: Hashable) -> None:
        if isinstance(key, PodKey):
            self._enqueue_services_of(key)
            return
        assert isinstance(key, ObjectKey)
        services = self.informer(SERVICES_VIEW)
        service = services.get(key)
        existing = self.informer(ENDPOINTS_VIEW).get(key)
        if service is None:
            if existing is not None and services.last_state(key) is not None:
                await self._delete(key)  # the Service went away: so do its Endpoints
            return
        if selector_of(service) is None:
            return
        namespace = namespace_index_value(key.tenant, key.namespace)
        pods = self.informer(PODS_VIEW).by_index(BY_NAMESPACE, namespace)
        subsets = desired_subsets(service, pods)
        labels = service_labels(service)
        if existing is not None and (existing.get("subsets") or []) == subsets \
                and ((existing.get("metadata") or {}).get("labels") or {}) == labels:
            return
        await self._write(key, service, existing, subsets, labels)

    def _enqueue_services_of(self, key: PodKey) -> None:
        pod = self.informer(PODS_VIEW).last_state(ObjectKey(key.tenant, key.namespace, key.name))
        services = self.informer(SERVICES_VIEW).by_index(
            SERVICES_BY_NAMESPACE, namespace_index_value(key.tenant, key.namespace))
        for service in services:
            selector = selector_of(service)
            if selector is not None and pod is not None and selects(selector, pod):
                self.queue.add(ObjectKey.of(service))
        # Services that listed the pod before a label change or its deletion.
        reference = pod_reference_value(key.tenant, key.namespace, key.name)
        for endpoints in self.informer(ENDPOINTS_VIEW).by_index(ENDPOINTS_BY_POD, reference):
            self.queue.add(ObjectKey.of(endpoints))

    async def _write(self, key: ObjectKey, service: dict[str, Any], existing: dict[str, Any] | None,
                     subsets: list[dict[str, Any]], labels: dict[str, str]) -> None:
        if existing is None:
            metadata: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
        else:
            metadata = dict(existing["metadata"])
        metadata["labels"] = labels
        metadata["annotations"] = {**(metadata.get("annotations") or {}), TRIGGER_TIME: now_rfc3339()}
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
        if subsets:
            body["subsets"] = subsets
        if existing is None:
            # AlreadyExists means our cache is behind: the queue's retry reads the newer object.
            await self.client.create(ENDPOINTS, body, tenant=key.tenant, namespace=key.namespace)
            return
        await self.client.update(ENDPOINTS, body, tenant=key.tenant, namespace=key.namespace)

    async def _delete(self, key: ObjectKey) -> None:
        try:
            await self.client.delete(ENDPOINTS, key.name, tenant=key.tenant, namespace=key.namespace)
        except NotFound:
            pass
