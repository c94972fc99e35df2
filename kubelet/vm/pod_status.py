"""The status of a VM pod: phase, conditions and ``virtualMachineStatus`` from what the runtime reports.

A VM pod has no containers, so `kubelet.status.compute_pod_status` would call it Pending forever.
Arktos's kubelet reports the VM instead (ARKTOS.md §4): ``status.virtualMachineStatus``
(`kubelet.vm.pods.vm_status`) in place of ``containerStatuses``, a ``VirtualMachineReady`` condition
next to PodScheduled/Initialized/ContainersReady/Ready, and the phase of the VM seen as the pod's one
container (upstream's getPhase, so restartPolicy rules a crashed VM as it rules a container) with
the power rules on top:

- ``powerSpec: Shutdown`` and the VM not running → phase ``NoSchedule``;
- a VM that was powered off on request while ``powerSpec`` asks for it to run again → ``Pending``
  until it is powered on (Arktos: back to Running → Pending → Running);
- a paused or suspended VM keeps the pod Running (its qemu lives) but is not ready.

Pure, like `kubelet.status`, so the mapping is unit-tested with fake runtime records.
"""

from __future__ import annotations

from typing import Any

from apis.meta import now_rfc3339
from apis.wire_types import Condition
from kubelet.runtime import ContainerInfo
from kubelet.status import (
    PodObservation,
    container_state,
    container_status,
    newest_attempts,
    pod_addresses,
    pod_conditions,
    pod_phase,
    qos_class,
)
from kubelet.vm.pods import desired_power, stopped_on_request, vm_container, vm_status

VM_READY_CONDITION = "VirtualMachineReady"
PHASE_NO_SCHEDULE = "NoSchedule"  # Arktos's phase of a VM pod powered off by its powerSpec


def vm_phase(pod: dict[str, Any], newest: ContainerInfo | None, container_phase: str) -> str:
    """The pod phase given the VM's newest attempt and the phase getPhase gives its container."""
    running = newest is not None and newest.state == "running"
    if desired_power(pod) == "Shutdown":
        return container_phase if running else PHASE_NO_SCHEDULE
    if newest is not None and stopped_on_request(newest):
        return "Pending"  # powered off on request, to be powered on again
    return container_phase


def _vm_ready_condition(old: list[Condition], ready: bool, power: str) -> Condition:
    before = next((c for c in old if c.get("type") == VM_READY_CONDITION), Condition())
    status = "True" if ready else "False"
    transition = before.get("lastTransitionTime") if before.get("status") == status else None
    condition: Condition = {"type": VM_READY_CONDITION, "status": status,
                            "lastTransitionTime": transition or now_rfc3339()}
    if not ready:
        condition["reason"] = "VirtualMachineNotReady"
        condition["message"] = f"virtual machine power state is {power}"
    return condition


def _last_termination(attempts: list[ContainerInfo], scheme: str) -> dict[str, Any] | None:
    """The newest exit: of the current attempt when it has ended, else of the one before it."""
    for attempt in attempts[:2]:
        if attempt.state == "exited":
            return container_state(attempt, scheme)
    return None


def compute_vm_pod_status(pod: dict[str, Any], obs: PodObservation, *,
                          restart_count: int | None = None) -> dict[str, Any]:
    """The full status of VM pod ``pod``; ``restart_count`` is the VM's (`kubelet.vm.restarts`)."""
    old = pod.get("status") or {}
    spec_container = vm_container(pod)
    attempts = newest_attempts(obs.containers).get(spec_container["name"], [])
    newest = attempts[0] if attempts else None
    # The VM as the pod's one container decides the phase by upstream's rules (restartPolicy,
    # CrashLoopBackOff counted as stopped), before the power rules are laid on top.
    as_container = container_status(spec_container, attempts, obs, default_waiting="ContainerCreating")
    phase = vm_phase(pod, newest, pod_phase(pod, [], [as_container]))
    vm = vm_status(pod, newest, restart_count=restart_count,
                   last_termination=_last_termination(attempts, obs.id_scheme))
    ready = bool(vm["ready"]) and phase == "Running"
    conditions = pod_conditions(old.get("conditions") or [], phase=phase, initialized=True,
                                containers_ready=ready, unready=[] if ready else [spec_container["name"]])
    conditions.append(_vm_ready_condition(old.get("conditions") or [], ready, str(vm["powerState"])))
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "virtualMachineStatus": vm,
        "startTime": old.get("startTime") or obs.start_time or now_rfc3339(),
        "qosClass": old.get("qosClass") or qos_class({"containers": [spec_container]}),
    }
    status.update(pod_addresses(obs))
    return status
