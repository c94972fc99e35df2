"""A VM pod end to end: real API server, real VM runtime (qemu, TCG) and ``python -m kubelet``.

The kubelet runs with only a vm endpoint (``vmRuntime,vm,unix://...``) and no streaming port. One VM
pod goes through its life in file order (each boot costs ~7 s of TCG, so there are three):
created bound to the node with a public key and a userData script → phase Running,
``virtualMachineStatus`` running/active/ready, condition VirtualMachineReady True, and the CRI log
file showing the userData marker (boot 1); ``powerSpec: Shutdown`` → phase NoSchedule, qemu gone
and not restarted despite restartPolicy Always; back to ``Running`` → Running again on the same
disk (boot 2 on the console, restartCount 1); a reboot Action (``POST pods/{name}/action`` as admin)
reported complete without error, the guest booting a third time and restartCount 2; deletion
stopping the VM, removing it from the runtime (qemu gone) and the pod object.
Leaves out: pause/suspend through the pod (unit-tested with a fake runtime; the runtime's pause is
tested in test_vm_runtime.py), snapshot/restore Actions, node authorization (the kubelet talks to
the plain port as admin), kubelet restarts over a running VM.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from component_http import Api
from kubelet_process import eventually, running_kubelet
from test_vm_runtime import RuntimeProcess

from client.config import config_for_url
from client.errors import NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.qemu import ensure_installed

pytestmark = pytest.mark.slow

NODE = "vm-node"
NS = "default"
POD = "vm-pod"
PODS = ResourceRef("", "v1", "pods", "Pod")
MARKER = "kubelet-vm-userdata-marker"


@pytest.fixture(scope="module")
def vmruntime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    ensure_installed()
    build_image(DEFAULT_IMAGE_DIR)
    runtime = RuntimeProcess(tmp_path_factory.mktemp("kvm-rt"))
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        # VMs outlive their runtime; kill whatever the tests left (a failure midway).
        for pid_file in (runtime.root / "containers").glob("*/qemu.pid"):
            pid = pid_file.read_text().strip()
            if pid.isdigit() and _is_qemu(int(pid)):
                subprocess.run(["kill", "-9", pid], check=False)


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess, vmruntime: RuntimeProcess,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("kubelet-vm")
    with running_kubelet(apiserver.url, NODE, f"vmRuntime,vm,{vmruntime.endpoint}", work) as running:
        yield running


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api:
        yield api


def _is_qemu(pid: int) -> bool:
    try:
        return b"qemu-system" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _vm_pod() -> dict[str, Any]:
    script = f"#!/bin/sh\necho {MARKER}\n"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD}, "spec": {
        "nodeName": NODE, "restartPolicy": "Always", "terminationGracePeriodSeconds": 10,
        "virtualMachine": {
            "name": "vm1", "image": "cirros", "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
            "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKubeletVmTest test@arktos",
            "userData": base64.b64encode(script.encode()).decode()}}}


async def _pod_when(client: ApiClient, logs: Path, what: str, test: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        current = await client.get(PODS, POD, namespace=NS)
        return current if test(current) else None
    return dict(await eventually(check, what, logs))


def _vm(pod: dict[str, Any]) -> dict[str, Any]:
    return dict((pod.get("status") or {}).get("virtualMachineStatus") or {})


def _conditions(pod: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}


def _console(logs: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((logs / "pods").glob("*/vm1/*.log")))


async def _console_shows(logs: Path, pattern: str) -> None:
    async def check() -> bool:
        return re.search(pattern, _console(logs), re.M) is not None
    await eventually(check, f"console shows {pattern!r}", logs)


async def _qemu_pid(runtime: RuntimeProcess, vm_id: str, logs: Path) -> int:
    """The pid of the VM's qemu once it runs (its shim writes the pid file just after the start)."""
    pid_file = runtime.root / "containers" / vm_id / "qemu.pid"

    async def running() -> int:
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return 0
        return pid if _is_qemu(pid) else 0

    return int(await eventually(running, f"qemu of VM {vm_id} running", logs))


