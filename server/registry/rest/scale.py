"""``*/scale``: an ``autoscaling/v1`` Scale view of a workload that writes back only ``spec.replicas``
(upstream's ScaleREST of deployments, replicasets, statefulsets and replicationcontrollers)."""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError
from server.errors import BadRequest, Conflict, Invalid
from server.registry.keys import Scope
from server.registry.record import ResourceRecord
from server.registry.rest.interface import Mutation, RestContext, RestRequest
from server.registry.rest.typed_bodies import SCALE, decoded_as
from server.registry.store import GenericStore, WriteOptions, WriteResult


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a workload object."""
    metadata = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = spec.get("selector") or {}
    if "matchLabels" in selector or "matchExpressions" in selector:
        selector_text = _selector_text(selector)
    else:  # replicationcontrollers: a plain map
        selector_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    scale_meta = {k: metadata[k] for k in ("name", "namespace", "tenant", "uid", "resourceVersion",
                                           "creationTimestamp") if k in metadata}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
        "spec": {"replicas": int(spec.get("replicas", 0))},
        "status": {"replicas": int(status.get("replicas", 0)), "selector": selector_text},
    }


def _selector_text(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


async def update_scale(store: GenericStore, resource: ResourceRecord, scope: Scope, name: str,
                       change: Mutation, options: WriteOptions) -> dict[str, Any]:
    """Apply ``change`` (current Scale -> desired Scale) to the workload's replicas."""

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        desired = change(scale_of(current))
        if not isinstance(desired, dict):
            raise BadRequest("the body must be a Scale object")
        replicas = (desired.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise Invalid.fields("Scale", name, [FieldError(
                "FieldValueInvalid", "spec.replicas",
                f"Invalid value: {replicas}: must be greater than or equal to 0")], "autoscaling")
        pinned = (desired.get("metadata") or {}).get("resourceVersion")
        if pinned and pinned != current["metadata"]["resourceVersion"]:
            raise Conflict.modified(resource.plural, name, resource.group)
        current.setdefault("spec", {})["replicas"] = replicas
        current["metadata"].pop("resourceVersion", None)
        return current

    result = await store.guaranteed_update(resource, scope, name, mutate, options=options)
    return scale_of(result.obj)


class ScaleREST:
    """get, update and patch of ``{workload}/{name}/scale``."""

    patch_definition = SCALE[2]
    server_side_apply = False

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store

    def get(self, request: RestRequest) -> dict[str, Any]:
        return scale_of(self._store.get(request.resource, request.scope, request.name).obj)

    async def update(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        scale = decoded_as(body, *SCALE)
        return WriteResult(await update_scale(self._store, request.resource, request.scope, request.name,
                                              lambda _current: scale, options))

    async def patch(self, request: RestRequest, apply: Mutation, options: WriteOptions) -> WriteResult:
        return WriteResult(await update_scale(self._store, request.resource, request.scope, request.name,
                                              lambda current: decoded_as(apply(current), *SCALE), options))
