"""A VM pod seen through the kubelet's container machinery, and its ``status.virtualMachineStatus``.

The pod sync drives containers; a VM pod has none, so `vm_container` presents its virtual machine
as the pod's single container (name, image, pull policy, resources), which the sync runs like any
other and `kubelet.vm.cri_runtime.VmCriRuntime` turns into a qemu VM. `vm_status` maps the runtime's
report of that container back onto Arktos's ``VirtualMachineStatus`` (ARKTOS.md §4): ``state``
(active, paused, suspended, stopped, error, building) and ``powerState`` (nostate, running, paused,
suspended, shutdown, crashed). A paused VM is a RUNNING CRI container whose reason is ``Paused``.
`desired_power` and `stopped_on_request` are the two facts the power rules (`kubelet.vm.policy`) and
the phase (`kubelet.vm.pod_status`) are built from.
"""

from __future__ import annotations

from typing import Any

from apis.images import default_pull_policy
from cri.vm_annotations import REASON_KILLED, REASON_PAUSED, REASON_STOPPED, REASON_SUSPENDED
from kubelet.runtime import ContainerInfo
from kubelet.vm.specs import virtual_machine


def desired_power(pod: dict[str, Any]) -> str:
    """``spec.virtualMachine.powerSpec``: Running (the default), Paused, Suspended or Shutdown."""
    return str(virtual_machine(pod).get("powerSpec") or "Running")


def stopped_on_request(container: ContainerInfo) -> bool:
    """An exited VM that was powered off (or stopped) on request, not one that crashed or whose
    guest powered itself off: the runtime records why qemu ended in the CRI reason."""
    return container.state == "exited" and container.reason in (REASON_STOPPED, REASON_KILLED)


def vm_container(pod: dict[str, Any]) -> dict[str, Any]:
    """The VM as a container spec: ``name``, ``image``, ``imagePullPolicy``, ``resources``."""
    vm = virtual_machine(pod)
    image = str(vm.get("image", ""))
    return {
        "name": str(vm.get("name", "")),
        "image": image,
        "imagePullPolicy": str(vm.get("imagePullPolicy") or default_pull_policy(image)),
        "resources": vm.get("resources") or {},
    }


def power_and_state(container: ContainerInfo | None) -> tuple[str, str]:
    """(powerState, state) of the VM container."""
    if container is None:
        return "nostate", "building"
    if container.state == "running":
        if container.reason == REASON_PAUSED:
            return "paused", "paused"
        if container.reason == REASON_SUSPENDED:
            return "suspended", "suspended"
        return "running", "active"
    if container.state == "exited":
        return ("shutdown", "stopped") if container.exit_code == 0 else ("crashed", "error")
    if container.state == "created":
        return "nostate", "building"
    return "nostate", "error"


def vm_status(pod: dict[str, Any], container: ContainerInfo | None, *, restart_count: int | None = None,
              last_termination: dict[str, Any] | None = None) -> dict[str, Any]:
    """``status.virtualMachineStatus`` for ``pod`` whose VM container is ``container`` (None: not
    created yet). ``ready`` only while the guest runs; ``restartCount`` is ``restart_count`` when
    given (`kubelet.vm.restarts` adds power-ons, reboots and restores), else the container attempt."""
    vm = virtual_machine(pod)
    power, state = power_and_state(container)
    if container is None and desired_power(pod) == "Shutdown":
        power, state = "shutdown", "stopped"  # created powered off: never booted
    status: dict[str, Any] = {
        "name": str(vm.get("name", "")),
        "image": str(vm.get("image", "")),
        "state": state,
        "powerState": power,
        "ready": power == "running",
        "restartCount": restart_count if restart_count is not None else (
            container.attempt if container is not None else 0),
    }
    if last_termination:
        status["lastTerminationState"] = last_termination
    if container is not None:
        status["virtualMachineId"] = container.id
        status["imageId"] = container.image_ref
    if vm.get("resources"):
        status["resources"] = vm["resources"]
    return status
