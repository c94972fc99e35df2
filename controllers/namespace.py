"""The namespace lifecycle controller: empty a Terminating namespace, then release it.

Upstream's ``pkg/controller/namespace``: a deleted namespace keeps finalizer ``kubernetes`` in
``spec.finalizers`` (the server puts it there) and stays Terminating while this controller deletes
every namespaced object in it, found through discovery so that any resource — built-in or added
later — is covered. Once a pass finds nothing, the finalizer is removed through
``PUT .../namespaces/{name}/finalize`` and the server deletes the namespace. Works in every tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import Conflict, NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, NAMESPACES
from client.rest import ApiClient
from controllers.registry import REGISTRY
from controllers.tenant_cleanup import TenantedResource, discover_tenanted_resources

log = logging.getLogger(__name__)

NAMESPACE_FINALIZER = "kubernetes"
NAMESPACES_ALL_TENANTS = InformerView(NAMESPACES, tenant=ALL_TENANTS)
_RECHECK_S = 1.0
_DISCOVERY_TTL_S = 30.0
_CONCURRENT_RESOURCES = 8


@REGISTRY.register
class NamespaceController(Controller):
    name = "namespace"
    workers = 4
    watches = (Watch(NAMESPACES_ALL_TENANTS),)

    _discovered: list[TenantedResource] | None = None
    _discovered_at = 0.0

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        namespace = self.informer(NAMESPACES_ALL_TENANTS).get(key)
        if namespace is None or not (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return
        if NAMESPACE_FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or ()):
            return  # released already; the server finishes the deletion
        resources = [r for r in await self._resources() if r.namespaced]
        remaining = await sweep_namespace(self.client, key.tenant, key.name, resources)
        if remaining:
            raise Requeue(_RECHECK_S, f"namespace {key.tenant}/{key.name}: {remaining} objects left")
        await self._finalize(namespace)

    async def _finalize(self, namespace: dict[str, Any]) -> None:
        metadata = namespace["metadata"]
        body = {**namespace, "spec": {**(namespace.get("spec") or {})}}
        body["spec"]["finalizers"] = [f for f in body["spec"].get("finalizers") or []
                                      if f != NAMESPACE_FINALIZER]
        try:
            await self.client.update(NAMESPACES, body, tenant=metadata.get("tenant"),
                                     subresource="finalize")
        except NotFound:
            return
        except Conflict as e:
            raise Requeue(0.1, "namespace changed while finalizing") from e
        log.info("namespace %s/%s emptied and finalized", metadata.get("tenant"), metadata.get("name"))

    async def _resources(self) -> list[TenantedResource]:
        now = time.monotonic()
        if self._discovered is None or now - self._discovered_at > _DISCOVERY_TTL_S:
            self._discovered = await discover_tenanted_resources(self.client)
            self._discovered_at = now
        return self._discovered


async def sweep_namespace(client: ApiClient, tenant: str, namespace: str,
                          resources: list[TenantedResource]) -> int:
    """One deletion pass over a namespace; answers how many objects were still there."""
    semaphore = asyncio.Semaphore(_CONCURRENT_RESOURCES)

    async def sweep_one(resource: TenantedResource) -> int:
        async with semaphore:
            try:
                items = (await client.list(resource.ref, tenant=tenant, namespace=namespace)
                         ).get("items") or []
            except NotFound:
                return 0
            if not items:
                return 0
            if resource.collection_deletable:
                await _quietly(client.delete_collection(resource.ref, tenant=tenant,
                                                        namespace=namespace,
                                                        propagation_policy="Background"))
            else:
                for item in items:
                    await _quietly(client.delete(resource.ref, item["metadata"]["name"], tenant=tenant,
                                                 namespace=namespace, propagation_policy="Background"))
            return len(items)

    return sum(await asyncio.gather(*(sweep_one(r) for r in resources)))


async def _quietly(call: Any) -> None:
    try:
        await call
    except NotFound:
        pass
