"""The downward API: a pod's own fields and a container's resources as strings.

Shared by env vars (``valueFrom.fieldRef``/``resourceFieldRef``) and ``downwardAPI`` volume items,
which upstream serves from the same helpers (``podFieldSelectorRuntimeValue`` +
``fieldpath.ExtractFieldPathAsString``, and ``resource.ExtractContainerResourceValue``). Limits a
container does not set are reported as the node's allocatable, as upstream's
``defaultPodLimitsForDownwardAPI`` does; values are divided by the divisor and rounded *up*.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from apis.quantity import Quantity, QuantityError, parse_quantity

_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})


class DownwardApiError(ValueError):
    """An unsupported field path or resource; the text is upstream's."""


def format_map(values: Mapping[str, Any]) -> str:
    """``key="value"`` lines in key order (upstream ``fieldpath.FormatMap``, Go's %q quoting)."""
    return "\n".join(f"{key}={json.dumps(str(values[key]), ensure_ascii=False)}" for key in sorted(values))


def _split_subscript(path: str) -> tuple[str, str] | None:
    """``metadata.labels['app']`` → (``metadata.labels``, ``app``)."""
    if not path.endswith("']"):
        return None
    opening = path.find("['")
    if opening < 0:
        return None
    return path[:opening], path[opening + 2:-2]


def field_value(pod: dict[str, Any], path: str, *, host_ip: str = "", pod_ip: str = "",
                pod_ips: tuple[str, ...] = ()) -> str:
    """The value of ``fieldRef.fieldPath`` for ``pod``; raises `DownwardApiError` otherwise."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    subscripted = _split_subscript(path)
    if subscripted is not None:
        base, key = subscripted
        if base == "metadata.labels":
            return str(labels.get(key, ""))
        if base == "metadata.annotations":
            return str(annotations.get(key, ""))
        raise DownwardApiError(f'fieldPath "{path}" does not support subscript')
    ips = pod_ips or ((pod_ip,) if pod_ip else ())
    simple: dict[str, Any] = {
        "metadata.name": metadata.get("name", ""), "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        # Arktos adds the tenant to the downward API alongside the namespace.
        "metadata.tenant": metadata.get("tenant") or "system",
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip, "status.hostIPs": host_ip,
        "status.podIP": pod_ip, "status.podIPs": ",".join(ips),
    }
    if path in simple:
        return str(simple[path] or "")
    if path == "metadata.labels":
        return format_map(labels)
    if path == "metadata.annotations":
        return format_map(annotations)
    raise DownwardApiError(f"unsupported fieldPath: {path}")


def _quantity(value: Any) -> Quantity | None:
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


def effective_resources(container: dict[str, Any],
                        allocatable: Mapping[str, str]) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """(limits, requests) with missing limits set to the node's allocatable and missing requests
    to the limit (API defaulting copies limits to unset requests)."""
    resources = container.get("resources") or {}
    limits = {k: q for k, v in (resources.get("limits") or {}).items() if (q := _quantity(v)) is not None}
    requests = {k: q for k, v in (resources.get("requests") or {}).items() if (q := _quantity(v)) is not None}
    for name in _RESOURCES:
        if name in limits and name not in requests:
            requests[name] = limits[name]
        if name not in limits and name in allocatable:
            node = _quantity(allocatable[name])
            if node is not None:
                limits[name] = node
    return limits, requests


def resource_value(container: dict[str, Any], resource: str, divisor: Any, *,
                   allocatable: Mapping[str, str]) -> str:
    """``resourceFieldRef``: ``limits.cpu`` etc. divided by ``divisor`` (default 1), rounded up;
    cpu in millis as upstream's ``convertResourceCPUToString``."""
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in _RESOURCES:
        raise DownwardApiError(f"unsupported container resource : {resource}")
    limits, requests = effective_resources(container, allocatable)
    amount = (limits if kind == "limits" else requests).get(name, Quantity.of(0))
    by = _quantity(divisor) if divisor not in (None, "", 0, "0") else None
    if by is None or by.value == 0:
        by = Quantity.of(1)
    if name == "cpu":
        return str(math.ceil(amount.milli_value / by.milli_value))
    return str(math.ceil(amount.integer_value / by.integer_value))
