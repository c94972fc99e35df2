"""Registering the Node and keeping its status true: capacity, nodeInfo, addresses, conditions.

Upstream's kubelet (``kubelet_node_status.go``) creates its Node with labels
``kubernetes.io/hostname|os|arch`` and a full status, then every ``nodeStatusUpdateFrequency``
computes the status again and PATCHes ``nodes/{name}/status`` when anything but heartbeat times
changed, or at least every ``nodeStatusReportFrequency`` (5 min) since the Lease carries liveness.
Conditions: Ready (following the first container runtime, ARKTOS.md §5), MemoryPressure,
DiskPressure, PIDPressure, and Arktos's ``ContainerRuntimeReady`` / ``VmRuntimeReady`` from the
default runtime of each workload type (the scheduler places VM pods by the latter). Every Node it
reads or writes is handed to ``on_node`` (the node's pod admission, which reads labels, taints and
allocatable from it as upstream's kubelet reads its node lister).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from apis.meta import now_rfc3339
from apis.wire_types import Condition
from client.errors import AlreadyExists, ApiError
from client.resources import ResourceRef
from client.rest import ApiClient
from kubelet.config import KUBELET_VERSION
from kubelet.machine import MachineFacts, disk_available_fraction, memory_available_bytes
from kubelet.runtime import RuntimeHealth
from kubelet.runtimes import RuntimeRegistry

log = logging.getLogger(__name__)

NODES = ResourceRef("", "v1", "nodes", "Node")
KUBELET_PORT = 10250
# Upstream's default hard eviction thresholds: memory.available<100Mi, nodefs.available<10%.
_MEMORY_PRESSURE_BYTES = 100 << 20
_DISK_PRESSURE_FRACTION = 0.10


def node_labels(name: str, facts: MachineFacts) -> dict[str, str]:
    return {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": facts.architecture, "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": facts.architecture}


def capacity(facts: MachineFacts, max_pods: int) -> dict[str, str]:
    return {"cpu": str(facts.cpu), "memory": f"{facts.memory_bytes // 1024}Ki",
            "pods": str(max_pods), "ephemeral-storage": f"{facts.ephemeral_storage_bytes // 1024}Ki"}


def condition(kind: str, ok: bool, reason: str, message: str) -> Condition:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def node_conditions(*, ready: RuntimeHealth, container: RuntimeHealth | None,
                    vm: RuntimeHealth | None, memory_pressure: bool = False,
                    disk_pressure: bool = False) -> list[Condition]:
    """The conditions without times (times are added against the previous status)."""
    ready_message = ("kubelet is posting ready status" if ready.ready
                     else f"container runtime is down: {ready.reason} {ready.message}".strip())
    return [
        condition("Ready", ready.ready, "KubeletReady" if ready.ready else "KubeletNotReady", ready_message),
        condition("MemoryPressure", memory_pressure,
                  "KubeletHasInsufficientMemory" if memory_pressure else "KubeletHasSufficientMemory",
                  f"kubelet has {'insufficient' if memory_pressure else 'sufficient'} memory available"),
        condition("DiskPressure", disk_pressure,
                  "KubeletHasDiskPressure" if disk_pressure else "KubeletHasNoDiskPressure",
                  f"kubelet has {'' if disk_pressure else 'no '}disk pressure"),
        condition("PIDPressure", False, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        _runtime_condition("ContainerRuntimeReady", "container", container),
        _runtime_condition("VmRuntimeReady", "vm", vm),
    ]


def _runtime_condition(kind: str, workload: str, health: RuntimeHealth | None) -> Condition:
    if health is None:
        return condition(kind, False, f"No{workload.capitalize()}Runtime",
                         f"the node has no {workload} runtime endpoint")
    if health.ready:
        return condition(kind, True, f"{workload.capitalize()}RuntimeReady", f"{workload} runtime is ready")
    return condition(kind, False, health.reason or f"{workload.capitalize()}RuntimeNotReady",
                     health.message or f"{workload} runtime is not ready")


def with_times(conditions: list[Condition], previous: list[Condition]) -> list[Condition]:
    """Heartbeat now; lastTransitionTime kept while a condition's status does not change."""
    now = now_rfc3339()
    before = {c.get("type"): c for c in previous}
    timed: list[Condition] = []
    for cond in conditions:
        old = before.get(cond.get("type")) or Condition()
        kept = old.get("lastTransitionTime") if old.get("status") == cond.get("status") else None
        timed.append({**cond, "lastHeartbeatTime": now, "lastTransitionTime": kept or now})
    return timed


def _comparable(conditions: list[Condition]) -> list[tuple[Any, ...]]:
    return [(c.get("type"), c.get("status"), c.get("reason")) for c in conditions]


