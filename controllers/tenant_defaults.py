"""What every Arktos tenant starts with, declared as data.

Arktos's tenant controller (``pkg/controller/tenant``) gives each new tenant the namespaces
``default``, ``kube-system`` and ``kube-public``, a tenant-scoped ClusterRole ``admin-role`` that
allows everything, a ClusterRoleBinding ``admin-role-binding`` granting it to User ``admin``, and
(ARKTOS.md §2) the ``default`` flat Network. Keeping the list as data lets the controller create
what is missing idempotently and lets tests assert against the same declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, NAMESPACES, NETWORKS

SYSTEM_TENANT = "system"
TENANT_FINALIZER = "arktos"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")
ADMIN_ROLE = "admin-role"
ADMIN_ROLE_BINDING = "admin-role-binding"
ADMIN_USER = "admin"
DEFAULT_NETWORK = "default"

# Every tenant's objects of these resources are followed by one informer each ("all" tenants).
NAMESPACES_VIEW = InformerView(NAMESPACES, tenant=ALL_TENANTS)
CLUSTER_ROLES_VIEW = InformerView(CLUSTER_ROLES, tenant=ALL_TENANTS)
CLUSTER_ROLE_BINDINGS_VIEW = InformerView(CLUSTER_ROLE_BINDINGS, tenant=ALL_TENANTS)
NETWORKS_VIEW = InformerView(NETWORKS, tenant=ALL_TENANTS)


@dataclass(frozen=True, slots=True)
class DefaultObject:
    """One object a tenant must have: where it lives and its body (without tenant)."""

    view: InformerView
    name: str
    body: dict[str, Any]


def _namespace(name: str) -> DefaultObject:
    return DefaultObject(NAMESPACES_VIEW, name,
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _admin_role() -> DefaultObject:
    return DefaultObject(CLUSTER_ROLES_VIEW, ADMIN_ROLE, {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ADMIN_ROLE},
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    })


def _admin_role_binding() -> DefaultObject:
    return DefaultObject(CLUSTER_ROLE_BINDINGS_VIEW, ADMIN_ROLE_BINDING, {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ADMIN_ROLE_BINDING},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": ADMIN_USER}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ADMIN_ROLE},
    })


def _default_network(tenant: str) -> DefaultObject:
    """Every tenant's ``default`` flat network gets its own Service range (ipam Arktos, the
    server's default); tenant ``system``'s keeps the cluster range (ipam Kubernetes), where the
    ``kubernetes`` and ``kube-dns`` Services already are."""
    spec: dict[str, Any] = {"type": "flat"}
    if tenant == SYSTEM_TENANT:
        spec["service"] = {"ipam": "Kubernetes"}
    return DefaultObject(NETWORKS_VIEW, DEFAULT_NETWORK, {
        "apiVersion": "arktos.futurewei.com/v1",
        "kind": "Network",
        "metadata": {"name": DEFAULT_NETWORK},
        "spec": spec,
    })


def tenant_defaults(tenant: str) -> list[DefaultObject]:
    """The objects an Active ``tenant`` must have, in creation order (namespaces first).

    Tenant ``system`` gets no ``admin-role-binding``: a user of tenant system is authorised in
    every tenant (ARKTOS.md §3), so binding everything to whoever is called ``admin`` there would
    make that name a cluster superuser; system's administrators come from the bootstrap policy.
    """
    objects = [*(_namespace(name) for name in INITIAL_NAMESPACES)]
    if tenant != SYSTEM_TENANT:
        objects += [_admin_role(), _admin_role_binding()]
    return [*objects, _default_network(tenant)]


def system_tenant() -> dict[str, Any]:
    """The body that creates tenant ``system`` when the server has not already done so."""
    return {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": SYSTEM_TENANT},
            "spec": {"storageClusterId": "0"}}
