"""How often a pod's VM was restarted, and the VM lookup the node's `ActionExecutor` runs Actions through.

``virtualMachineStatus.restartCount`` counts every time the guest started over: a new attempt
after a crash (the container attempt, as for containers), a power-on after a ``Shutdown`` (the
runtime counts qemu launches of one container), and the reboots and snapshot restores the kubelet
carried out for Actions. The runtime cannot see the last two (a reboot is a reset inside the same
qemu), so the kubelet counts them here, per VM container, and keeps the count across its own
restarts by seeding each container's share from the status it reported before (the API keeps it).

`VmFinder` is the ``find_vm`` of `kubelet.actions.ActionExecutor`: it looks the Action's pod up in
the kubelet's pod informer, answers the pod's VM runtime and newest running VM container, and wraps
the runtime so a successful reboot or restore is counted and the pod re-synced at once (its status
then shows the new count).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.cache import ObjectKey
from kubelet.actions import VmLookup
from kubelet.runtime import ContainerInfo, Runtime, VmControl
from kubelet.runtimes import RuntimeRegistry, workload_type_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _PodRestarts:
    carried: dict[str, int] = field(default_factory=dict)  # container id -> count from the old status
    actions: dict[str, int] = field(default_factory=dict)  # container id -> reboots/restores done here


class VmRestartLedger:
    """Per pod uid and VM container id: restarts the runtime cannot report."""

    def __init__(self) -> None:
        self._pods: dict[str, _PodRestarts] = {}

    def record(self, pod_uid: str, container_id: str) -> None:
        """A reboot or restore of ``container_id`` succeeded."""
        actions = self._pods.setdefault(pod_uid, _PodRestarts()).actions
        actions[container_id] = actions.get(container_id, 0) + 1

    def restart_count(self, pod: dict[str, Any], container: ContainerInfo, *, boots: int,
                      previous: dict[str, Any] | None = None) -> int:
        """``restartCount`` of ``pod`` whose newest VM attempt is ``container``, started ``boots``
        times by the runtime (0: unknown, counted as once). ``previous`` is the pod status last
        reported (default: the API's), which carries counts this process has not seen."""
        uid = str(pod["metadata"].get("uid", ""))
        restarts = self._pods.setdefault(uid, _PodRestarts())
        from_runtime = container.attempt + max(boots - 1, 0)
        if container.id not in restarts.carried:
            before = ((previous if previous is not None else pod.get("status")) or {}).get(
                "virtualMachineStatus") or {}
            restarts.carried = {container.id: _carried(before, container.id, from_runtime)}
            restarts.actions = {container.id: restarts.actions.get(container.id, 0)}
        return from_runtime + restarts.carried[container.id] + restarts.actions.get(container.id, 0)

    def forget(self, pod_uid: str) -> None:
        self._pods.pop(pod_uid, None)


def _carried(before: dict[str, Any], container_id: str, from_runtime: int) -> int:
    """The restarts the status showed beyond what the runtime reports for ``container_id``: reboots
    counted by an earlier kubelet run (same VM), or the restarts of the attempts before it plus the
    one that made it (a new VM; the runtime's attempt number restarts nowhere, but reboots of the
    earlier attempts are only in the status)."""
    shown = int(before.get("restartCount") or 0)
    if before.get("virtualMachineId") == container_id:
        return max(shown - from_runtime, 0)
    if before.get("virtualMachineId"):
        return max(shown + 1 - from_runtime, 0)
    return 0


class _CountingControl:
    """A `VmControl` that counts successful reboots/restores and asks for a re-sync of the pod."""

    def __init__(self, control: VmControl, pod_uid: str, ledger: VmRestartLedger,
                 resync: Callable[[str], None]) -> None:
        self._control = control
        self._uid = pod_uid
        self._ledger = ledger
        self._resync = resync

    def _restarted(self, container_id: str) -> None:
        self._ledger.record(self._uid, container_id)
        self._resync(self._uid)

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None:
        await self._control.reboot_vm(container_id, delay_s=delay_s)
        self._restarted(container_id)

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        return await self._control.snapshot_vm(container_id, snapshot_name)

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None:
        await self._control.restore_vm(container_id, snapshot_id)
        self._restarted(container_id)

    async def set_power(self, container_id: str, power_spec: str) -> None:
        await self._control.set_power(container_id, power_spec)
        self._resync(self._uid)


def as_vm_control(runtime: Runtime | None) -> VmControl | None:
    """``runtime`` if it carries out VM verbs (hollow and container runtimes do not)."""
    if runtime is None:
        return None
    needed = ("reboot_vm", "snapshot_vm", "restore_vm", "set_power")
    return runtime if all(callable(getattr(runtime, verb, None)) for verb in needed) else None  # type: ignore[return-value]


class VmFinder:
    """``find_vm(tenant, namespace, pod_name)`` for one node's `ActionExecutor`."""

    def __init__(self, node_name: str, registry: RuntimeRegistry,
                 pod: Callable[[ObjectKey], dict[str, Any] | None], ledger: VmRestartLedger,
                 resync: Callable[[str], None]) -> None:
        self.node_name = node_name
        self.registry = registry
        self._pod = pod
        self._ledger = ledger
        self._resync = resync

    async def __call__(self, tenant: str, namespace: str, pod_name: str) -> VmLookup | None:
        # The informer keys system-tenant pods by their tenant as the API reports it.
        pod = self._pod(ObjectKey(tenant, namespace, pod_name))
        if pod is None or workload_type_of(pod) != "vm":
            return None
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return None
        runtime = self.registry.for_pod(pod)
        control = as_vm_control(runtime)
        if runtime is None or control is None:
            return None
        uid = str(pod["metadata"].get("uid", ""))
        running = [c for c in await runtime.list_containers(pod_uid=uid) if c.state == "running"]
        if not running:
            log.info("action on pod %s/%s/%s: its VM is not running", tenant, namespace, pod_name)
            return None
        newest = max(running, key=lambda c: (c.attempt, c.created_at))
        return _CountingControl(control, uid, self._ledger, self._resync), newest.id
