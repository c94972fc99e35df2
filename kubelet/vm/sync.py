"""The VM part of a VM pod's sync: which VM the pod worker may (re)start, power control, status.

`kubelet.pod_sync.PodSyncer` syncs a VM pod as a pod whose one container is its VM
(`kubelet.vm.pods.vm_container`): sandbox, image, create, start, restart under ``restartPolicy``
with crash back-off. This module adds what Arktos's kubelet does beyond that (ARKTOS.md §4):

- ``spec.virtualMachine.powerSpec`` is reconciled after every sync through the runtime's
  ``SetVmPowerState`` (`VmControl.set_power`): a new VM is started, then paused or suspended if the
  spec says so (the runtime boots every VM running); a change of a running VM's powerSpec is
  applied; ``Shutdown`` powers the guest off (qemu exits) and a VM that was powered off on request
  is left alone — not restarted by the restart policy — until powerSpec asks for it to run, when
  the runtime powers the same VM on again (same disk: the guest counts a further boot). A pod
  created with ``Shutdown`` is not booted at all until then.
- the status is `kubelet.vm.pod_status.compute_vm_pod_status`, with the restart count from
  `kubelet.vm.restarts` (runtime boots, attempts, reboots and restores).

Runtimes without VM verbs (hollow nodes) run VM pods without power control.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from client.events import EventType
from kubelet.runtime import ContainerInfo, Runtime, RuntimeOperationError
from kubelet.status import PodObservation, newest_attempts
from kubelet.vm.pod_status import compute_vm_pod_status
from kubelet.vm.pods import desired_power, power_and_state, stopped_on_request, vm_container
from kubelet.vm.restarts import VmRestartLedger, as_vm_control

log = logging.getLogger(__name__)

POWER_RECHECK_S = 1.0  # look again soon after a power change (a paused-after-power-on takes two)
POWER_RETRY_S = 5.0
_JUST_STARTED_S = 10.0
# The runtime state that satisfies each powerSpec (power_and_state's first element).
_SATISFIED_BY = {"Running": "running", "Paused": "paused", "Suspended": "suspended"}

Recorder = Callable[[EventType, str, str], None]  # (event type, reason, message)


def newest_vm(pod: dict[str, Any], containers: list[ContainerInfo]) -> ContainerInfo | None:
    attempts = newest_attempts(containers).get(vm_container(pod)["name"], [])
    return attempts[0] if attempts else None


def left_to_power_control(pod: dict[str, Any], newest: ContainerInfo | None) -> bool:
    """Whether the restart policy must leave the VM alone: it is (to be) powered off, or was
    powered off on request and is powered on by `power_action` instead of a new attempt."""
    if desired_power(pod) == "Shutdown":
        return newest is None or newest.state == "exited"
    return newest is not None and stopped_on_request(newest)


def power_action(desired: str, newest: ContainerInfo | None) -> str | None:
    """The ``SetVmPowerState`` call that moves ``newest`` toward ``desired`` (None: nothing to do)."""
    if newest is None:
        return None
    if newest.state == "exited":
        return "Running" if desired != "Shutdown" and stopped_on_request(newest) else None
    if newest.state != "running":
        return None
    if desired == "Shutdown":
        return "Shutdown"
    current, _ = power_and_state(newest)
    if current == _SATISFIED_BY.get(desired, "running"):
        return None
    # A suspended VM asked to pause (or the reverse) is resumed first, then stopped again.
    return "Running" if current != "running" else desired


class VmPodSync:
    """The VM rules of every VM pod in this kubelet; shared by the pod workers."""

    def __init__(self, ledger: VmRestartLedger | None = None) -> None:
        self.ledger = ledger or VmRestartLedger()

    def containers_to_sync(self, pod: dict[str, Any],
                           containers: list[ContainerInfo]) -> list[dict[str, Any]]:
        """The container specs the pod worker starts/restarts: the VM, unless power control owns it."""
        if left_to_power_control(pod, newest_vm(pod, containers)):
            return []
        return [vm_container(pod)]

    def pending_power(self, pod: dict[str, Any], runtime: Runtime,
                      containers: list[ContainerInfo]) -> str | None:
        """The power change to make now, if the runtime can make it."""
        if as_vm_control(runtime) is None:
            return None
        return power_action(desired_power(pod), newest_vm(pod, containers))

    async def apply_power(self, pod: dict[str, Any], runtime: Runtime, containers: list[ContainerInfo],
                          action: str, record: Recorder) -> float:
        """Makes the `pending_power` change; answers when to look again."""
        control = as_vm_control(runtime)
        newest = newest_vm(pod, containers)
        if control is None or newest is None:
            return POWER_RETRY_S
        name = vm_container(pod)["name"]
        try:
            await control.set_power(newest.id, action)
        except RuntimeOperationError as e:
            log.info("pod %s: power %s of VM %s failed: %s", pod["metadata"].get("uid"), action, name,
                     e.message)
            if time.time() - newest.started_at < _JUST_STARTED_S:
                return POWER_RECHECK_S  # the new VM's QMP socket is not up yet: no news
            record("Warning", "FailedPowerChange", f"Power {action} of VM {name} failed: {e.message}")
            return POWER_RETRY_S
        record("Normal", _POWER_EVENT_REASONS[action], f"VM {name}: power {action}")
        return POWER_RECHECK_S

    async def pod_status(self, pod: dict[str, Any], runtime: Runtime, obs: PodObservation, *,
                         previous: dict[str, Any] | None = None) -> dict[str, Any]:
        newest = newest_vm(pod, obs.containers)
        restart_count = None
        if newest is not None:
            boot_count = getattr(runtime, "boot_count", None)
            boots = await boot_count(newest.id) if boot_count is not None else 0
            restart_count = self.ledger.restart_count(pod, newest, boots=int(boots), previous=previous)
        return compute_vm_pod_status(pod, obs, restart_count=restart_count)

    def forget(self, pod_uid: str) -> None:
        self.ledger.forget(pod_uid)


_POWER_EVENT_REASONS = {"Running": "PoweredOn", "Paused": "Paused", "Suspended": "Suspended",
                        "Shutdown": "PoweredOff"}