class NodeAgent:
    """Registration and status of one node (a hollow process runs one per hollow node)."""

    def __init__(self, client: ApiClient, *, name: str, registry: RuntimeRegistry, host_ip: str,
                 facts: MachineFacts, hollow: bool, max_pods: int = 110,
                 update_frequency_s: float = 10.0, report_frequency_s: float = 300.0,
                 on_node: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.client = client
        self.on_node = on_node
        self.name = name
        self.registry = registry
        self.host_ip = host_ip
        self.facts = facts
        self.hollow = hollow
        self.max_pods = max_pods
        self.update_frequency_s = update_frequency_s
        self.report_frequency_s = report_frequency_s
        self.uid = ""
        self.kubelet_port = KUBELET_PORT  # the streaming server's real port once it listens
        self.status_posts = 0
        self._last_conditions: list[Condition] = []
        self._last_report = 0.0

    async def current_conditions(self) -> list[Condition]:
        container = self.registry.default("container")
        vm = self.registry.default("vm")
        return node_conditions(
            ready=await self.registry.readiness_runtime().health(),
            container=await container.health() if container else None,
            vm=await vm.health() if vm else None,
            memory_pressure=not self.hollow and memory_available_bytes() < _MEMORY_PRESSURE_BYTES,
            disk_pressure=not self.hollow and disk_available_fraction() < _DISK_PRESSURE_FRACTION)

    def status_body(self, conditions: list[Condition]) -> dict[str, Any]:
        facts = self.facts
        cap = capacity(facts, self.max_pods)
        runtime = self.registry.readiness_runtime()
        return {
            "capacity": cap, "allocatable": dict(cap), "conditions": conditions, "phase": "Running",
            "addresses": [{"type": "InternalIP", "address": self.host_ip},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {
                "machineID": facts.machine_id, "systemUUID": facts.machine_id, "bootID": facts.boot_id,
                "kernelVersion": facts.kernel_version, "osImage": facts.os_image,
                "containerRuntimeVersion": runtime.runtime_version(),
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux", "architecture": facts.architecture,
            },
        }

    async def register(self) -> dict[str, Any]:
        """Creates the Node with its status (or takes over an existing one) and posts the status
        when the create did not keep it."""
        conditions = with_times(await self.current_conditions(), [])
        status = self.status_body(conditions)
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": node_labels(self.name, self.facts)},
                "spec": {}, "status": status}
        try:
            node: dict[str, Any] = await self.client.create(NODES, body)
            kept = bool((node.get("status") or {}).get("conditions"))
        except AlreadyExists:
            # Upstream's tryRegisterWithAPIServer: an existing Node of our name is ours to update.
            node = await self.client.patch(NODES, self.name,
                                           {"metadata": {"labels": node_labels(self.name, self.facts)}})
            kept = False
        if not kept:
            node = await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
        self.uid = str(node["metadata"].get("uid", ""))
        self._seen(node)
        self._last_conditions = conditions
        self._last_report = time.monotonic()
        self.status_posts += 1
        return node

    def _seen(self, node: dict[str, Any]) -> None:
        if self.on_node is not None:
            self.on_node(node)

    async def fetch_node(self) -> dict[str, Any]:
        """The Node as the API has it now."""
        node: dict[str, Any] = await self.client.get(NODES, self.name)
        self._seen(node)
        return node

    async def node_or_none(self) -> dict[str, Any] | None:
        """`fetch_node`, or None when the API cannot answer (the caller keeps what it had)."""
        try:
            return await self.fetch_node()
        except ApiError as e:
            log.warning("node %s: cannot read the Node: %s", self.name, e)
            return None

    async def update_status(self, *, force: bool = False) -> bool:
        """Posts the status if it changed or is due; answers whether it posted.

        "Changed" is judged against the Node as the API has it, as upstream's tryUpdateNodeStatus
        does: while this kubelet could not report (frozen, cut off, the API server down), the node
        lifecycle controller may have set its conditions to Unknown, and they must not stay so."""
        fresh = await self.current_conditions()
        due = time.monotonic() - self._last_report >= self.report_frequency_s
        previous = self._last_conditions
        if not force and not due and _comparable(fresh) == _comparable(previous):
            node = await self.fetch_node()
            ours = {c["type"] for c in fresh}
            posted = (node.get("status") or {}).get("conditions") or []
            previous = [c for c in posted if c.get("type") in ours]
            if sorted(_comparable(previous)) == sorted(_comparable(fresh)):
                return False
            log.info("node %s: conditions changed by another writer; reposting them", self.name)
        conditions = with_times(fresh, previous)
        self._seen(await self.client.patch(NODES, self.name, {"status": self.status_body(conditions)},
                                           subresource="status"))
        self._last_conditions = conditions
        self._last_report = time.monotonic()
        self.status_posts += 1
        return True

    async def run_status_loop(self, *, first_delay_s: float = 0.0) -> None:
        await asyncio.sleep(first_delay_s)
        while True:
            await asyncio.sleep(self.update_frequency_s)
            try:
                await self.update_status()
            except ApiError as e:
                log.warning("node %s: cannot post status: %s", self.name, e)
