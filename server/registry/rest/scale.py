"""``*/scale``: an ``autoscaling/v1`` Scale view of a workload that writes back only ``spec.replicas``
(upstream's ScaleREST of deployments, replicasets, statefulsets and replicationcontrollers)."""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError
from apis.selectors import label_selector_from_meta, label_selector_from_set
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
    # upstream: LabelSelectorAsSelector(...).String(); replicationcontrollers' plain map:
    # SelectorFromSet(...).String(). The selector was validated when the workload was written.
    if "matchLabels" in selector or "matchExpressions" in selector:
        selector_text = str(label_selector_from_meta(selector))
    else:
        selector_text = str(label_selector_from_set(selector))
    scale_meta = {k: metadata[k] for k in ("name", "namespace", "tenant", "uid", "resourceVersion",
                                           "creationTimestamp") if k in metadata}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
        "spec": {"replicas": int(spec.get("replicas", 0))},
        "status": {"replicas": int(status.get("replicas", 0)), "selector": selector_text},
    }


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
