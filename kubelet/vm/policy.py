"""The pod sync's policy for VM pods: which VM to (re)start, power control, and the pod status.

`kubelet.pod_sync.PodSyncer` syncs a VM pod as any pod, asking this `VmPolicy` where a VM differs
(`kubelet.runtime_policy.RuntimePolicy`): its one container is its VM
(`kubelet.vm.pods.vm_container`) — sandbox, image, create, start, restart under ``restartPolicy``
with crash back-off — and it gets no env or host mounts from the node. The policy adds what
Arktos's kubelet does beyond that (ARKTOS.md §4):

- ``spec.virtualMachine.powerSpec`` is reconciled after every sync through the runtime's
  ``SetVmPowerState`` (`VmControl.set_power`): a new VM is started, then paused or suspended if the
  spec says so (the runtime boots every VM running); a change of a running VM's powerSpec is
  applied; ``Shutdown`` powers the guest off (qemu exits) and a VM that was powered off on request
  is left alone — not restarted by the restart policy — until powerSpec asks for it to run, when
  the runtime powers the same VM on again (same disk: the guest counts a further boot). A pod
  created with ``Shutdown`` is not booted at all until then. Before a power change the pod's
  status is reported as it stands, so the API shows Arktos's sequence (NoSchedule → Pending →
  Running).
- the status is `kubelet.vm.pod_status.compute_vm_pod_status`, with the restart count from
  `kubelet.vm.restarts` (runtime boots, attempts, reboots and restores).

Runtimes without VM verbs (hollow nodes) run VM pods without power control.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kubelet.container_env import WarningSink
from kubelet.pod_inputs import PodInputs
from kubelet.runtime import ContainerInfo, ContainerInputs, Runtime, RuntimeOperationError, VmControl
from kubelet.runtime_policy import Recorder, StatusReport
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


class VmPolicy:
    """`kubelet.runtime_policy.RuntimePolicy` of VM pods; one per kubelet, shared by its pods."""

    def __init__(self, ledger: VmRestartLedger | None = None) -> None:
        self.ledger = ledger or VmRestartLedger()

    def containers_to_run(self, pod: dict[str, Any], listed: list[ContainerInfo]) -> list[dict[str, Any]]:
        """The VM as the pod's one container, unless power control owns it."""
        if left_to_power_control(pod, newest_vm(pod, listed)):
            return []
        return [vm_container(pod)]

    async def container_inputs(self, inputs: PodInputs, pod: dict[str, Any], container: dict[str, Any], *,
                               host_ip: str, pod_ip: str, warn: WarningSink) -> ContainerInputs | None:
        """None: a VM gets no env or host mounts (its guest settings travel as annotations,
        `kubelet.vm.specs`)."""
        return None

    async def after_containers(self, pod: dict[str, Any], runtime: Runtime, *, report: StatusReport,
                               record: Recorder) -> float | None:
        """Power control: reports the state before a change, then makes it; answers when to look
        again (None: no change due, or the runtime has no VM verbs)."""
        control = as_vm_control(runtime)
        if control is None:
            return None
        containers = await runtime.list_containers(pod_uid=str(pod["metadata"]["uid"]))
        newest = newest_vm(pod, containers)
        action = power_action(desired_power(pod), newest)
        if action is None or newest is None:
            return None
        await report(containers)  # Arktos shows the state before the change: NoSchedule → Pending → Running
        return await _set_power(pod, control, newest, action, record)

    async def pod_status(self, pod: dict[str, Any], runtime: Runtime, observation: PodObservation, *,
                         previous: dict[str, Any] | None) -> dict[str, Any]:
        """The VM pod's status, its restart count from the runtime's boots and the ledger."""
        newest = newest_vm(pod, observation.containers)
        restart_count = None
        if newest is not None:
            boot_count = getattr(runtime, "boot_count", None)
            boots = await boot_count(newest.id) if boot_count is not None else 0
            restart_count = self.ledger.restart_count(pod, newest, boots=int(boots), previous=previous)
        return compute_vm_pod_status(pod, observation, restart_count=restart_count)

    def forget(self, pod_uid: str) -> None:
        self.ledger.forget(pod_uid)


async def _set_power(pod: dict[str, Any], control: VmControl, newest: ContainerInfo, action: str,
                     record: Recorder) -> float:
    """Makes the power change ``action`` on ``newest``; answers when to look again."""
    name = vm_container(pod)["name"]
    try:
        await control.set_power(newest.id, action)
    except RuntimeOperationError as e:
        log.info("pod %s: power %s of VM %s failed: %s", pod["metadata"].get("uid"), action, name, e.message)
        if time.time() - newest.started_at < _JUST_STARTED_S:
            return POWER_RECHECK_S  # the new VM's QMP socket is not up yet: no news
        record("Warning", "FailedPowerChange", f"Power {action} of VM {name} failed: {e.message}")
        return POWER_RETRY_S
    record("Normal", _POWER_EVENT_REASONS[action], f"VM {name}: power {action}")
    return POWER_RECHECK_S


_POWER_EVENT_REASONS = {"Running": "PoweredOn", "Paused": "Paused", "Suspended": "Suspended",
                        "Shutdown": "PoweredOff"}
