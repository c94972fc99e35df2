"""The tenant lifecycle controller: initialise new tenants, empty and release deleted ones.

Arktos's ``pkg/controller/tenant`` (ARKTOS.md §2): tenant ``system`` must exist; every Active
tenant gets its default namespaces, ``admin-role``/``admin-role-binding`` (not tenant ``system``)
and ``default`` Network (`controllers.tenant_defaults`), re-created if someone deletes them; a
tenant being deleted (``deletionTimestamp`` set, phase Terminating) is emptied through discovery
(`controllers.tenant_cleanup`) and then released by removing finalizer ``arktos`` through the
``finalize`` subresource, after which the server deletes it. ``system`` is never released.

Keys are the tenant's `ObjectKey`; events on the tenant's own objects map to it too, so a deleted
default namespace or a half-emptied tenant is looked at again without polling.

Once every default object exists the controller sets the tenant's ``Initialized`` condition to
True (`apis.tenant_status`): ``kubectl wait --for=condition=Initialized tenant/NAME`` then returns
and the tenant's admin is authorised. A default object deleted later is re-created without
flipping the condition back (it says that initialisation happened, as a Pod's Initialized does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any

from apis.meta import now_rfc3339
from apis.tenant_status import CREATE_FAILED, DEFAULTS_CREATED, initialized_condition, with_condition
from apis.wire_types import Condition
from client.cache import ObjectKey, by_tenant
from client.controller import Controller, Requeue, Watch
from client.errors import AlreadyExists, ApiError, Conflict, NotFound
from client.informer_factory import InformerView
from client.resources import TENANTS
from controllers.registry import REGISTRY
from controllers.tenant_cleanup import TenantedResource, discover_tenanted_resources, sweep_tenant
from controllers.tenant_defaults import (
    CLUSTER_ROLE_BINDINGS_VIEW,
    CLUSTER_ROLES_VIEW,
    NAMESPACES_VIEW,
    NETWORKS_VIEW,
    SYSTEM_TENANT,
    TENANT_FINALIZER,
    DefaultObject,
    system_tenant,
    tenant_defaults,
)

log = logging.getLogger(__name__)

TENANTS_VIEW = InformerView(TENANTS)
# How soon a Terminating tenant is looked at again while objects are still going away.
_CLEANUP_RECHECK_S = 1.0
# Discovery changes rarely (CRDs); one answer serves every deletion for a while.
_DISCOVERY_TTL_S = 30.0


def owning_tenant(obj: dict[str, Any]) -> list[Hashable]:
    """Maps an object inside a tenant to the tenant's key."""
    tenant = (obj.get("metadata") or {}).get("tenant")
    return [tenant_key(str(tenant))] if tenant else []


def tenant_key(name: str) -> ObjectKey:
    return ObjectKey("", "", name)


def _tenant_watch(view: InformerView) -> Watch:
    return Watch(view, keys=owning_tenant, indexers={"tenant": by_tenant})


