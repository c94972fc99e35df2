"""Where the RBAC authorizer reads roles and bindings from, and a plain in-memory implementation.

RBAC objects are raw Kubernetes JSON (``rbac.authorization.k8s.io/v1``). In Arktos ClusterRoles
and ClusterRoleBindings are tenant-scoped (ARKTOS.md §1), so every lookup names a tenant. The
``generation`` counter lets the authorizer keep precomputed rule sets until any role or binding
changes (upstream's RBAC authorizer reads informer listers on every request; we cache instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

RbacKind = Literal["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]


class PolicySource(Protocol):
    """Read access to RBAC objects, per tenant (and namespace for Roles/RoleBindings)."""

    @property
    def generation(self) -> int:
        """Changes whenever any role or binding of any tenant changes."""
        ...

    def roles(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]: ...

    def role(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def cluster_roles(self, tenant: str) -> Iterable[dict[str, Any]]: ...

    def cluster_role(self, tenant: str, name: str) -> dict[str, Any] | None: ...

    def role_bindings(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]: ...

    def cluster_role_bindings(self, tenant: str) -> Iterable[dict[str, Any]]: ...


def _tenant_of(obj: dict[str, Any], default: str) -> str:
    return str((obj.get("metadata") or {}).get("tenant") or default)


class MemoryPolicySource:
    """A `PolicySource` held in dictionaries: for unit tests, and for feeding from watch events."""

    def __init__(self) -> None:
        self._generation = 0
        # kind -> (tenant, namespace) -> name -> object; namespace is "" for cluster kinds.
        self._objects: dict[str, dict[tuple[str, str], dict[str, dict[str, Any]]]] = {
            "Role": {}, "ClusterRole": {}, "RoleBinding": {}, "ClusterRoleBinding": {},
        }

    @property
    def generation(self) -> int:
        return self._generation

    def put(self, kind: RbacKind, obj: dict[str, Any], *, tenant: str | None = None) -> None:
        """Add or replace ``obj``; its tenant is ``tenant``, else ``metadata.tenant``, else ``system``."""
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if kind in ("Role", "RoleBinding") else ""
        where = (tenant or _tenant_of(obj, "system"), namespace)
        self._objects[kind].setdefault(where, {})[str(meta.get("name", ""))] = obj
        self._generation += 1

    def remove(self, kind: RbacKind, name: str, *, tenant: str, namespace: str = "") -> None:
        bucket = self._objects[kind].get((tenant, namespace if kind in ("Role", "RoleBinding") else ""))
        if bucket is not None and bucket.pop(name, None) is not None:
            self._generation += 1

    def _bucket(self, kind: RbacKind, tenant: str, namespace: str = "") -> dict[str, dict[str, Any]]:
        return self._objects[kind].get((tenant, namespace), {})

    def roles(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]:
        return list(self._bucket("Role", tenant, namespace).values())

    def role(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._bucket("Role", tenant, namespace).get(name)

    def cluster_roles(self, tenant: str) -> Iterable[dict[str, Any]]:
        return list(self._bucket("ClusterRole", tenant).values())

    def cluster_role(self, tenant: str, name: str) -> dict[str, Any] | None:
        return self._bucket("ClusterRole", tenant).get(name)

    def role_bindings(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]:
        return list(self._bucket("RoleBinding", tenant, namespace).values())

    def cluster_role_bindings(self, tenant: str) -> Iterable[dict[str, Any]]:
        return list(self._bucket("ClusterRoleBinding", tenant).values())
