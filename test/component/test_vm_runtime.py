"""Drives the real VM runtime process (``python -m vmruntime``) and real qemu guests through CRI.

Covers, as the stages of one VM's life (the tests run in file order and share it, since every boot
costs seconds of TCG): a VM pod created through the kubelet adapter `VmCriRuntime` (image alias
``cirros`` resolved from the local store, a 1-vCPU/128 MiB VM from ``resources``, Version/Status);
the serial console in the CRI log showing the guest booting, the public key installed and the
base64 ``userData`` script's and ``cloudInitUserDataScript``'s output; qemu under its seccomp
sandbox (``-sandbox on,...``; every later stage runs under it too); an unknown image failing
with ErrImagePull and exec answering UNIMPLEMENTED; pause/resume (QMP ``query-status`` through the
verbose status, the heartbeat stopping, ``vm_status`` paused); snapshot → the guest moves on →
restore rewinds its heartbeat; reboot (boot counter 2); a runtime restart adopting the running
qemu (same pid); power off → exited 0 with ``vm_status`` shutdown, and power on again (boot 3);
removal killing qemu and deleting the VM's files; a restarted runtime killing a qemu no record owns.
Leaves out: the pod worker and API objects (the lead's end-to-end tests), networking (this runtime has no
--cni-conf-dir: its VMs get no NIC; test_vm_runtime_network.py),
guest-initiated power-off (same exit path as Shutdown).
qemu is installed with apt and the image built when missing; failing that, the tests fail.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cri import vm_annotations
from cri.client import CriClient
from cri.errors import CriError
from cri.stubs import pb
from kubelet.runtime import RuntimeOperationError
from kubelet.vm.cri_runtime import VmCriRuntime
from kubelet.vm.pods import vm_container, vm_status
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.qemu import ensure_installed

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT_S = 60.0
USER_SCRIPT = "#!/bin/sh\necho \"user-data says hello from $(hostname)\"\n"


class RuntimeProcess:
    """``python -m vmruntime`` in a temp dir; VMs outlive it (no --stop-vms-on-exit) like containers
    outlive containerd, so a restart can be tested."""

    def __init__(self, base: Path, *extra_args: str) -> None:
        self.base = base
        self.extra_args = extra_args
        self.root = base / "root"
        self.socket = base / "vm.sock"
        self.log = base / "runtime.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vmruntime", "--listen", self.endpoint, "--root", str(self.root),
                 "--image-dir", str(DEFAULT_IMAGE_DIR), *self.extra_args], cwd=REPO, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"vmruntime did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class Vm:
    runtime: RuntimeProcess
    pod: dict[str, Any]
    sandbox_id: str
    container_id: str
    log_path: Path


def _vm_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "vm-pod", "namespace": "default", "tenant": "system", "uid": str(uuid.uuid4())},
        "spec": {"nodeName": "node-1", "virtualMachine": {
            "name": "vm1", "image": "cirros", "imagePullPolicy": "IfNotPresent",
            "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
            "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test@arktos",
            "userData": base64.b64encode(USER_SCRIPT.encode()).decode(),
            "cloudInitUserDataScript": "echo cloud-init-script-ran",
        }},
    }


def _adapter(runtime: RuntimeProcess, log_root: Path) -> VmCriRuntime:
    return VmCriRuntime("vmRuntime", runtime.endpoint, log_root=log_root, relist_s=0.5)


async def _create_vm(runtime: RuntimeProcess, log_root: Path) -> Vm:
    pod = _vm_pod()
    adapter = _adapter(runtime, log_root)
    try:
        assert (await adapter.health()).ready
        assert adapter.runtime_version() == "arktos-vm-runtime://0.1.0"
        container = vm_container(pod)
        image = await adapter.ensure_image(container["image"], container["imagePullPolicy"])
        sandbox = await adapter.run_sandbox(pod)
        info = await adapter.create_container(sandbox, pod, container, attempt=0, image_ref=image.image_ref)
        await adapter.start_container(info.id)
    finally:
        await adapter.aclose()
    return Vm(runtime, pod, sandbox.id, info.id, Path(info.log_path))


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vm]:
    ensure_installed()
    build_image(DEFAULT_IMAGE_DIR)
    base = tmp_path_factory.mktemp("vmrt")
    runtime = RuntimeProcess(base)
    runtime.start()
    try:
        created = asyncio.run(_create_vm(runtime, base / "pods"))
        yield created
    finally:
        if runtime.process is None:
            runtime.start()
        asyncio.run(_remove_everything(runtime))
        runtime.stop()


async def _remove_everything(runtime: RuntimeProcess) -> None:
    async with CriClient(runtime.endpoint, timeout=30) as cri:
        for sandbox in await cri.list_pod_sandbox():
            await cri.remove_pod_sandbox(sandbox.id)


def _console(vm: Vm) -> str:
    return vm.log_path.read_text() if vm.log_path.exists() else ""


async def _wait_console(vm: Vm, pattern: str, *, after: int = 0, within_s: float = BOOT_TIMEOUT_S) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        match = re.search(pattern, _console(vm)[after:])
        if match:
            return match.group(0)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{pattern!r} not on the console within {within_s}s; tail:\n{_console(vm)[-1500:]}")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _proc_file(pid: str, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def _heartbeats(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"arktos-vm: heartbeat (\d+)", text)]


async def test_boot_shows_guest_config_on_console(vm: Vm) -> None:
    await _wait_console(vm, r"arktos-vm: vm1 ready")
    console = _console(vm)
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F arktos-vm: boot 1$", console, re.M)
    assert "arktos-vm: vm1 booting (kernel 6." in console and "1 vcpu)" in console
    assert "arktos-vm: installed 1 public key(s) for root" in console
    assert "stdout F user-data says hello from vm-pod" in console
    assert "stdout F cloud-init-script-ran" in console
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        status = await cri.container_status(vm.container_id, verbose=True)
    assert status.status.state == pb.CONTAINER_RUNNING
    assert status.info["vcpus"] == "1" and status.info["memory-mib"] == "128"
    assert status.status.annotations[vm_annotations.POWER_STATE] == "running"


async def test_qemu_runs_under_its_seccomp_sandbox(vm: Vm) -> None:
    """``-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny``: the
    kernel reports qemu in seccomp filter mode, and the guest (booted above) runs under it."""
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        qemu_pid = (await cri.container_status(vm.container_id, verbose=True)).info["qemu-pid"]
    args = _proc_file(qemu_pid, "cmdline").split(b"\0")
    sandbox = args[args.index(b"-sandbox") + 1].decode()
    assert sandbox == "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
    status = dict(line.split(":\t", 1) for line in _proc_file(qemu_pid, "status").decode().splitlines()
                  if ":\t" in line)
    assert status["Seccomp"] == "2" and int(status["Seccomp_filters"]) >= 1
    await _wait_console(vm, r"heartbeat \d+")  # the guest keeps running under it


async def test_unknown_image_and_exec_are_refused(vm: Vm, tmp_path: Path) -> None:
    adapter = _adapter(vm.runtime, tmp_path)
    try:
        with pytest.raises(RuntimeOperationError) as pull:
            await adapter.ensure_image("nosuch-vm-image:1", "IfNotPresent")
        assert pull.value.reason == "ErrImagePull"
        assert (await adapter.ensure_image("download.cirros-cloud.net/0.5.1/cirros-0.5.1-x86_64-disk.img",
                                           "IfNotPresent")).image_ref.startswith("sha256:")
    finally:
        await adapter.aclose()
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        with pytest.raises(CriError) as exec_error:
            await cri.exec_sync(vm.container_id, ["ls"])
    assert exec_error.value.code == "UNIMPLEMENTED"
    assert "exec is not supported for virtual machines" in exec_error.value.message


async def test_pause_and_resume(vm: Vm, tmp_path: Path) -> None:
    await _wait_console(vm, r"heartbeat 1\b")
    adapter = _adapter(vm.runtime, tmp_path)
    try:
        await adapter.set_power(vm.container_id, "Paused")
        async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
            status = await cri.container_status(vm.container_id, verbose=True)
        assert status.info["qmp-status"] == "paused"
        assert status.status.state == pb.CONTAINER_RUNNING and status.status.reason == "Paused"
        [info] = await adapter.list_containers(pod_uid=vm.pod["metadata"]["uid"])
        assert vm_status(vm.pod, info)["powerState"] == "paused"
        before = _heartbeats(_console(vm))
        await asyncio.sleep(4.5)  # two heartbeat periods: none may come while paused
        assert _heartbeats(_console(vm)) == before
        await adapter.set_power(vm.container_id, "Running")
        await _wait_console(vm, rf"heartbeat {before[-1] + 1}\b", within_s=10)
        [info] = await adapter.list_containers(pod_uid=vm.pod["metadata"]["uid"])
        status_dict = vm_status(vm.pod, info)
        assert (status_dict["powerState"], status_dict["state"]) == ("running", "active")
        assert status_dict["ready"] is True
    finally:
        await adapter.aclose()


async def test_snapshot_then_restore_rewinds_the_guest(vm: Vm, tmp_path: Path) -> None:
    adapter = _adapter(vm.runtime, tmp_path)
    try:
        at_snapshot = _heartbeats(_console(vm))[-1]
        snapshot_id = await adapter.snapshot_vm(vm.container_id, "before-change")
        assert snapshot_id == "before-change"
        await _wait_console(vm, rf"heartbeat {at_snapshot + 3}\b", within_s=20)
        offset = len(_console(vm))
        await adapter.restore_vm(vm.container_id, snapshot_id)
        await _wait_console(vm, r"heartbeat \d+", after=offset, within_s=10)
        after_restore = _heartbeats(_console(vm)[offset:])[0]
        assert after_restore <= at_snapshot + 2, (at_snapshot, after_restore)
        with pytest.raises(RuntimeOperationError):
            await adapter.restore_vm(vm.container_id, "no-such-snapshot")
    finally:
        await adapter.aclose()


async def test_reboot_counts_a_second_boot(vm: Vm, tmp_path: Path) -> None:
    adapter = _adapter(vm.runtime, tmp_path)
    try:
        offset = len(_console(vm))
        await adapter.reboot_vm(vm.container_id)
        await _wait_console(vm, r"arktos-vm: boot 2\b", after=offset)
        await _wait_console(vm, r"user-data says hello", after=offset)
    finally:
        await adapter.aclose()


async def test_restarted_runtime_adopts_the_running_vm(vm: Vm) -> None:
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        qemu_pid = (await cri.container_status(vm.container_id, verbose=True)).info["qemu-pid"]
    vm.runtime.stop()
    assert _process_exists(int(qemu_pid)), "the VM must outlive its runtime"
    vm.runtime.start()
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        status = await cri.container_status(vm.container_id, verbose=True)
        assert status.status.state == pb.CONTAINER_RUNNING
        assert status.info["qemu-pid"] == qemu_pid and status.info["qmp-status"] == "running"
        assert [s.id for s in await cri.list_pod_sandbox()] == [vm.sandbox_id]


async def test_power_off_exits_and_power_on_boots_again(vm: Vm, tmp_path: Path) -> None:
    adapter = _adapter(vm.runtime, tmp_path)
    try:
        await adapter.set_power(vm.container_id, "Shutdown")
        [info] = await adapter.list_containers(pod_uid=vm.pod["metadata"]["uid"])
        assert (info.state, info.exit_code) == ("exited", 0)
        assert vm_status(vm.pod, info)["powerState"] == "shutdown"
        assert "arktos-vm: power off requested" in _console(vm)
        offset = len(_console(vm))
        await adapter.set_power(vm.container_id, "Running")
        await _wait_console(vm, r"arktos-vm: boot 3\b", after=offset)
        [info] = await adapter.list_containers(pod_uid=vm.pod["metadata"]["uid"])
        assert info.state == "running"
    finally:
        await adapter.aclose()


async def test_remove_kills_qemu_and_deletes_files(vm: Vm) -> None:
    container_dir = vm.runtime.root / "containers" / vm.container_id
    async with CriClient(vm.runtime.endpoint, timeout=30) as cri:
        qemu_pid = int((await cri.container_status(vm.container_id, verbose=True)).info["qemu-pid"])
        assert (container_dir / "overlay.qcow2").exists()
        await cri.remove_pod_sandbox(vm.sandbox_id)
        assert await cri.list_containers() == [] and await cri.list_pod_sandbox() == []
    assert not container_dir.exists()
    assert not (vm.runtime.root / "sandboxes" / f"{vm.sandbox_id}.json").exists()
    assert not _process_exists(qemu_pid), "RemovePodSandbox returns once qemu is gone"


def test_restart_kills_a_qemu_no_record_owns(vm: Vm) -> None:
    """A stray process under the runtime's container directory (here a sleep standing in for a qemu
    whose record was lost) is killed when the runtime starts."""
    vm.runtime.stop()
    stray_dir = vm.runtime.root / "containers" / ("f" * 32)
    stray_dir.mkdir(parents=True)
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                              f"{stray_dir}/initrd.img"])
    try:
        vm.runtime.start()
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert not stray_dir.exists()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
