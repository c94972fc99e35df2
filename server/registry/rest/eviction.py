"""``pods/{name}/eviction``: delete a pod unless a PodDisruptionBudget forbids it.

Upstream's EvictionREST: the Eviction's DeleteOptions are checked as a delete's (422) and their
dryRun honoured; a pod that is not finished and is selected by a budget without disruptions left
is refused with 429 (the client retries); otherwise the pod is deleted as a DELETE would, and the
answer is a Success Status with code 201.
"""

from __future__ import annotations

from typing import Any

from apis.selectors import SelectorError, label_selector_from_meta
from server.errors import Invalid, TooManyRequests
from server.registry.keys import Scope, list_prefix
from server.registry.options import delete_options_errors
from server.registry.record import ResourceRecord
from server.registry.rest.interface import RestContext, RestRequest
from server.registry.rest.typed_bodies import EVICTION, decoded_as
from server.registry.store import WriteOptions, WriteResult


class EvictionREST:
    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store
        self._cache = context.cache
        self._catalogue = context.catalogue

    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        eviction = decoded_as(body, *EVICTION)
        deletion = eviction.get("deleteOptions") or {}
        errors = delete_options_errors(deletion)
        if errors:
            raise Invalid.options("DeleteOptions", errors)
        options = WriteOptions(dry_run=options.dry_run or bool(deletion.get("dryRun")),
                               field_validation=options.field_validation, user=options.user)
        pod = self._store.get(request.resource, request.scope, request.name).obj
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            self._check_budgets(request.scope, pod["metadata"].get("labels") or {})
        await self._store.delete(request.resource, request.scope, request.name, deletion, options)
        return WriteResult({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "code": 201}, 201)

    def _check_budgets(self, scope: Scope, labels: dict[str, str]) -> None:
        budgets = self._catalogue.lookup("policy", "v1", "poddisruptionbudgets")
        if budgets is None:
            return
        for cached in self._cache.resource(budgets.key_segment).snapshot(list_prefix(budgets, scope)):
            spec, status = cached.obj.get("spec") or {}, cached.obj.get("status") or {}
            try:
                selector = label_selector_from_meta(spec.get("selector") or {})
            except SelectorError:
                continue
            if selector.empty or not selector.matches(labels):
                continue
            if int(status.get("disruptionsAllowed", 0)) <= 0:
                raise TooManyRequests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    details={"causes": [{"reason": "DisruptionBudget", "message":
                             f"The disruption budget {cached.obj['metadata']['name']} needs "
                             f"{status.get('desiredHealthy', 0)} healthy pods and has "
                             f"{status.get('currentHealthy', 0)} currently"}]})
