"""The resource catalogue: what the API server serves, declared once.

Each served resource is a `Resource` declaration (group, version, kind, plural, scope, short names,
subresources, ...); the generic registry, discovery, OpenAPI and storage keys are all derived from
these declarations, so adding a resource never means writing a handler.

Arktos has three scopes (ARKTOS.md §1): ``Cluster`` (no tenant), ``Tenant`` (per tenant, not
namespaced) and ``Namespaced`` (tenant + namespace).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Scope = Literal["Cluster", "Tenant", "Namespaced"]

ALL_VERBS: tuple[str, ...] = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)


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
    # Subresource names served under .../{name}/{sub}: "status", "scale", "binding", "eviction", ...
    subresources: tuple[str, ...] = ()
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


class Catalogue:
    """Lookups over a set of resource declarations."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._all: tuple[Resource, ...] = tuple(resources)
        self._by_path: dict[tuple[str, str, str], Resource] = {
            (r.group, r.version, r.plural): r for r in self._all
        }

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._all if r.group == group and r.version == version]

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first (the order of declaration)."""
        out: dict[str, list[str]] = {}
        for r in self._all:
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return out
