"""Storage keys for objects, following Arktos's layout (ARKTOS.md §1).

``/registry/{segment}/{name}`` for cluster scope, ``/registry/{segment}/{tenant}/{name}`` for
tenant scope and ``/registry/{segment}/{tenant}/{namespace}/{name}`` for namespaced objects; so a
tenant's objects, or one namespace's, form one key prefix and two tenants may hold the same names.
Prefixes end in '/', so tenant ``acme`` never matches ``acme2``.
"""

from __future__ import annotations

from dataclasses import dataclass

from apis.catalogue import Resource
from server.storage.keys import REGISTRY_PREFIX

ALL_TENANTS = "all"
SYSTEM_TENANT = "system"


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a request points: a concrete tenant (or ALL_TENANTS), a namespace ("" = all)."""

    tenant: str
    namespace: str = ""


def object_key(resource: Resource, scope: Scope, name: str) -> str:
    segment = resource.key_segment
    if resource.scope == "Cluster":
        return f"{REGISTRY_PREFIX}{segment}/{name}"
    if resource.scope == "Tenant":
        return f"{REGISTRY_PREFIX}{segment}/{scope.tenant}/{name}"
    return f"{REGISTRY_PREFIX}{segment}/{scope.tenant}/{scope.namespace}/{name}"


def list_prefix(resource: Resource, scope: Scope) -> str:
    segment = resource.key_segment
    if resource.scope == "Cluster" or scope.tenant == ALL_TENANTS:
        return f"{REGISTRY_PREFIX}{segment}/"
    if resource.scope == "Tenant" or not scope.namespace:
        return f"{REGISTRY_PREFIX}{segment}/{scope.tenant}/"
    return f"{REGISTRY_PREFIX}{segment}/{scope.tenant}/{scope.namespace}/"