async def test_vm_pod_runs_with_its_user_data(client: ApiClient, kubelet: Path,
                                              vmruntime: RuntimeProcess) -> None:
    await client.create(PODS, _vm_pod(), namespace=NS)
    running = await _pod_when(client, kubelet, "Running with the VM running", lambda p: (
        p["status"].get("phase") == "Running" and _vm(p).get("powerState") == "running"
        and _conditions(p).get("VirtualMachineReady") == "True"))
    vm = _vm(running)
    assert (vm["name"], vm["image"], vm["state"], vm["ready"], vm["restartCount"]) == \
        ("vm1", "cirros", "active", True, 0)
    assert vm["imageId"].startswith("sha256:")
    assert _conditions(running)["Ready"] == "True"
    assert "containerStatuses" not in running["status"]
    await _qemu_pid(vmruntime, vm["virtualMachineId"], kubelet)
    await _console_shows(kubelet, rf"stdout F {MARKER}$")
    await _console_shows(kubelet, r"arktos-vm: boot 1$")
    assert "arktos-vm: installed 1 public key(s) for root" in _console(kubelet)


async def test_power_off_puts_the_pod_in_no_schedule(client: ApiClient, kubelet: Path,
                                                     vmruntime: RuntimeProcess) -> None:
    before = _vm(await client.get(PODS, POD, namespace=NS))
    pid = await _qemu_pid(vmruntime, before["virtualMachineId"], kubelet)
    await client.patch(PODS, POD, {"spec": {"virtualMachine": {"powerSpec": "Shutdown"}}}, namespace=NS)
    off = await _pod_when(client, kubelet, "phase NoSchedule",
                          lambda p: p["status"].get("phase") == "NoSchedule")
    assert _vm(off)["powerState"] == "shutdown" and _vm(off)["ready"] is False
    assert _conditions(off)["VirtualMachineReady"] == "False"
    assert not _is_qemu(pid)
    assert "arktos-vm: power off requested" in _console(kubelet)
    await asyncio.sleep(3)  # restartPolicy Always must not bring it back
    still = await client.get(PODS, POD, namespace=NS)
    assert still["status"]["phase"] == "NoSchedule"
    assert _vm(still)["virtualMachineId"] == before["virtualMachineId"]


async def test_power_on_boots_the_same_vm_again(client: ApiClient, kubelet: Path,
                                                vmruntime: RuntimeProcess) -> None:
    vm_id = _vm(await client.get(PODS, POD, namespace=NS))["virtualMachineId"]
    await client.patch(PODS, POD, {"spec": {"virtualMachine": {"powerSpec": "Running"}}}, namespace=NS)
    on = await _pod_when(client, kubelet, "Running again", lambda p: (
        p["status"].get("phase") == "Running" and _vm(p).get("powerState") == "running"))
    assert _vm(on)["restartCount"] == 1
    assert _vm(on)["virtualMachineId"] == vm_id  # the same VM, powered on again
    await _qemu_pid(vmruntime, vm_id, kubelet)
    await _console_shows(kubelet, r"arktos-vm: boot 2$")


async def test_reboot_action_completes_and_counts(api: Api, client: ApiClient, kubelet: Path) -> None:
    await _console_shows(kubelet, r"arktos-vm: vm1 ready$")
    reply = await api.ok("POST", f"/api/v1/namespaces/{NS}/pods/{POD}/action",
                         {"apiVersion": "v1", "kind": "CustomAction", "operation": "reboot",
                          "rebootParams": {"delayInSeconds": 0}})
    name = reply["details"]["name"]

    async def finished() -> dict[str, Any] | None:
        action: dict[str, Any] = await api.ok("GET", f"/api/v1/namespaces/{NS}/actions/{name}")
        return action if (action.get("status") or {}).get("complete") else None

    action = await eventually(finished, f"action {name} complete", kubelet)
    assert action["status"].get("error", "") == ""
    assert action["status"]["rebootStatus"]["rebootSuccessful"] is True
    await _console_shows(kubelet, r"arktos-vm: boot 3$")
    rebooted = await _pod_when(client, kubelet, "restartCount 2", lambda p: _vm(p).get("restartCount") == 2)
    assert rebooted["status"]["phase"] == "Running"


async def test_delete_stops_and_removes_the_vm(client: ApiClient, kubelet: Path,
                                               vmruntime: RuntimeProcess) -> None:
    vm_id = _vm(await client.get(PODS, POD, namespace=NS))["virtualMachineId"]
    pid = await _qemu_pid(vmruntime, vm_id, kubelet)
    await client.delete(PODS, POD, namespace=NS)

    async def gone() -> bool:
        try:
            await client.get(PODS, POD, namespace=NS)
        except NotFound:
            return True
        return False

    await eventually(gone, "pod deleted", kubelet)
    await eventually(lambda: _async(not _is_qemu(pid)), "qemu gone", kubelet)
    await eventually(lambda: _async(not (vmruntime.root / "containers" / vm_id).exists()),
                      "the VM's files removed", kubelet)


async def _async(value: bool) -> bool:
    return value
