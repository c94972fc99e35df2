"""ResourceQuota admission: refuse a create that would take a namespace over its quota.

Upstream's quota admission plugin charges the request against ``status.used`` and writes the new
usage back. Every object is in the watch cache here, so usage is counted from the cache itself
at admission time — exact, with no status write on the request path — while the resourcequota
controller keeps ``status.used`` current for people to read. Two creates racing for the last unit
may both pass (one event loop, but the check and the store write are apart); upstream closes
that with its optimistic status update.
"""

from __future__ import annotations

from typing import Any

from apis.catalogue import Resource
from apis.quantity import Quantity
from apis.quota import (
    add_usage,
    check,
    exceeded_message,
    group_resource,
    matches_scopes,
    missing_constraints,
    parse_resource_list,
    usage_of,
)
from server.errors import Forbidden
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope, list_prefix
from server.registry.record import ResourceRecord
from server.watchcache import WatchCache


class ResourceQuota:
    """Upstream's ResourceQuota plugin, last in the chain: creates of namespaced resources."""

    name = "ResourceQuota"

    def __init__(self, *, catalogue: Catalogue, cache: WatchCache) -> None:
        self._cache = cache
        self._quotas = catalogue.lookup("", "v1", "resourcequotas")

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return operation == "CREATE" and resource.namespaced and self._quotas is not None

    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        self._check(request.resource, request.scope, request.obj)
        return None

    def _check(self, resource: Resource, scope: Scope, obj: dict[str, Any]) -> None:
        assert self._quotas is not None
        quotas = self._cache.resource(self._quotas.key_segment).snapshot(list_prefix(self._quotas, scope))
        if not quotas:
            return
        name = obj["metadata"].get("name", "")
        counted_as = group_resource(resource.group, resource.plural)
        for cached in quotas:
            quota = cached.obj
            spec = quota.get("spec") or {}
            if not matches_scopes(spec, counted_as, obj):
                continue
            hard = parse_resource_list(spec.get("hard") or {})
            delta = usage_of(counted_as, obj)
            quota_name = quota["metadata"]["name"]
            if counted_as == "pods":
                missing = missing_constraints(hard, delta)
                if missing:
                    raise self._refusal(resource, name, f"failed quota: {quota_name}: must specify "
                                                        f"{','.join(missing)}")
            if not any(resource_name in hard for resource_name in delta):
                continue
            used = self._used(resource, scope, counted_as, spec)
            exceeded = check(hard, used, delta)
            if exceeded:
                raise self._refusal(resource, name, exceeded_message(
                    quota_name, exceeded, requested=delta, used=used, hard=hard))

    def _used(self, resource: Resource, scope: Scope, counted_as: str,
              spec: dict[str, Any]) -> dict[str, Quantity]:
        total: dict[str, Quantity] = {}
        for cached in self._cache.resource(resource.key_segment).snapshot(list_prefix(resource, scope)):
            if matches_scopes(spec, counted_as, cached.obj):
                add_usage(total, usage_of(counted_as, cached.obj))
        return total

    @staticmethod
    def _refusal(resource: Resource, name: str, reason: str) -> Forbidden:
        return Forbidden(f'{resource.group_resource} "{name}" is forbidden: {reason}',
                         details={"name": name, "group": resource.group, "kind": resource.plural})
