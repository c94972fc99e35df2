"""Emptying a Terminating tenant: find every resource through discovery, delete, verify.

Arktos deletes a tenant the way upstream's namespace controller deletes a namespace
(``pkg/controller/namespace/deletion``): discover every resource that lives inside it (here:
``tenanted: true`` in the APIResource lists, ARKTOS.md §2), delete each collection, and come back
until nothing is found; only then may the finalizer go. Namespaces are deleted last, and only in a
pass that found nothing else, so objects that linger (finalizers, graceful deletion) are not
stranded without their namespace. Discovery is used rather than a fixed list so resources added
later — CRDs, new built-ins — are covered without touching this code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apis.meta import split_api_version
from client.errors import Forbidden, NotFound
from client.resources import NAMESPACES, ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)

_CONCURRENT_RESOURCES = 8


@dataclass(frozen=True, slots=True)
class TenantedResource:
    """A resource that lives inside tenants, with what the sweep needs to know about it."""

    ref: ResourceRef
    namespaced: bool
    verbs: frozenset[str]

    @property
    def collection_deletable(self) -> bool:
        return "deletecollection" in self.verbs


async def discover_tenanted_resources(client: ApiClient) -> list[TenantedResource]:
    """Every deletable, listable tenanted resource of the core group and each group's preferred
    version (other versions of a group share its storage), namespaces excluded."""
    lists = [await client.request("GET", "/api/v1")]
    groups = await client.request("GET", "/apis")
    group_versions = [g["preferredVersion"]["groupVersion"] for g in groups.get("groups") or []
                      if g.get("preferredVersion")]
    lists += await asyncio.gather(*(client.request("GET", f"/apis/{gv}") for gv in group_versions))
    found: list[TenantedResource] = []
    for resource_list in lists:
        found.extend(_tenanted(resource_list))
    return found


def _tenanted(resource_list: dict[str, Any]) -> Iterable[TenantedResource]:
    group, version = split_api_version(str(resource_list.get("groupVersion") or ""))
    for entry in resource_list.get("resources") or []:
        name = str(entry.get("name") or "")
        verbs = frozenset(entry.get("verbs") or ())
        if "/" in name or not entry.get("tenanted") or "list" not in verbs:
            continue
        if not verbs & {"delete", "deletecollection"}:
            continue
        if group == "" and name == "namespaces":
            continue
        yield TenantedResource(ResourceRef(group, version, name, str(entry.get("kind") or "")),
                               namespaced=bool(entry.get("namespaced")), verbs=verbs)


async def sweep_tenant(client: ApiClient, tenant: str, resources: list[TenantedResource]) -> int:
    """One deletion pass over ``tenant``; answers how many objects it found (0: the tenant is empty).

    Namespaces are deleted only when nothing else was found in this pass.
    """
    semaphore = asyncio.Semaphore(_CONCURRENT_RESOURCES)

    async def sweep_one(resource: TenantedResource) -> int:
        async with semaphore:
            return await _sweep_resource(client, tenant, resource)

    counts = await asyncio.gather(*(sweep_one(r) for r in resources))
    found = sum(counts)
    namespaces = (await client.list_all(NAMESPACES, tenant=tenant)).get("items") or []
    if found == 0:
        for namespace in namespaces:
            await _delete_namespace(client, tenant, _name(namespace))
    if found or namespaces:
        log.info("tenant %s: found %d objects and %d namespaces still present", tenant, found,
                 len(namespaces))
    return found + len(namespaces)


async def _sweep_resource(client: ApiClient, tenant: str, resource: TenantedResource) -> int:
    """Deletes what exists of ``resource`` in ``tenant``; answers how many objects were there."""
    try:
        items = (await client.list_all(resource.ref, tenant=tenant)).get("items") or []
    except NotFound:  # served by discovery but not listable across a tenant: nothing to find
        return 0
    if not items:
        return 0
    if resource.collection_deletable and resource.namespaced:
        for namespace in sorted({_namespace(item) for item in items}):
            await _delete_collection_quietly(client, resource.ref, tenant=tenant, namespace=namespace)
    elif resource.collection_deletable:
        await _delete_collection_quietly(client, resource.ref, tenant=tenant, namespace=None)
    else:
        for item in items:
            await _delete_quietly(client, resource.ref, tenant=tenant, name=_name(item),
                                  namespace=_namespace(item) or None)
    log.info("tenant %s: deleting %d %s", tenant, len(items), resource.ref)
    return len(items)


async def _delete_collection_quietly(client: ApiClient, ref: ResourceRef, *, tenant: str,
                                     namespace: str | None) -> None:
    try:
        await client.delete_collection(ref, tenant=tenant, namespace=namespace,
                                       propagation_policy="Background")
    except NotFound:
        pass


async def _delete_quietly(client: ApiClient, ref: ResourceRef, *, tenant: str, name: str,
                          namespace: str | None = None) -> None:
    try:
        await client.delete(ref, name, tenant=tenant, namespace=namespace,
                            propagation_policy="Background")
    except NotFound:
        pass  # someone else (the namespace deletion, another pass) got there first


async def _delete_namespace(client: ApiClient, tenant: str, name: str) -> None:
    try:
        await _delete_quietly(client, NAMESPACES, tenant=tenant, name=name)
    except Forbidden as e:
        # The server protects default/kube-system/kube-public while the tenant is Active; it may
        # not have marked the tenant Terminating yet. The namespace counts as remaining and the
        # next pass tries again.
        log.warning("tenant %s: namespace %s not deletable yet: %s", tenant, name, e.message)


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")
