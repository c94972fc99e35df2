"""NamespaceLifecycle and Arktos's TenantExists: nothing new in a place that is missing or going.

Upstream's NamespaceLifecycle (k8s.io/apiserver plugin/namespace/lifecycle, a mutating-phase plugin,
so it answers before validation): a create in a namespace that does not exist is a 404, in one
that is terminating a 403 ``unable to create new content in namespace X because it is being
terminated``; the immortal namespaces ``default``, ``kube-system`` and ``kube-public`` cannot be
deleted — in Arktos, while their tenant is Active (a Terminating tenant takes them along).
Arktos's TenantExists does the same for the tenant of every tenanted create. Both read the watch
cache (once more after it caught up with the store, when the place is missing: another API server
may have just made it); namespaces are emptied by the namespace controller, not here.
"""

from __future__ import annotations

from collections.abc import Callable

from server.errors import Forbidden, NotFound
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope, object_key
from server.registry.record import ResourceRecord
from server.watchcache import CachedObject, WatchCache

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def _phase(cached: CachedObject) -> str:
    return str((cached.obj.get("status") or {}).get("phase", "Active"))


def _terminating(resource: ResourceRecord, name: str, place: str) -> Forbidden:
    return Forbidden(f'{resource.group_resource} "{name}" is forbidden: unable to create new content in '
                     f"{place} because it is being terminated",
                     details={"name": name, "group": resource.group, "kind": resource.plural})


class _Lookups:
    def __init__(self, *, catalogue: Catalogue, cache: WatchCache) -> None:
        self._cache = cache
        self._namespaces = catalogue.lookup("", "v1", "namespaces")
        self._tenants = catalogue.lookup("", "v1", "tenants")

    def _tenant(self, tenant: str) -> CachedObject | None:
        assert self._tenants is not None
        return self._cache.resource(self._tenants.key_segment).objects.get(
            object_key(self._tenants, Scope(tenant=""), tenant))

    def _namespace(self, scope: Scope) -> CachedObject | None:
        assert self._namespaces is not None
        return self._cache.resource(self._namespaces.key_segment).objects.get(
            object_key(self._namespaces, Scope(tenant=scope.tenant), scope.namespace))

    async def _found(self, look_up: Callable[[], CachedObject | None]) -> CachedObject | None:
        """``look_up()`` in the cache; on a miss, again once the cache caught up with the store.
        Upstream's NamespaceLifecycle falls back to a live read the same way: the namespace may
        have just been created through another API server."""
        found = look_up()
        if found is None and await self._cache.catch_up():
            found = look_up()
        return found


class TenantExists(_Lookups):
    """Arktos: a tenanted create needs its tenant, Active."""

    name = "TenantExists"

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return operation == "CREATE" and resource.tenanted and self._tenants is not None

    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None:
        tenant = request.scope.tenant
        cached = await self._found(lambda: self._tenant(tenant))
        if cached is None:
            raise NotFound.object("tenants", tenant)
        if _phase(cached) == "Terminating":
            # Worded as upstream's NamespaceLifecycle refusal, for the tenant.
            raise _terminating(request.resource, request.name, f"tenant {tenant}")
        return None


class NamespaceLifecycle(_Lookups):
    name = "NamespaceLifecycle"

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        if self._namespaces is None:
            return False
        if operation == "CREATE":
            return resource.namespaced
        return operation == "DELETE" and resource is self._namespaces

    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None:
        assert self._namespaces is not None
        if request.operation == "DELETE":
            self._check_immortal(request)
            return None
        scope = request.scope
        cached = await self._found(lambda: self._namespace(scope))
        if cached is None:
            raise NotFound.object("namespaces", scope.namespace)
        if "deletionTimestamp" in cached.obj["metadata"] or _phase(cached) == "Terminating":
            raise _terminating(request.resource, request.name, f"namespace {scope.namespace}")
        return None

    def _check_immortal(self, request: AdmissionRequest) -> None:
        """A tenant's default, kube-system and kube-public namespaces live as long as the tenant:
        they may go only once it is Terminating."""
        name = request.name
        if name not in IMMORTAL_NAMESPACES:
            return
        tenant = self._tenant(request.scope.tenant) if self._tenants is not None else None
        phase = "Active" if self._tenants is None else (_phase(tenant) if tenant is not None else "")
        if phase != "Terminating":
            raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                            details={"name": name, "kind": "namespaces"})
