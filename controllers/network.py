"""The Network controller: each Arktos Network's DNS and API Services, endpoints and status.

For every Network it keeps what `controllers.network_plan` describes — ``kube-dns-N`` and
``kubernetes-N`` with EndpointSlices mirroring tenant system's ``kube-dns`` and ``kubernetes`` —
and writes ``status``: ``Ready`` with ``dnsServiceIP`` once both Services exist, ``Failed`` with
the API's answer when one cannot be made (retried), ``Pending`` while system's kube-dns is missing
for the one network it serves directly. A Network's key is synced when the Network, one of its
Services or slices, or one of system's mirrored slices (then every network) changes. A deleted
Network's Services and slices are deleted here (a Network is tenant-scoped, its Services
namespaced: no owner reference the garbage collector could follow across tenants' scopes).
It runs in every controller-manager process on its instance's hashKey range (`REPLICATED`): a
Network missing from the ranged cache may be another instance's, so deletion is confirmed with
a GET before anything is removed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import AlreadyExists, ApiError, Conflict, NotFound
from client.resources import NETWORKS
from controllers.endpoint_pods import SERVICES, SERVICES_VIEW
from controllers.endpointslice import ENDPOINT_SLICES, ENDPOINT_SLICES_VIEW
from controllers.network_plan import (
    SERVICE_NAME_LABEL,
    NetworkService,
    is_mirrored_source,
    mirrored_slice,
    network_key,
    network_of_owned,
    network_services,
    network_status,
    served_by_system,
    service_body,
    service_differs,
    slice_differs,
)
from controllers.registry import REGISTRY
from controllers.tenant_defaults import NETWORKS_VIEW

log = logging.getLogger(__name__)

SLICES_BY_SERVICE_NAME = "endpointslices/by-service-name"
# Enqueued when one of system's mirrored slices changes: every network is synced then.
MIRRORS_CHANGED = ObjectKey("", "", "*system-endpoints")
_FAILED_RETRY_S = 10.0


def slice_service(slice_: dict[str, Any]) -> list[str]:
    """Index value ``tenant/namespace/service`` of any slice naming its Service."""
    metadata = slice_.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return []
    return [f"{metadata.get('tenant') or 'system'}/{metadata.get('namespace') or ''}/{service}"]


def _service_keys(service: dict[str, Any]) -> list[Hashable]:
    owned = network_of_owned(service)
    if owned is not None:
        return [owned]
    metadata = service.get("metadata") or {}
    if (metadata.get("tenant") or "system", metadata.get("namespace"), metadata.get("name")) == \
            ("system", "kube-system", "kube-dns"):
        return [ObjectKey("system", "", "default")]
    return []


def _slice_keys(slice_: dict[str, Any]) -> list[Hashable]:
    if is_mirrored_source(slice_):
        return [MIRRORS_CHANGED]
    owned = network_of_owned(slice_)
    return [owned] if owned is not None else []


@REGISTRY.register
class NetworkController(Controller):
    name = "network"
    workers = 2
    watches = (
        Watch(NETWORKS_VIEW),
        Watch(SERVICES_VIEW, keys=_service_keys),
        Watch(ENDPOINT_SLICES_VIEW, keys=_slice_keys, indexers={SLICES_BY_SERVICE_NAME: slice_service}),
    )

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        if key == MIRRORS_CHANGED:
            for each in self.informer(NETWORKS_VIEW).objects():
                self.queue.add(network_key(each))
            return
        network = self.informer(NETWORKS_VIEW).get(key)
        if network is None:
            await self._clean_up_if_deleted(key)
            return
        if (network.get("metadata") or {}).get("deletionTimestamp"):
            return
        if served_by_system(key, network):
            dns = self.informer(SERVICES_VIEW).get(ObjectKey("system", "kube-system", "kube-dns"))
            dns_ip = str(((dns or {}).get("spec") or {}).get("clusterIP") or "")
            if dns_ip and dns_ip != "None":
                await self._set_status(network, phase="Ready", dns_service_ip=dns_ip)
            else:
                await self._set_status(network, phase="Pending",
                                       message="waiting for Service kube-system/kube-dns")
            return
        dns_service, api_service = network_services(network)
        try:
            dns = await self._ensure(key, dns_service)
            await self._ensure(key, api_service)
        except ApiError as e:
            if isinstance(e, Conflict):
                raise Requeue(0.1, f"network {key}: a Service or slice changed meanwhile") from e
            await self._set_status(network, phase="Failed", message=f"{e}")
            raise Requeue(_FAILED_RETRY_S, f"network {key.tenant}/{key.name}: {e}") from e
        await self._set_status(network, phase="Ready",
                               dns_service_ip=str((dns.get("spec") or {}).get("clusterIP") or ""))

    # -- the Services and their slices ----------------------------------------------------------
    async def _ensure(self, key: ObjectKey, wanted: NetworkService) -> dict[str, Any]:
        """``wanted`` and its mirrored slice exist as planned; answers the Service."""
        service_key = wanted.key(key.tenant)
        service = self.informer(SERVICES_VIEW).get(service_key)
        if service is None:
            try:
                service = await self.client.create(SERVICES, service_body(wanted, key.name),
                                                   tenant=key.tenant, namespace=wanted.namespace)
                log.info("network %s/%s: created Service %s/%s at %s", key.tenant, key.name,
                         wanted.namespace, wanted.name, service["spec"].get("clusterIP"))
            except AlreadyExists:
                service = await self.client.get(SERVICES, wanted.name, tenant=key.tenant,
                                                namespace=wanted.namespace)
        elif wanted.cluster_ip and (service.get("spec") or {}).get("clusterIP") != wanted.cluster_ip:
            # Left from an earlier network of this name with another range: make it anew.
            with contextlib.suppress(NotFound):
                await self.client.delete(SERVICES, wanted.name, tenant=key.tenant, namespace=wanted.namespace)
            raise Requeue(0.5, f"Service {wanted.namespace}/{wanted.name} had another address: re-creating")
        elif service_differs(service, wanted, key.name):
            body = service_body(wanted, key.name)
            body["metadata"] = {**service["metadata"], "labels": {
                **(service["metadata"].get("labels") or {}), **body["metadata"]["labels"]}}
            body["spec"] = {**service.get("spec", {}), **body["spec"]}
            body["spec"].pop("selector", None)
            service = await self.client.update(SERVICES, body)
        mirrors = wanted.mirrors
        sources = self.informer(ENDPOINT_SLICES_VIEW).by_index(
            SLICES_BY_SERVICE_NAME, f"{mirrors.tenant}/{mirrors.namespace}/{mirrors.name}")
        desired = mirrored_slice(wanted, key.name, sources)
        current = self.informer(ENDPOINT_SLICES_VIEW).get(service_key)
        if current is None:
            try:
                await self.client.create(ENDPOINT_SLICES, desired, tenant=key.tenant,
                                         namespace=wanted.namespace)
            except AlreadyExists:
                pass  # the cache lags: the next event of it syncs the network again
        elif slice_differs(current, desired):
            desired["metadata"] = {**current["metadata"], "labels": desired["metadata"]["labels"]}
            await self.client.update(ENDPOINT_SLICES, desired)
        return service

    async def _clean_up_if_deleted(self, key: ObjectKey) -> None:
        try:
            await self.client.get(NETWORKS, key.name, tenant=key.tenant)
            return  # exists (another instance's range, or the cache lags)
        except NotFound:
            pass
        for wanted in network_services({"metadata": {"name": key.name, "tenant": key.tenant}}):
            for resource in (ENDPOINT_SLICES, SERVICES):
                current = self.informer(ENDPOINT_SLICES_VIEW if resource is ENDPOINT_SLICES
                                        else SERVICES_VIEW).get(wanted.key(key.tenant))
                if current is None or network_of_owned(current) != key:
                    continue
                try:
                    await self.client.delete(resource, wanted.name, tenant=key.tenant,
                                             namespace=wanted.namespace)
                    log.info("network %s/%s is gone: deleted %s %s/%s", key.tenant, key.name,
                             resource.kind, wanted.namespace, wanted.name)
                except NotFound:
                    pass

    async def _set_status(self, network: dict[str, Any], *, phase: str, message: str = "",
                          dns_service_ip: str = "") -> None:
        status = network_status(network, phase=phase, message=message, dns_service_ip=dns_service_ip)
        if status is None:
            return
        try:
            await self.client.update(NETWORKS, {**network, "status": status}, subresource="status")
        except NotFound:
            return
        except Conflict as e:
            raise Requeue(0.1, "network changed while writing its status") from e
        key = network_key(network)
        log.info("network %s/%s: %s %s", key.tenant, key.name, phase, dns_service_ip or message)
