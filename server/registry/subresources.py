"""The subresources that are views or actions on their parent: ``scale``, ``binding``, ``eviction``.

``scale`` presents an ``autoscaling/v1`` Scale of a workload and writes back only
``spec.replicas``; ``binding`` assigns an unscheduled pod to a node (what the scheduler calls);
``eviction`` deletes a pod unless a PodDisruptionBudget forbids it (upstream answers 429).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apis.catalogue import Catalogue, Resource
from apis.field_errors import FieldError
from apis.meta import now_rfc3339
from apis.selectors import SelectorError, label_selector_from_meta
from server.errors import BadRequest, Conflict, Invalid, TooManyRequests
from server.registry.keys import Scope, list_prefix
from server.registry.store import GenericStore, WriteOptions, WriteResult
from server.registry.strategy import Strategy
from server.watchcache import WatchCache

ScaleChange = Callable[[dict[str, Any]], dict[str, Any]]


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


async def update_scale(store: GenericStore, resource: Resource, scope: Scope, name: str,
                       change: ScaleChange, options: WriteOptions) -> dict[str, Any]:
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


class _BindingStrategy(Strategy):
    """Binding writes spec.nodeName and the PodScheduled condition, nothing else."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """The mutation already made exactly the allowed change."""


_BINDING_STRATEGIES: dict[Resource, _BindingStrategy] = {}


async def bind_pod(store: GenericStore, pods: Resource, scope: Scope, name: str,
                   binding: Any, options: WriteOptions) -> WriteResult:
    if not isinstance(binding, dict):
        raise BadRequest("the body must be a Binding object")
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

    await store.guaranteed_update(pods, scope, name, mutate, options=options,
                                  strategy=_BINDING_STRATEGIES.setdefault(pods, _BindingStrategy(pods)),
                                  trusted=True)
    return WriteResult({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "code": 201}, 201)


async def evict_pod(store: GenericStore, cache: WatchCache, catalogue: Catalogue, pods: Resource,
                    scope: Scope, name: str, eviction: Any, options: WriteOptions) -> WriteResult:
    if not isinstance(eviction, dict):
        raise BadRequest("the body must be an Eviction object")
    pod = store.get(pods, scope, name).obj
    labels = pod["metadata"].get("labels") or {}
    budgets = catalogue.lookup("policy", "v1", "poddisruptionbudgets")
    if budgets is not None and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
        for cached in cache.resource(budgets.key_segment).snapshot(list_prefix(budgets, scope)):
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
    await store.delete(pods, scope, name, eviction.get("deleteOptions") or {}, options)
    return WriteResult({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "code": 201}, 201)
