"""Unit tests for VM pods in the kubelet, with fake runtime records and a fake VM runtime.

Covers: the status mapping (`kubelet.vm.pod_status`): phase Running / NoSchedule / Pending / Failed,
``virtualMachineStatus`` instead of containerStatuses, the VirtualMachineReady condition and its
lastTransitionTime, a paused VM not ready; the power rules (`kubelet.vm.policy.power_action`,
`left_to_power_control`); the restart count (`kubelet.vm.restarts.VmRestartLedger`: runtime boots,
attempts, recorded reboots, carried across a kubelet restart and across attempts); `VmFinder`
answering the newest running VM and counting a reboot; and `PodSyncer` driving a fake VM runtime
through start, initial powerSpec Paused, Shutdown (not restarted, NoSchedule) and power-on.
Leaves out: qemu and the API server (test/component/test_kubelet_vm_pods.py).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubelet_vm_fakes import FakeVmRuntime, vm_syncer

from client.cache import ObjectKey
from kubelet.config import RuntimeEndpoint
from kubelet.runtime import ContainerInfo, ContainerState
from kubelet.runtimes import RegisteredRuntime, RuntimeRegistry
from kubelet.status import PodObservation
from kubelet.vm.pod_status import compute_vm_pod_status
from kubelet.vm.policy import left_to_power_control, power_action
from kubelet.vm.restarts import VmFinder, VmRestartLedger


def _pod(power: str = "Running", policy: str = "Always",
         status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "vmp", "namespace": "ns", "tenant": "system", "uid": "u-1"},
            "spec": {"nodeName": "n1", "restartPolicy": policy, "virtualMachine": {
                "name": "vm1", "image": "cirros", "powerSpec": power,
                "resources": {"limits": {"cpu": "1", "memory": "128Mi"}}}},
            "status": status or {}}


def _vm(state: ContainerState = "running", *, attempt: int = 0, reason: str = "", exit_code: int = 0,
        cid: str = "c1") -> ContainerInfo:
    return ContainerInfo(id=cid, sandbox_id="s1", pod_uid="u-1", name="vm1", attempt=attempt,
                         state=state, image="cirros", image_ref="sha256:img", created_at=float(attempt + 1),
                         started_at=10.0, finished_at=20.0 if state == "exited" else 0.0,
                         exit_code=exit_code, reason=reason)


def _status(pod: dict[str, Any], *containers: ContainerInfo, restarts: int | None = None,
            waiting: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    obs = PodObservation(containers=list(containers), host_ip="192.0.2.1", id_scheme="arktos-vm-runtime",
                         waiting=waiting or {})
    return compute_vm_pod_status(pod, obs, restart_count=restarts)


def _conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_running_vm_is_a_running_ready_pod_with_vm_status() -> None:
    status = _status(_pod(), _vm(), restarts=2)
    assert status["phase"] == "Running"
    assert "containerStatuses" not in status
    vm = status["virtualMachineStatus"]
    assert vm["name"] == "vm1" and vm["virtualMachineId"] == "c1" and vm["imageId"] == "sha256:img"
    assert (vm["state"], vm["powerState"], vm["ready"], vm["restartCount"]) == ("active", "running", True, 2)
    assert _conditions(status) == {"PodScheduled": "True", "Initialized": "True", "ContainersReady": "True",
                                   "Ready": "True", "VirtualMachineReady": "True"}
    assert status["qosClass"] == "Guaranteed" and status["hostIP"] == "192.0.2.1"


def test_paused_vm_keeps_the_pod_running_but_not_ready() -> None:
    status = _status(_pod("Paused"), _vm(reason="Paused"))
    assert status["phase"] == "Running"
    assert (status["virtualMachineStatus"]["powerState"], status["virtualMachineStatus"]["state"]) == \
        ("paused", "paused")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["VirtualMachineReady"]["status"] == "False"
    assert conditions["VirtualMachineReady"]["message"] == "virtual machine power state is paused"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [vm1]"


def test_powered_off_vm_is_no_schedule_and_pending_when_asked_to_run_again() -> None:
    stopped = _vm("exited", reason="Stopped")
    off = _status(_pod("Shutdown"), stopped)
    assert off["phase"] == "NoSchedule"
    assert off["virtualMachineStatus"]["powerState"] == "shutdown"
    assert off["virtualMachineStatus"]["lastTerminationState"]["terminated"]["reason"] == "Stopped"
    assert _conditions(off)["VirtualMachineReady"] == "False"
    assert _status(_pod("Running"), stopped)["phase"] == "Pending"
    # Still shutting down: the pod runs until qemu has exited.
    assert _status(_pod("Shutdown"), _vm())["phase"] == "Running"


def test_vm_created_powered_off_is_never_booted() -> None:
    status = _status(_pod("Shutdown"))
    assert status["phase"] == "NoSchedule"
    assert status["virtualMachineStatus"]["powerState"] == "shutdown"
    assert "virtualMachineId" not in status["virtualMachineStatus"]
    assert left_to_power_control(_pod("Shutdown"), None)
    assert _status(_pod())["phase"] == "Pending"


def test_crashed_vm_follows_the_restart_policy() -> None:
    crashed = _vm("exited", reason="Error", exit_code=1)
    assert _status(_pod(policy="Never"), crashed)["phase"] == "Failed"
    backing_off = _status(_pod(policy="Always"), crashed,
                          waiting={"vm1": ("CrashLoopBackOff", "back-off restarting")})
    assert backing_off["phase"] == "Running"
    assert backing_off["virtualMachineStatus"]["powerState"] == "crashed"
    assert not left_to_power_control(_pod(), crashed)


def test_vm_ready_condition_keeps_its_transition_time() -> None:
    first = _status(_pod(), _vm())
    stamp = next(c for c in first["conditions"] if c["type"] == "VirtualMachineReady")
    stamp["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    again = _status(_pod(status=first), _vm())
    kept = next(c for c in again["conditions"] if c["type"] == "VirtualMachineReady")
    assert kept["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    flipped = _status(_pod("Paused", status=first), _vm(reason="Paused"))
    changed = next(c for c in flipped["conditions"] if c["type"] == "VirtualMachineReady")
    assert changed["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_power_actions() -> None:
    running, paused, suspended = _vm(), _vm(reason="Paused"), _vm(reason="Suspended")
    stopped, crashed = _vm("exited", reason="Stopped"), _vm("exited", reason="Error", exit_code=2)
    assert power_action("Running", running) is None
    assert power_action("Paused", running) == "Paused"
    assert power_action("Suspended", running) == "Suspended"
    assert power_action("Shutdown", running) == "Shutdown"
    assert power_action("Shutdown", paused) == "Shutdown"
    assert power_action("Running", paused) == "Running"
    assert power_action("Paused", paused) is None
    assert power_action("Paused", suspended) == "Running"  # resumed first, paused on the next sync
    assert power_action("Running", stopped) == "Running"
    assert power_action("Shutdown", stopped) is None
    assert power_action("Running", crashed) is None  # the restart policy's business
    assert power_action("Paused", _vm("created")) is None
    assert power_action("Paused", None) is None


def test_restart_count_adds_boots_attempts_and_reboots() -> None:
    ledger = VmRestartLedger()
    pod = _pod()
    assert ledger.restart_count(pod, _vm(), boots=1) == 0
    assert ledger.restart_count(pod, _vm(), boots=2) == 1  # powered on again
    ledger.record("u-1", "c1")
    assert ledger.restart_count(pod, _vm(), boots=2) == 2
    # A restarted kubelet seeds from the status it reported before.
    again = VmRestartLedger()
    shown = _pod(status={"virtualMachineStatus": {"virtualMachineId": "c1", "restartCount": 2}})
    assert again.restart_count(shown, _vm(), boots=2) == 2
    again.record("u-1", "c1")
    assert again.restart_count(shown, _vm(), boots=2) == 3
    # A new attempt after a crash: one more than the old VM's count.
    assert again.restart_count(shown, _vm(attempt=1, cid="c2"), boots=1,
                               previous={"virtualMachineStatus": {"virtualMachineId": "c1",
                                                                  "restartCount": 3}}) == 4


async def test_finder_answers_the_running_vm_and_counts_a_reboot() -> None:
    runtime = FakeVmRuntime()
    registry = RuntimeRegistry([RegisteredRuntime(RuntimeEndpoint("v", "vm", "fake://"), runtime)])
    pod = _pod()
    sandbox = await runtime.run_sandbox(pod)
    old = await runtime.create_container(sandbox, pod, {"name": "vm1"}, attempt=0, image_ref="i")
    runtime.force(old.id, state="exited", reason="Error", exit_code=1)
    new = await runtime.create_container(sandbox, pod, {"name": "vm1"}, attempt=1, image_ref="i")
    runtime.force(new.id, state="running")
    ledger, kicked = VmRestartLedger(), list[str]()
    pods = {ObjectKey("system", "ns", "vmp"): pod}
    finder = VmFinder("n1", registry, pods.get, ledger, kicked.append)
    assert await finder("system", "ns", "other") is None
    assert await VmFinder("n2", registry, pods.get, ledger, kicked.append)("system", "ns", "vmp") is None
    found = await finder("system", "ns", "vmp")
    assert found is not None
    control, container_id = found
    assert container_id == new.id
    await control.reboot_vm(container_id)
    assert runtime.calls == [("reboot", new.id)] and kicked == ["u-1"]
    assert ledger.restart_count(pod, await runtime.info(new.id), boots=1) == 2


async def test_syncer_applies_power_spec_changes() -> None:
    runtime = FakeVmRuntime()
    syncer, node, status = vm_syncer(runtime)
    pod = _pod("Paused")
    await syncer.sync_pod(node, pod)
    await asyncio.sleep(0.01)  # the fake VM comes up
    await syncer.sync_pod(node, pod)
    [vm] = await runtime.list_containers(pod_uid="u-1")
    assert runtime.calls == [("power", vm.id, "Paused")]
    assert status.latest["virtualMachineStatus"]["powerState"] == "paused"
    assert status.latest["phase"] == "Running"

    pod = copy.deepcopy(pod)
    pod["spec"]["virtualMachine"]["powerSpec"] = "Shutdown"
    await syncer.sync_pod(node, pod)
    assert status.latest["phase"] == "NoSchedule"
    await syncer.sync_pod(node, pod)  # not restarted by restartPolicy Always
    assert [c.state for c in await runtime.list_containers(pod_uid="u-1")] == ["exited"]

    pod["spec"]["virtualMachine"]["powerSpec"] = "Running"
    await syncer.sync_pod(node, pod)
    assert [s["phase"] for s in status.history[-2:]] == ["Pending", "Running"]
    [vm] = await runtime.list_containers(pod_uid="u-1")
    assert vm.state == "running" and runtime.boots[vm.id] == 2
    assert status.latest["virtualMachineStatus"]["restartCount"] == 1
    assert runtime.calls[-2:] == [("power", vm.id, "Shutdown"), ("power", vm.id, "Running")]

