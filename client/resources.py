"""Which resource a call is about, and the URL path that addresses it.

Arktos has three scopes (ARKTOS.md §1): cluster (``/api/v1/nodes``), tenant
(``/api/v1/tenants/{t}/namespaces``) and namespaced
(``/api/v1/tenants/{t}/namespaces/{ns}/pods``). Controllers act on many tenants at once, so the
client always uses the long tenant form when it knows the tenant, and the short upstream form
(resolved by the server from the caller's identity) only when it does not. Tenant ``all`` is the
literal Arktos uses for "every tenant". Kept apart from the HTTP code so informers, controllers and
tests build the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from apis.catalogue import Resource

ALL_TENANTS = "all"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A resource by group, version and plural name (``("apps", "v1", "deployments")``)."""

    group: str
    version: str
    plural: str
    kind: str = ""

    @classmethod
    def of(cls, resource: Resource) -> ResourceRef:
        """The reference for a catalogue declaration (``server.resources.builtin``)."""
        return cls(resource.group, resource.version, resource.plural, resource.kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_prefix(self) -> str:
        """``/api/v1`` for the core group, ``/apis/{group}/{version}`` otherwise."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def resource_path(ref: ResourceRef, *, tenant: str | None = None, namespace: str | None = None,
                  name: str | None = None, subresource: str | None = None) -> str:
    """The path for a collection (no ``name``), an object, or an object's subresource.

    With ``tenant`` the long Arktos form is used (``/api/v1/tenants/{t}/namespaces/{ns}/pods``);
    without it the short upstream form. The Tenant resource itself is cluster-scoped: pass no
    tenant for it (``/api/v1/tenants/{name}``).
    """
    parts = [ref.group_version_prefix]
    if tenant:
        parts.append(f"/tenants/{_segment(tenant)}")
    if namespace:
        parts.append(f"/namespaces/{_segment(namespace)}")
    parts.append(f"/{ref.plural}")
    if name:
        parts.append(f"/{_segment(name)}")
        if subresource:
            parts.append(f"/{_segment(subresource)}")
    elif subresource:
        raise ValueError("a subresource needs an object name")
    return "".join(parts)


def _segment(value: str) -> str:
    if not value or value in (".", "..") or "/" in value:
        raise ValueError(f"invalid path segment {value!r}")
    return quote(value, safe="")


# The resources the client runtime itself and the first controllers address by name.
TENANTS = ResourceRef("", "v1", "tenants", "Tenant")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole")
CLUSTER_ROLE_BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                    "ClusterRoleBinding")
NETWORKS = ResourceRef("arktos.futurewei.com", "v1", "networks", "Network")
