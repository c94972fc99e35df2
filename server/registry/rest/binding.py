"""``pods/{name}/binding``: assign an unscheduled pod to a node (what the scheduler calls).

Upstream's BindingREST: the Binding's ``target.name`` becomes ``spec.nodeName`` and the pod gets
condition PodScheduled=True, in one write against the latest pod; a pod already assigned, or
being deleted, is a 409. The answer is a Success Status with code 201.
"""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError
from apis.meta import now_rfc3339
from server.errors import Conflict, Invalid
from server.registry.record import ResourceRecord
from server.registry.rest.interface import RestContext, RestRequest
from server.registry.rest.typed_bodies import BINDING, decoded_as
from server.registry.store import WriteOptions, WriteResult
from server.registry.strategy import Strategy


class _BindingStrategy(Strategy):
    """Binding writes spec.nodeName and the PodScheduled condition, nothing else."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """The mutation already made exactly the allowed change."""


class BindingREST:
    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store
        self._strategy = _BindingStrategy(record)

    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        binding = decoded_as(body, *BINDING)
        name = request.name
        node = (binding.get("target") or {}).get("name", "")
        if not node:
            raise Invalid.fields("Binding", name, [FieldError("FieldValueRequired", "target.name",
                                                              "Required value")])

        def mutate(pod: dict[str, Any]) -> dict[str, Any]:
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise Conflict(f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
            if "deletionTimestamp" in pod["metadata"]:
                raise Conflict(f"pod {name} is being deleted, cannot be assigned to a host")
            spec["nodeName"] = node
            conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])
                          if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now_rfc3339()})
            pod["status"]["conditions"] = conditions
            return pod

        await self._store.guaranteed_update(request.resource, request.scope, name, mutate, options=options,
                                            strategy=self._strategy, trusted=True)
        return WriteResult({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "code": 201}, 201)
