"""The ResourceQuota controller: keep each quota's ``status.used`` equal to what its namespace uses.

Upstream's ``pkg/controller/resourcequota``: for every ResourceQuota, ``status.hard`` mirrors
``spec.hard`` and ``status.used`` holds, for each resource named there, the sum over the
namespace's objects as `apis.quota.usage_of` prices them (terminal pods are free; scoped quotas
count matching pods only). Any change to a tracked object re-syncs the quotas of its namespace —
this is upstream's "replenishment" (usage going *down*; the API server's admission raises it on
create) — and every quota is recomputed every five minutes anyway
(``--resource-quota-sync-period``). Objects of the common resources are read from all-tenant
informers; ``count/<resource>.<group>`` of anything else is listed from the API at sync time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from apis.quantity import ZERO, Quantity
from apis.quota import LEGACY_COUNT_NAMES, add_usage, matches_scopes, parse_resource_list, usage_of
from client.cache import ObjectKey, by_namespace, namespace_index_value
from client.controller import Controller, Requeue, Watch
from client.errors import ApiError, NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, CONFIGMAPS, SECRETS, ResourceRef
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

RESOURCE_QUOTAS = ResourceRef("", "v1", "resourcequotas", "ResourceQuota")
_TRACKED: dict[str, ResourceRef] = {
    "pods": ResourceRef("", "v1", "pods", "Pod"),
    "services": ResourceRef("", "v1", "services", "Service"),
    "configmaps": CONFIGMAPS,
    "secrets": SECRETS,
    "persistentvolumeclaims": ResourceRef("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    "replicationcontrollers": ResourceRef("", "v1", "replicationcontrollers", "ReplicationController"),
    "resourcequotas": RESOURCE_QUOTAS,
    "deployments.apps": ResourceRef("apps", "v1", "deployments", "Deployment"),
    "replicasets.apps": ResourceRef("apps", "v1", "replicasets", "ReplicaSet"),
    "statefulsets.apps": ResourceRef("apps", "v1", "statefulsets", "StatefulSet"),
    "daemonsets.apps": ResourceRef("apps", "v1", "daemonsets", "DaemonSet"),
    "jobs.batch": ResourceRef("batch", "v1", "jobs", "Job"),
    "cronjobs.batch": ResourceRef("batch", "v1", "cronjobs", "CronJob"),
}
QUOTAS_VIEW = InformerView(RESOURCE_QUOTAS, tenant=ALL_TENANTS)
BY_NAMESPACE = "resourcequota/namespace"
_RESYNC_S = 300.0
_PREFERRED_VERSION_TTL_S = 300.0


@dataclass(frozen=True, slots=True, order=True)
class NamespaceKey:
    """A namespace whose objects changed: expanded into the keys of its quotas."""

    tenant: str
    namespace: str


def namespace_key(obj: dict[str, Any]) -> list[Hashable]:
    metadata = obj.get("metadata") or {}
    return [NamespaceKey(str(metadata.get("tenant") or ""), str(metadata.get("namespace") or ""))]


def resource_for(name: str) -> str | None:
    """The group-resource whose objects a quota resource name is priced on."""
    if name.startswith("count/"):
        return name[len("count/"):]
    if name in LEGACY_COUNT_NAMES:
        return LEGACY_COUNT_NAMES[name]
    if name.startswith("services."):
        return "services"
    if name == "requests.storage" or ".storageclass.storage.k8s.io/" in name:
        return "persistentvolumeclaims"
    if name.startswith(("requests.", "limits.")) or name in ("cpu", "memory", "ephemeral-storage"):
        return "pods"
    return None


def _tracked_watch(ref: ResourceRef) -> Watch:
    view = InformerView(ref, tenant=ALL_TENANTS)
    return Watch(view, keys=namespace_key, indexers={BY_NAMESPACE: by_namespace})


@REGISTRY.register
class ResourceQuotaController(Controller):
    name = "resourcequota"
    workers = 5
    watches = (Watch(QUOTAS_VIEW, indexers={BY_NAMESPACE: by_namespace}),
               *(_tracked_watch(ref) for ref in _TRACKED.values()))

    _versions: dict[str, tuple[float, str]]

    async def start(self) -> None:
        self._versions = {}

    async def reconcile(self, key: Hashable) -> None:
        if isinstance(key, NamespaceKey):
            value = namespace_index_value(key.tenant, key.namespace)
            for listed in self.informer(QUOTAS_VIEW).by_index(BY_NAMESPACE, value):
                self.queue.add(ObjectKey.of(listed))
            return
        assert isinstance(key, ObjectKey)
        quota = self.informer(QUOTAS_VIEW).get(key)
        if quota is None:
            return
        spec = quota.get("spec") or {}
        hard = parse_resource_list(spec.get("hard") or {})
        used: dict[str, Quantity] = {}
        for resource in sorted({r for r in map(resource_for, hard) if r is not None}):
            for obj in await self._objects(resource, key):
                if matches_scopes(spec, resource, obj):
                    add_usage(used, usage_of(resource, obj))
        status = {"hard": {name: str(amount) for name, amount in hard.items()},
                  "used": {name: str(used.get(name, ZERO)) for name in hard}}
        if status != (quota.get("status") or {}):
            try:
                await self.client.update(RESOURCE_QUOTAS, {**quota, "status": status}, subresource="status")
            except NotFound:
                return
        raise Requeue(_RESYNC_S, "periodic quota resync")

    async def _objects(self, resource: str, key: ObjectKey) -> list[dict[str, Any]]:
        ref = _TRACKED.get(resource)
        if ref is not None:
            informer = self.informer(InformerView(ref, tenant=ALL_TENANTS))
            return informer.by_index(BY_NAMESPACE, namespace_index_value(key.tenant, key.namespace))
        plural, _, group = resource.partition(".")
        try:
            version = await self._preferred_version(group)
            listed = await self.client.list_all(ResourceRef(group, version, plural), tenant=key.tenant,
                                                namespace=key.namespace)
        except ApiError as e:
            log.debug("quota %s: cannot count %s: %s", key, resource, e)
            return []  # an unknown resource has no objects (upstream counts it as zero too)
        return list(listed.get("items") or [])

    async def _preferred_version(self, group: str) -> str:
        if not group:
            return "v1"
        cached = self._versions.get(group)
        if cached is not None and time.monotonic() - cached[0] < _PREFERRED_VERSION_TTL_S:
            return cached[1]
        answer = await self.client.request("GET", f"/apis/{group}")
        version = str(((answer or {}).get("preferredVersion") or {}).get("version") or "v1")
        self._versions[group] = (time.monotonic(), version)
        return version
