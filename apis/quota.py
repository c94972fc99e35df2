"""What an object costs against a ResourceQuota, and whether a quota would be exceeded.

Shared by the resourcequota controller (which sums usage into ``status.used``) and the API
server's quota admission (which refuses a create that would go over ``spec.hard``), so both read
the same resource names the same way — upstream keeps these evaluators in
``pkg/quota/v1/evaluator/core`` for the same reason. Names understood:
- object counts: ``count/<plural>`` / ``count/<plural>.<group>`` for any resource, plus the legacy
  names ``pods services replicationcontrollers resourcequotas secrets configmaps
  persistentvolumeclaims`` and ``services.loadbalancers`` / ``services.nodeports``;
- pod compute: ``requests.<r>``/``limits.<r>`` for cpu, memory, ephemeral-storage, hugepages and
  extended resources, with ``cpu``/``memory``/``ephemeral-storage`` meaning the request;
- claims: ``requests.storage`` and ``<class>.storageclass.storage.k8s.io/{requests.storage,
  persistentvolumeclaims}``.
Terminal pods cost nothing (upstream's ``QuotaV1Pod``). Scopes: Terminating, NotTerminating,
BestEffort, NotBestEffort and scopeSelector on PriorityClass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apis.quantity import ZERO, Quantity, QuantityError, parse_quantity

# Upstream's legacy object-count names and the resource each one counts.
LEGACY_COUNT_NAMES: dict[str, str] = {
    "pods": "pods", "services": "services", "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas", "secrets": "secrets", "configmaps": "configmaps",
    "persistentvolumeclaims": "persistentvolumeclaims",
}
_POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
_ONE = Quantity.of(1)


def group_resource(group: str, plural: str) -> str:
    """``pods`` for the core group, ``deployments.apps`` otherwise (what ``count/`` names)."""
    return f"{plural}.{group}" if group else plural


def usage_of(resource: str, obj: dict[str, Any]) -> dict[str, Quantity]:
    """What one object of ``resource`` (a `group_resource` name) uses, by quota resource name."""
    usage: dict[str, Quantity] = {}
    if resource == "pods" and not pod_counts(obj):
        return usage
    usage[f"count/{resource}"] = _ONE
    if resource in LEGACY_COUNT_NAMES:
        usage[resource] = _ONE
    if resource == "pods":
        usage.update(_pod_compute(obj))
    elif resource == "services":
        usage.update(_service_usage(obj))
    elif resource == "persistentvolumeclaims":
        usage.update(_claim_usage(obj))
    return usage


def pod_counts(pod: dict[str, Any]) -> bool:
    """Upstream's ``QuotaV1Pod``: terminal pods and pods whose grace period ran out are free."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return False
    metadata = pod.get("metadata") or {}
    return not (metadata.get("deletionTimestamp") and metadata.get("deletionGracePeriodSeconds") == 0)


def _pod_compute(pod: dict[str, Any]) -> dict[str, Quantity]:
    spec = pod.get("spec") or {}
    requests = _pod_amounts(spec, "requests")
    limits = _pod_amounts(spec, "limits")
    usage: dict[str, Quantity] = {}
    for name, amount in requests.items():
        usage[f"requests.{name}"] = amount
        if name in _POD_COMPUTE:
            usage[name] = amount
    for name, amount in limits.items():
        usage[f"limits.{name}"] = amount
    return usage


def _pod_amounts(spec: dict[str, Any], kind: str) -> dict[str, Quantity]:
    """Upstream's ``PodRequests``/``PodLimits``: the larger of the app containers' sum and any
    single init container, plus the pod overhead. A missing request defaults to the limit, as the
    API's defaulting of containers does."""
    total: dict[str, Quantity] = {}
    for container in spec.get("containers") or []:
        for name, amount in _container_amounts(container, kind).items():
            total[name] = total.get(name, ZERO) + amount
    for container in spec.get("initContainers") or []:
        for name, amount in _container_amounts(container, kind).items():
            if amount > total.get(name, ZERO):
                total[name] = amount
    for name, raw in (spec.get("overhead") or {}).items():
        if name in total:
            total[name] = total[name] + parse_quantity(raw)
    return total


def _container_amounts(container: dict[str, Any], kind: str) -> dict[str, Quantity]:
    resources = container.get("resources") or {}
    raw = dict(resources.get(kind) or {})
    if kind == "requests":
        for name, limit in (resources.get("limits") or {}).items():
            raw.setdefault(name, limit)
    return {name: parse_quantity(value) for name, value in raw.items()}


def _service_usage(service: dict[str, Any]) -> dict[str, Quantity]:
    spec = service.get("spec") or {}
    service_type = spec.get("type") or "ClusterIP"
    usage: dict[str, Quantity] = {}
    if service_type == "LoadBalancer":
        usage["services.loadbalancers"] = _ONE
    if service_type in ("NodePort", "LoadBalancer"):
        usage["services.nodeports"] = Quantity.of(len(spec.get("ports") or []))
    return usage


