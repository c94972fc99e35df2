"""What a served resource is called and where it lives: the names every component shares.

A `Resource` names one resource at one group/version (group, version, kind, plural, scope, short
names, verbs, subresources, ...): what discovery publishes and what clients address. How the API
server *serves* a resource — its strategy, defaults, rules, printer, selectable fields, admission
and subresource handlers — is the server's own business, added on top in its resource record
(`server.registry.record`); the server's catalogue of records can change while it runs.

Arktos has three scopes (ARKTOS.md §1): ``Cluster`` (no tenant), ``Tenant`` (per tenant, not
namespaced) and ``Namespaced`` (tenant + namespace).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["Cluster", "Tenant", "Namespaced"]

ALL_VERBS: tuple[str, ...] = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)


@dataclass(frozen=True, slots=True)
class Subresource:
    """What discovery says about ``{resource}/{name}``.

    ``group``/``version``/``kind`` name the object the subresource accepts and returns; empty group and
    version mean "the parent's" (upstream leaves them unset in that case).
    """

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource at one group/version."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    scope: Scope
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Served under .../{name}/{sub}: "status", "scale", "binding", "eviction", ...
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # The registry key segment: /registry/{storage_name}/... ; empty means `plural`.
    storage_name: str = ""
    # OpenAPI definition name of the kind, e.g. "io.k8s.api.core.v1.Pod".
    definition: str = ""
    # DELETE answers with the deleted object rather than a Status: upstream's per-registry
    # ReturnDeletedObject, which its published OpenAPI document follows.
    returns_deleted_object: bool = False

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` value objects of this resource carry."""
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"

    @property
    def tenanted(self) -> bool:
        """Whether objects live inside a tenant (Arktos's APIResource.tenanted)."""
        return self.scope != "Cluster"

    @property
    def key_segment(self) -> str:
        return self.storage_name or self.plural

    @property
    def group_resource(self) -> str:
        """``plural.group`` as Kubernetes error messages name a resource (``pods``, ``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def subresource_names(self) -> tuple[str, ...]:
        return tuple(sub.name for sub in self.subresources)

    def has_subresource(self, name: str) -> bool:
        return any(sub.name == name for sub in self.subresources)
