"""What a pod takes from its node: resource requests and host ports, as integers the placers add up.

Two components decide whether a pod fits a node and must agree to the unit: the scheduler, which
places pods (its NodeResourcesFit and NodePorts filters), and the kubelet, which admits them before
they start (upstream's ``lifecycle.predicateAdmitHandler``, which calls the scheduler's own
``AdmissionCheck``) — with tenant partitions each TP's scheduler sees only its own pods, so the
kubelet's admission over the pods of every TP is the backstop. Upstream keeps these rules in one
place (``k8s.io/component-helpers/resource.PodRequests``, the scheduler's
``computePodResourceRequest``); here they are:

- amounts are exact integers: CPU in millicores, everything else (memory, ephemeral-storage,
  extended resources, hugepages) in whole units, rounded up as ``Quantity.MilliValue``/``Value``;
  a malformed quantity counts as zero (the API server validated the object; a placer must not crash);
- a pod requests the sum over its app containers, raised to any larger single init container
  (restartable "sidecar" init containers add to the sum and to what later init containers see),
  plus ``spec.overhead``; a container without a request for a resource it limits requests the limit
  (the API's defaulting); an Arktos VM pod (``spec.virtualMachine``, ARKTOS.md §4) is sized from the
  VM's own resources;
- "non-zero" requests (100m CPU, 200 MiB memory for a container that names none) are what scores use;
- two host-port claims conflict when protocol and port are equal and their host IPs are equal or
  either is the wildcard ``0.0.0.0``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apis.quantity import QuantityError, parse_quantity

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
BASE_RESOURCES = (CPU, MEMORY, EPHEMERAL_STORAGE)
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
WILDCARD_IP = "0.0.0.0"

HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)


@lru_cache(maxsize=4096)
def _parsed(text: str, milli: bool) -> int:
    try:
        quantity = parse_quantity(text)
    except QuantityError:
        return 0
    return quantity.milli_value if milli else quantity.integer_value


def amount(resource: str, value: object) -> int:
    """``value`` of ``resource`` in the unit placers account it in (millicores for cpu)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return 0
    return _parsed(value if isinstance(value, str) else str(value), resource == CPU)


def is_extended_resource(name: str) -> bool:
    """upstream ``IsExtendedResourceName``: a domain-prefixed name (not a native one: no ``/``, or a
    ``kubernetes.io/`` one) that is not a quota name (``requests.*``)."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


@dataclass(frozen=True, slots=True)
class PodRequests:
    """What a pod requests (zero amounts left out) and its non-zero cpu/memory for scoring."""

    amounts: Mapping[str, int]
    nonzero_cpu: int
    nonzero_memory: int


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = dict(resources.get("requests") or {})
    for name, value in (resources.get("limits") or {}).items():
        requests.setdefault(name, value)  # API defaulting: requests default to limits
    return {str(name): amount(str(name), value) for name, value in requests.items()}


def _add(total: dict[str, int], extra: Mapping[str, int]) -> None:
    for name, value in extra.items():
        total[name] = total.get(name, 0) + value


def pod_requests(spec: Mapping[str, Any]) -> PodRequests:
    """The requests of a pod with ``spec``, per upstream's pod request rules."""
    total: dict[str, int] = {}
    nonzero_cpu = nonzero_memory = 0
    vm = spec.get("virtualMachine")
    containers = [vm] if isinstance(vm, dict) else list(spec.get("containers") or [])
    for container in containers:
        requests = _container_requests(container)
        _add(total, requests)
        nonzero_cpu += requests.get(CPU) or DEFAULT_MILLI_CPU_REQUEST
        nonzero_memory += requests.get(MEMORY) or DEFAULT_MEMORY_REQUEST
    sidecars: dict[str, int] = {}
    for init in spec.get("initContainers") or []:
        requests = _container_requests(init)
        if init.get("restartPolicy") == "Always":  # a sidecar keeps running next to the app
            _add(total, requests)
            _add(sidecars, requests)
            continue
        for name, value in requests.items():
            total[name] = max(total.get(name, 0), value + sidecars.get(name, 0))
    for name, value in (spec.get("overhead") or {}).items():
        total[str(name)] = total.get(str(name), 0) + amount(str(name), value)
    # The pod itself is counted by the fit check (one of ``allocatable.pods``), not as a request.
    return PodRequests({k: v for k, v in total.items() if v and k != PODS}, nonzero_cpu, nonzero_memory)


def host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    """The (hostIP, protocol, hostPort) claims of every container and init container."""
    ports = []
    for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                ports.append((str(port.get("hostIP") or WILDCARD_IP), str(port.get("protocol") or "TCP"),
                              host_port))
    return tuple(ports)


def port_conflict(used: Mapping[tuple[str, int], Collection[str]], ip: str, protocol: str, port: int) -> bool:
    """Whether claiming ``ip:port/protocol`` conflicts with ``used`` ((protocol, port) → host IPs)."""
    ips = used.get((protocol, port))
    if not ips:
        return False
    return ip == WILDCARD_IP or WILDCARD_IP in ips or ip in ips
