"""Where an ownerReference may resolve: inside the dependent's tenant, and namespace for namespaced owners.

Upstream's garbage collector looks an owner up only where the dependent could legally name it
(``isDangling``: a namespaced owner in the dependent's namespace, a cluster-scoped owner anywhere;
a namespaced owner of a cluster-scoped dependent is invalid and the dependent is left alone,
``namespacedOwnerOfClusterScopedObjectErr``), and reports a reference to an owner seen elsewhere
with a Warning event ``OwnerRefInvalidNamespace``. Arktos adds a scope between the two, the
tenant, and tenants are the isolation boundary:

| owner's scope | dependent namespaced | dependent tenant-scoped | dependent cluster-scoped |
|---|---|---|---|
| namespaced | same tenant and namespace | invalid | invalid |
| tenant | same tenant | same tenant | invalid |
| cluster | only from tenant ``system`` | only from tenant ``system`` | anywhere |

"Invalid" follows upstream: the dependent is never collected for it. A reference from inside a
tenant other than ``system`` to a cluster-scoped kind points outside the tenant (cluster-scoped
objects are the system tenant's, ARKTOS.md §3): the owner is treated as absent. Either way the
answer depends only on the reference's kind and the dependent's place, never on whether some
other tenant holds an object with that uid, so a tenant cannot probe another one through its own
objects' lifetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from apis.wire_types import OwnerReference

SYSTEM_TENANT = "system"
INVALID_NAMESPACE_REASON = "OwnerRefInvalidNamespace"


class Scoped(Protocol):
    """What the rule needs of a resource (`controllers.gc_graph.GraphResource` has it)."""

    @property
    def namespaced(self) -> bool: ...

    @property
    def tenanted(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class OwnerPlace:
    """The tenant and namespace an owner must have ("" for none) to own the dependent."""

    tenant: str
    namespace: str

    def holds(self, obj: dict[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        return (str(metadata.get("tenant") or ""), str(metadata.get("namespace") or "")) == \
            (self.tenant, self.namespace)


class Unresolvable(enum.Enum):
    """Why a reference can name no owner at all, whatever exists."""

    INVALID = "an owner of this kind cannot own an object of the dependent's scope"
    OUTSIDE_TENANT = "a cluster-scoped owner is outside the dependent's tenant"


def owner_place(dependent: Scoped, dependent_obj: dict[str, Any], owner: Scoped) -> OwnerPlace | Unresolvable:
    """Where the owner of ``owner``'s resource that ``dependent_obj`` names must be."""
    metadata = dependent_obj.get("metadata") or {}
    tenant = str(metadata.get("tenant") or "")
    if owner.namespaced:
        if not dependent.namespaced:
            return Unresolvable.INVALID
        return OwnerPlace(tenant, str(metadata.get("namespace") or ""))
    if owner.tenanted:
        return OwnerPlace(tenant, "") if dependent.tenanted else Unresolvable.INVALID
    if dependent.tenanted and tenant != SYSTEM_TENANT:
        return Unresolvable.OUTSIDE_TENANT
    return OwnerPlace("", "")


def invalid_reference_message(ref: OwnerReference, dependent_obj: dict[str, Any], *,
                              outside_tenant: bool = False) -> str:
    """Upstream's OwnerRefInvalidNamespace message (``reportInvalidNamespaceOwnerRef``); a
    cluster-scoped owner named from inside a tenant is said not to exist in that tenant."""
    metadata = dependent_obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    owner = (f"[{ref.get('apiVersion', '')}/{ref.get('kind', '')}, namespace: {namespace}, "
             f"name: {ref.get('name', '')}, uid: {ref.get('uid', '')}]")
    if outside_tenant:
        return f'ownerRef {owner} does not exist in tenant "{metadata.get("tenant") or ""}"'
    return f'ownerRef {owner} does not exist in namespace "{namespace}"'
