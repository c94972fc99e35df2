"""Objects a fresh cluster starts with, created by the API server itself on start-up.

Upstream's apiserver creates the ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease`` namespaces (its system-namespaces controller); Arktos adds the ``system``
tenant (ARKTOS.md §2), which must exist before anything tenanted can be created.
"""

from __future__ import annotations

import logging
from typing import Any

from apis.catalogue import Catalogue, Resource
from server.errors import AlreadyExists
from server.registry.keys import Scope
from server.registry.store import GenericStore, WriteOptions

log = logging.getLogger(__name__)

SYSTEM_TENANT = "system"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure_system_objects(catalogue: Catalogue, store: GenericStore) -> None:
    tenants = catalogue.lookup("", "v1", "tenants")
    namespaces = catalogue.lookup("", "v1", "namespaces")
    options = WriteOptions()
    if tenants is not None:
        await _create_once(store, tenants, Scope(tenant=""), {
            "apiVersion": "v1", "kind": "Tenant", "metadata": {"name": SYSTEM_TENANT},
            "spec": {"storageClusterId": "0"}}, options)
    if namespaces is not None:
        for name in SYSTEM_NAMESPACES:
            await _create_once(store, namespaces, Scope(tenant=SYSTEM_TENANT), {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, options)


async def _create_once(store: GenericStore, resource: Resource, scope: Scope, body: dict[str, Any],
                       options: WriteOptions) -> None:
    try:
        await store.create(resource, scope, body, options)
        log.info("created %s %s", resource.plural, body["metadata"]["name"])
    except AlreadyExists:
        pass
