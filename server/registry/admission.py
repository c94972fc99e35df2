"""Admission checks the generic store runs on every write, after validation.

Upstream runs these as admission plugins; we keep the ones every cluster needs:
NamespaceLifecycle (no new objects in a missing or terminating namespace) and Arktos's
TenantExists (no objects in a missing or terminating tenant), SystemDaemonSet, the protection
of a tenant's default namespaces, PodSecurity (`server.registry.pod_security`) and ResourceQuota.
Plugins that need more than the cache (RBAC escalation prevention needs the authorizer) are handed
in as `AdmissionPlugin`s. A plugin refuses a write by raising an `ApiError`; an admitted write may
carry warnings (``Warning`` headers) and audit annotations. Namespaces are emptied by the namespace
controller, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from apis.catalogue import Catalogue, Resource
from server.auth.user import UserInfo
from server.errors import Forbidden, NotFound
from server.registry.admission_plugin import AdmissionPlugin, AdmissionRequest, AdmissionResult
from server.registry.keys import SYSTEM_TENANT, Scope, object_key
from server.registry.kinds import IMMORTAL_NAMESPACES
from server.registry.pod_security import PodSecurityAdmission
from server.registry.quota import QuotaAdmission
from server.watchcache import WatchCache

log = logging.getLogger(__name__)


class Admission:
    def __init__(self, *, catalogue: Catalogue, cache: WatchCache,
                 plugins: Sequence[AdmissionPlugin] = ()) -> None:
        self._cache = cache
        self._quota = QuotaAdmission(catalogue=catalogue, cache=cache)
        self._namespaces = catalogue.lookup("", "v1", "namespaces")
        self._tenants = catalogue.lookup("", "v1", "tenants")
        # Upstream's order: PodSecurity, then the RBAC registry checks; quota comes last.
        self._plugins: tuple[AdmissionPlugin, ...] = (PodSecurityAdmission(catalogue=catalogue, cache=cache),
                                                      *plugins)

    async def admit_create(self, resource: Resource, scope: Scope, obj: dict[str, Any], *,
                           user: UserInfo | None = None) -> AdmissionResult:
        if resource.tenanted and self._tenants is not None:
            self._require_tenant(resource, scope.tenant, obj["metadata"].get("name", ""))
        if resource.namespaced and self._namespaces is not None:
            self._require_namespace(resource, scope, obj["metadata"].get("name", ""))
        if resource.group == "apps" and resource.plural == "daemonsets" and scope.tenant != SYSTEM_TENANT:
            # Arktos's SystemDaemonSet admission: daemons run on every node, for every tenant.
            raise Forbidden(f'daemonsets.apps "{obj["metadata"].get("name", "")}" is forbidden: only '
                            "the system tenant may create DaemonSets",
                            details={"name": obj["metadata"].get("name", ""), "group": "apps",
                                     "kind": "daemonsets"})
        result = self._run_plugins(AdmissionRequest("CREATE", resource, scope, obj, user=user))
        self._quota.admit_create(resource, scope, obj)
        return result

    async def admit_update(self, resource: Resource, scope: Scope, obj: dict[str, Any], old: dict[str, Any],
                           *, subresource: str = "", user: UserInfo | None = None) -> AdmissionResult:
        return self._run_plugins(AdmissionRequest("UPDATE", resource, scope, obj, old, subresource, user))

    def _run_plugins(self, request: AdmissionRequest) -> AdmissionResult:
        result = AdmissionResult()
        for plugin in self._plugins:
            if plugin.handles(request.resource):
                result.add(plugin.validate(request))
        return result

    async def admit_delete(self, resource: Resource, scope: Scope, obj: dict[str, Any]) -> None:
        """A tenant's default, kube-system and kube-public namespaces live as long as the tenant:
        they may go only once it is Terminating (upstream: immortal namespaces)."""
        if resource is not self._namespaces:
            return
        name = obj["metadata"].get("name", "")
        if name in IMMORTAL_NAMESPACES and self._tenant_phase(scope.tenant) != "Terminating":
            raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                            details={"name": name, "kind": "namespaces"})

    def _tenant_phase(self, tenant: str) -> str:
        if self._tenants is None:
            return "Active"
        cached = self._cache.resource(self._tenants.key_segment).objects.get(
            object_key(self._tenants, Scope(tenant=""), tenant))
        if cached is None:
            return ""
        return str((cached.obj.get("status") or {}).get("phase", "Active"))

    def _require_tenant(self, resource: Resource, tenant: str, name: str) -> None:
        assert self._tenants is not None
        cached = self._cache.resource(self._tenants.key_segment).objects.get(
            object_key(self._tenants, Scope(tenant=""), tenant))
        if cached is None:
            raise NotFound.object("tenants", tenant)
        if (cached.obj.get("status") or {}).get("phase") == "Terminating":
            # Worded as upstream's NamespaceLifecycle refusal, for the tenant.
            raise Forbidden(f'{resource.group_resource} "{name}" is forbidden: unable to create new '
                            f"content in tenant {tenant} because it is being terminated",
                            details={"name": name, "group": resource.group, "kind": resource.plural})

    def _require_namespace(self, resource: Resource, scope: Scope, name: str) -> None:
        assert self._namespaces is not None
        key = object_key(self._namespaces, Scope(tenant=scope.tenant), scope.namespace)
        cached = self._cache.resource(self._namespaces.key_segment).objects.get(key)
        if cached is None:
            raise NotFound.object("namespaces", scope.namespace)
        metadata = cached.obj["metadata"]
        if "deletionTimestamp" in metadata or (cached.obj.get("status") or {}).get("phase") == "Terminating":
            raise Forbidden(
                f'{resource.group_resource} "{name}" is forbidden: unable to create new '
                f"content in namespace {scope.namespace} because it is being terminated",
                details={"name": name, "group": resource.group, "kind": resource.plural})

    async def after_delete(self, resource: Resource, obj: dict[str, Any]) -> None:
        """Nothing yet: the hook exists for admission plugins that track deletions."""
