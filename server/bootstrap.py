"""Objects a fresh cluster starts with, created by the API server itself on start-up.

Upstream's apiserver creates the ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease`` namespaces (its system-namespaces controller); Arktos adds the ``system``
tenant (ARKTOS.md §2), which must exist before anything tenanted can be created.
"""

from __future__ import annotations

import logging
from typing import Any

from apis.catalogue import Catalogue, Resource
from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.errors import AlreadyExists
from server.registry.keys import SYSTEM_TENANT, Scope
from server.registry.store import GenericStore, WriteOptions

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure_system_objects(catalogue: Catalogue, store: GenericStore) -> None:
    tenants = catalogue.lookup("", "v1", "tenants")
    namespaces = catalogue.lookup("", "v1", "namespaces")
    options = WriteOptions()
    if tenants is not None:
        await _create_once(store, tenants, Scope(tenant=""), {
            "apiVersion": "v1", "kind": "Tenant", "metadata": {"name": SYSTEM_TENANT},
            "spec": {"storageClusterId": "0"}}, options)
    await _ensure_bootstrap_policy(catalogue, store, options)
    if namespaces is not None:
        for name in SYSTEM_NAMESPACES:
            await _create_once(store, namespaces, Scope(tenant=SYSTEM_TENANT), {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, options)


async def _ensure_bootstrap_policy(catalogue: Catalogue, store: GenericStore,
                                   options: WriteOptions) -> None:
    """Upstream's default ClusterRoles and ClusterRoleBindings (its RBAC post-start hook), kept
    in tenant ``system``; existing objects are left as they are (users may have changed them)."""
    roles = catalogue.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
    bindings = catalogue.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    if roles is None or bindings is None:
        return
    scope = Scope(tenant=SYSTEM_TENANT)
    for role in bootstrap_cluster_roles():
        await _create_once(store, roles, scope, role, options)
    for binding in bootstrap_cluster_role_bindings():
        await _create_once(store, bindings, scope, binding, options)


async def _create_once(store: GenericStore, resource: Resource, scope: Scope, body: dict[str, Any],
                       options: WriteOptions) -> None:
    try:
        await store.create(resource, scope, body, options)
        log.debug("created %s %s", resource.plural, body["metadata"]["name"])
    except AlreadyExists:
        pass
