"""Objects a fresh cluster starts with, created by the API server itself on start-up.

Upstream's apiserver creates the ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease`` namespaces (its system-namespaces controller); Arktos adds the ``system``
tenant (ARKTOS.md §2), which must exist before anything tenanted can be created.
"""

from __future__ import annotations

import logging
from typing import Any

from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.errors import AlreadyExists
from server.registry.catalogue import Catalogue
from server.registry.keys import SYSTEM_TENANT, Scope
from server.registry.record import ResourceRecord
from server.registry.store import GenericStore, WriteOptions

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"


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
    in tenant ``system``. An existing one annotated ``rbac.authorization.kubernetes.io/autoupdate:
    "true"`` is reconciled as upstream reconciles it: rules and subjects it lacks are added (so a
    cluster made by an older version gains new permissions and bindings on restart), nothing it
    has is removed; setting the annotation to "false" leaves it alone."""
    roles = catalogue.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
    bindings = catalogue.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    if roles is None or bindings is None:
        return
    scope = Scope(tenant=SYSTEM_TENANT)
    for role in bootstrap_cluster_roles():
        if not await _create_once(store, roles, scope, role, options):
            await _reconcile(store, roles, scope, role, field="rules", options=options)
    for binding in bootstrap_cluster_role_bindings():
        if not await _create_once(store, bindings, scope, binding, options):
            await _reconcile(store, bindings, scope, binding, field="subjects", options=options)


async def _create_once(store: GenericStore, resource: ResourceRecord, scope: Scope, body: dict[str, Any],
                       options: WriteOptions) -> bool:
    """Creates ``body``; False when it already exists."""
    try:
        await store.create(resource, scope, body, options)
        log.debug("created %s %s", resource.plural, body["metadata"]["name"])
        return True
    except AlreadyExists:
        return False


async def _reconcile(store: GenericStore, resource: ResourceRecord, scope: Scope, expected: dict[str, Any], *,
                     field: str, options: WriteOptions) -> None:
    """Adds the entries of ``expected[field]`` the stored object lacks (upstream's reconcile with
    its autoupdate annotation); no write when nothing is missing."""
    name = expected["metadata"]["name"]

    def add_missing(current: dict[str, Any]) -> dict[str, Any]:
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        if annotations.get(AUTOUPDATE_ANNOTATION, "true") != "true":
            return current
        present = list(current.get(field) or [])
        missing = [entry for entry in expected.get(field) or [] if entry not in present]
        if missing:
            log.info("reconciling %s %s: adding %d %s", resource.plural, name, len(missing), field)
            current[field] = present + missing
        return current

    await store.guaranteed_update(resource, scope, name, add_missing, options=options)