def _claim_usage(claim: dict[str, Any]) -> dict[str, Quantity]:
    spec = claim.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    usage: dict[str, Quantity] = {}
    storage_class = spec.get("storageClassName")
    if storage is not None:
        usage["requests.storage"] = parse_quantity(storage)
    if storage_class:
        usage[f"{storage_class}{_STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
        if storage is not None:
            usage[f"{storage_class}{_STORAGE_CLASS_SUFFIX}requests.storage"] = parse_quantity(storage)
    return usage


def matches_scopes(quota_spec: dict[str, Any], resource: str, obj: dict[str, Any]) -> bool:
    """Whether a quota with ``quota_spec``'s scopes tracks ``obj`` at all (scopes are pod-only:
    a scoped quota ignores every other resource, as upstream's evaluators do)."""
    scopes = list(quota_spec.get("scopes") or [])
    expressions = list((quota_spec.get("scopeSelector") or {}).get("matchExpressions") or [])
    if not scopes and not expressions:
        return True
    if resource != "pods":
        return False
    spec = obj.get("spec") or {}
    checks = {
        "Terminating": lambda: spec.get("activeDeadlineSeconds") is not None,
        "NotTerminating": lambda: spec.get("activeDeadlineSeconds") is None,
        "BestEffort": lambda: _best_effort(spec),
        "NotBestEffort": lambda: not _best_effort(spec),
    }
    for scope in scopes:
        check = checks.get(scope)
        if check is None or not check():
            return False
    return all(_scope_expression_matches(e, spec, checks) for e in expressions)


def _scope_expression_matches(expression: dict[str, Any], spec: dict[str, Any],
                              checks: Mapping[str, Any]) -> bool:
    scope, operator = expression.get("scopeName"), expression.get("operator")
    values = list(expression.get("values") or [])
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        return {"In": name in values, "NotIn": name not in values,
                "Exists": bool(name), "DoesNotExist": not name}.get(str(operator), False)
    check = checks.get(str(scope))
    return bool(check is not None and operator == "Exists" and check())


def _best_effort(spec: dict[str, Any]) -> bool:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    return all(not (c.get("resources") or {}).get("requests") and not (c.get("resources") or {}).get("limits")
               for c in containers)


def add_usage(total: dict[str, Quantity], usage: Mapping[str, Quantity]) -> None:
    for name, amount in usage.items():
        total[name] = total.get(name, ZERO) + amount


def parse_resource_list(raw: Mapping[str, Any]) -> dict[str, Quantity]:
    """A ``ResourceList`` (``{"pods": "10", "requests.cpu": "2"}``) as quantities; entries that do
    not parse are skipped (validation refuses them before they get here)."""
    parsed: dict[str, Quantity] = {}
    for name, value in raw.items():
        try:
            parsed[name] = parse_quantity(value)
        except QuantityError:
            continue
    return parsed


def check(hard: Mapping[str, Quantity], used: Mapping[str, Quantity],
          delta: Mapping[str, Quantity]) -> list[str]:
    """The resource names (sorted) that ``used + delta`` would take over ``hard``. Only names the
    quota limits and the delta increases count, as upstream's admission ``CheckRequest``."""
    exceeded = []
    for name in sorted(delta):
        if name not in hard or delta[name].value <= 0:
            continue
        if used.get(name, ZERO) + delta[name] > hard[name]:
            exceeded.append(name)
    return exceeded


def missing_constraints(hard: Mapping[str, Quantity], usage: Mapping[str, Quantity]) -> list[str]:
    """Compute resources a quota limits that a new pod does not state (upstream refuses such a
    pod: ``failed quota: <name>: must specify limits.cpu,requests.cpu``)."""
    constrained = [n for n in hard if n.startswith(("requests.", "limits.")) or n in _POD_COMPUTE]
    wanted = {n if "." in n else f"requests.{n}" for n in constrained
              if n.split(".", 1)[-1] in _POD_COMPUTE or n in _POD_COMPUTE}
    return sorted(n for n in wanted if n not in usage)


def exceeded_message(quota_name: str, exceeded: Iterable[str], *, requested: Mapping[str, Quantity],
                     used: Mapping[str, Quantity], hard: Mapping[str, Quantity]) -> str:
    """Upstream's text after ``<kind> "<name>" is forbidden: ``."""
    names = sorted(exceeded)

    def listed(values: Mapping[str, Quantity]) -> str:
        return ",".join(f"{n}={values.get(n, ZERO)}" for n in names)

    return (f"exceeded quota: {quota_name}, requested: {listed(requested)}, "
            f"used: {listed(used)}, limited: {listed(hard)}")
