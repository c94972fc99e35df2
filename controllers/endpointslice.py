"""The EndpointSlice controller: ``discovery.k8s.io/v1`` slices for every Service with a selector.

Upstream's ``pkg/controller/endpointslice``, in every tenant: a Service key is synced when the
Service, one of its slices, or a pod it selects (or selected) changes; the decision is
`controllers.endpointslice_plan.plan_slices`, carried out here as creates (generateName
``<service>-``), updates and deletes of the slices this controller manages (label
``endpointslice.kubernetes.io/managed-by``); slices managed by others are never touched. Slices
of a deleted Service are deleted here rather than left to the garbage collector, so they vanish
even when it is not running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any

from apis.meta import now_rfc3339
from client.cache import ObjectKey, by_namespace, namespace_index_value
from client.controller import Controller, Requeue, Watch
from client.errors import NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef
from controllers.endpoint_pods import (
    SERVICES_BY_NAMESPACE,
    SERVICES_VIEW,
    TRIGGER_TIME,
    PodKey,
    pod_key,
    pod_reference_value,
    selector_of,
    selects,
)
from controllers.endpointslice_plan import CONTROLLER_NAME, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, plan_slices
from controllers.registry import REGISTRY
from controllers.workload_objects import BY_NAMESPACE, CHILD_INDEXERS, PODS_VIEW

log = logging.getLogger(__name__)

ENDPOINT_SLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
ENDPOINT_SLICES_VIEW = InformerView(ENDPOINT_SLICES, tenant=ALL_TENANTS)
SLICES_BY_SERVICE = "endpointslices/by-service"
SLICES_BY_POD = "endpointslices/by-pod"
# A write the informer never shows (a lost event) stops holding syncs back after this long.
_TRACKER_TIMEOUT_S = 10.0


def _managed(slice_: dict[str, Any]) -> bool:
    return ((slice_.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME


def service_of_slice(slice_: dict[str, Any]) -> list[str]:
    """Index value ``tenant/namespace/service`` for the slices this controller manages."""
    metadata = slice_.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or not _managed(slice_):
        return []
    return [f"{metadata.get('tenant') or ''}/{metadata.get('namespace') or ''}/{service}"]


def service_key_of_slice(slice_: dict[str, Any]) -> list[Hashable]:
    metadata = slice_.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or not _managed(slice_):
        return []
    return [ObjectKey(str(metadata.get("tenant") or ""), str(metadata.get("namespace") or ""), str(service))]


def pods_in_slice(slice_: dict[str, Any]) -> list[str]:
    metadata = slice_.get("metadata") or {}
    tenant, namespace = str(metadata.get("tenant") or ""), str(metadata.get("namespace") or "")
    return sorted({pod_reference_value(tenant, namespace, str(e["targetRef"].get("name")))
                   for e in slice_.get("endpoints") or () if (e.get("targetRef") or {}).get("name")})


class SliceTracker:
    """Upstream's ``EndpointSliceTracker``: the slices a sync wrote, so the next sync of the same
    Service waits until the informer shows them instead of acting on a stale cache (and, say,
    creating a second slice for the same pods)."""

    def __init__(self) -> None:
        self._written: dict[ObjectKey, tuple[float, dict[str, str]]] = {}

    def wrote(self, key: ObjectKey, written: dict[str, str]) -> None:
        if written:
            self._written[key] = (time.monotonic(), written)

    def caught_up(self, key: ObjectKey, cached: list[dict[str, Any]]) -> bool:
        entry = self._written.get(key)
        if entry is None:
            return True
        at, written = entry
        by_name = {s["metadata"]["name"]: str(s["metadata"].get("resourceVersion") or "") for s in cached}
        if time.monotonic() - at > _TRACKER_TIMEOUT_S or all(
                _reflects(by_name.get(name), version) for name, version in written.items()):
            del self._written[key]
            return True
        return False


def _reflects(cached: str | None, written: str) -> bool:
    """Whether the cache shows our write: a deletion ("") as absence, a write as that version or newer."""
    if not written:
        return cached is None
    if cached is None:
        return False
    if cached.isdigit() and written.isdigit():
        return int(cached) >= int(written)
    return cached == written


@REGISTRY.register
class EndpointSliceController(Controller):
    name = "endpointslice"
    workers = 5
    watches = (
        Watch(SERVICES_VIEW, indexers={SERVICES_BY_NAMESPACE: by_namespace}),
        Watch(ENDPOINT_SLICES_VIEW, keys=service_key_of_slice,
              indexers={SLICES_BY_SERVICE: service_of_slice, SLICES_BY_POD: pods_in_slice}),
        Watch(PODS_VIEW, keys=pod_key, indexers=CHILD_INDEXERS),
    )

    _tracker: SliceTracker

    async def start(self) -> None:
        self._tracker = SliceTracker()

    async def reconcile(self, key: Hashable) -> None:
        if isinstance(key, PodKey):
            self._enqueue_services_of(key)
            return
        assert isinstance(key, ObjectKey)
        slices = self.informer(ENDPOINT_SLICES_VIEW).by_index(
            SLICES_BY_SERVICE, f"{key.tenant}/{key.namespace}/{key.name}")
        service = self.informer(SERVICES_VIEW).get(key)
        if service is None or selector_of(service) is None:
            for slice_ in slices:
                await self._delete(key, slice_)
            return
        if not self._tracker.caught_up(key, slices):
            raise Requeue(0.05, f"service {key}: slice cache behind our own writes")
        namespace = namespace_index_value(key.tenant, key.namespace)
        pods = self.informer(PODS_VIEW).by_index(BY_NAMESPACE, namespace)
        plan = plan_slices(service, pods, slices)
        written: dict[str, str] = {}
        for slice_ in plan.delete:
            await self._delete(key, slice_)
            written[slice_["metadata"]["name"]] = ""
        for slice_ in plan.update:
            answer = await self.client.update(ENDPOINT_SLICES, _stamped(slice_), tenant=key.tenant,
                                              namespace=key.namespace)
            written[answer["metadata"]["name"]] = str(answer["metadata"].get("resourceVersion") or "")
        for slice_ in plan.create:
            answer = await self.client.create(ENDPOINT_SLICES, _stamped(slice_), tenant=key.tenant,
                                              namespace=key.namespace)
            written[answer["metadata"]["name"]] = str(answer["metadata"].get("resourceVersion") or "")
        self._tracker.wrote(key, written)

    def _enqueue_services_of(self, key: PodKey) -> None:
        pod = self.informer(PODS_VIEW).last_state(ObjectKey(key.tenant, key.namespace, key.name))
        services = self.informer(SERVICES_VIEW).by_index(
            SERVICES_BY_NAMESPACE, namespace_index_value(key.tenant, key.namespace))
        for service in services:
            selector = selector_of(service)
            if selector is not None and pod is not None and selects(selector, pod):
                self.queue.add(ObjectKey.of(service))
        reference = pod_reference_value(key.tenant, key.namespace, key.name)
        for slice_ in self.informer(ENDPOINT_SLICES_VIEW).by_index(SLICES_BY_POD, reference):
            for service_key in service_key_of_slice(slice_):
                self.queue.add(service_key)

    async def _delete(self, key: ObjectKey, slice_: dict[str, Any]) -> None:
        try:
            await self.client.delete(ENDPOINT_SLICES, slice_["metadata"]["name"], tenant=key.tenant,
                                     namespace=key.namespace)
        except NotFound:
            pass


def _stamped(slice_: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(slice_["metadata"])
    metadata["annotations"] = {**(metadata.get("annotations") or {}), TRIGGER_TIME: now_rfc3339()}
    return {**slice_, "metadata": metadata}