@REGISTRY.register
class TenantController(Controller):
    name = "tenant"
    workers = 2
    watches = (
        Watch(TENANTS_VIEW),
        _tenant_watch(NAMESPACES_VIEW),
        _tenant_watch(CLUSTER_ROLES_VIEW),
        _tenant_watch(CLUSTER_ROLE_BINDINGS_VIEW),
        _tenant_watch(NETWORKS_VIEW),
    )

    _discovered: list[TenantedResource] | None = None
    _discovered_at = 0.0

    async def start(self) -> None:
        """Tenant ``system`` must exist before anything else runs (Arktos creates it at start)."""
        if self.informer(TENANTS_VIEW).get(tenant_key(SYSTEM_TENANT)) is not None:
            return
        try:
            await self.client.create(TENANTS, system_tenant())
            log.info("created tenant %s", SYSTEM_TENANT)
        except AlreadyExists:
            pass

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        tenant = self.informer(TENANTS_VIEW).get(key)
        if tenant is None:
            return  # gone: nothing to initialise, nothing left to release
        metadata = tenant.get("metadata") or {}
        phase = (tenant.get("status") or {}).get("phase")
        if metadata.get("deletionTimestamp") or phase == "Terminating":
            await self._delete_contents_and_release(tenant)
        else:
            await self._ensure_defaults(tenant)

    async def _ensure_defaults(self, tenant: dict[str, Any]) -> None:
        """Creates whichever default object of the tenant the caches do not show, then marks the
        tenant Initialized (or not, saying which object could not be made)."""
        name = str(tenant["metadata"]["name"])
        defaults = tenant_defaults(name)
        for default in defaults:
            if self.informer(default.view).get(ObjectKey(name, "", default.name)) is None:
                try:
                    await self._create(name, default)
                except ApiError as e:
                    await self._set_initialized(tenant, initialized_condition(
                        False, reason=CREATE_FAILED, now=now_rfc3339(),
                        message=f"creating {default.view.resource.kind} {default.name}: {e}"))
                    raise
        made = ", ".join(f"{d.view.resource.kind} {d.name}" for d in defaults)
        await self._set_initialized(tenant, initialized_condition(
            True, reason=DEFAULTS_CREATED, message=f"created {made}", now=now_rfc3339()))

    async def _set_initialized(self, tenant: dict[str, Any], condition: Condition) -> None:
        """Writes the condition through ``tenants/{name}/status`` unless the tenant has it already."""
        status = tenant.get("status") or {}
        conditions = with_condition(status.get("conditions"), condition)
        if conditions is None:
            return
        body = {**tenant, "status": {**status, "conditions": conditions}}
        try:
            await self.client.update(TENANTS, body, subresource="status")
        except NotFound:
            return
        except Conflict as e:
            raise Requeue(0.1, f"tenant {tenant['metadata']['name']} changed while writing its status") from e
        log.info("tenant %s: %s=%s (%s)", tenant["metadata"]["name"], condition["type"], condition["status"],
                 condition["reason"])

    async def _create(self, tenant: str, default: DefaultObject) -> None:
        try:
            await self.client.create(default.view.resource, default.body, tenant=tenant)
            log.info("tenant %s: created %s %s", tenant, default.view.resource, default.name)
        except AlreadyExists:
            pass  # the cache lags the server: someone (or an earlier pass) made it already

    async def _delete_contents_and_release(self, tenant: dict[str, Any]) -> None:
        name = str(tenant["metadata"]["name"])
        if name == SYSTEM_TENANT:
            log.warning("tenant %s is marked for deletion; it is never released", name)
            return
        if TENANT_FINALIZER not in ((tenant.get("spec") or {}).get("finalizers") or []):
            return  # already released; the server finishes the deletion
        remaining = await sweep_tenant(self.client, name, await self._tenanted_resources())
        if remaining:
            raise Requeue(_CLEANUP_RECHECK_S, f"tenant {name}: {remaining} objects still present")
        await self._release(tenant)

    async def _release(self, tenant: dict[str, Any]) -> None:
        """Removes finalizer ``arktos`` through ``PUT /api/v1/tenants/{name}/finalize``."""
        name = str(tenant["metadata"]["name"])
        body = {**tenant, "spec": {**(tenant.get("spec") or {})}}
        body["spec"]["finalizers"] = [f for f in body["spec"].get("finalizers") or []
                                      if f != TENANT_FINALIZER]
        try:
            await self.client.update(TENANTS, body, subresource="finalize")
        except NotFound:
            return
        except Conflict as e:
            # The cache was behind the server: look again with the newer object.
            raise Requeue(0.1, f"tenant {name} changed while finalizing") from e
        log.info("tenant %s: emptied; finalizer %s removed", name, TENANT_FINALIZER)

    async def _tenanted_resources(self) -> list[TenantedResource]:
        now = time.monotonic()
        if self._discovered is None or now - self._discovered_at > _DISCOVERY_TTL_S:
            self._discovered = await discover_tenanted_resources(self.client)
            self._discovered_at = now
        return self._discovered
