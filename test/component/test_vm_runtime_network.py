"""The VM runtime on a CNI network: real ``python -m vmruntime --cni-conf-dir``, real CNI plugins
(``/usr/lib/cni`` bridge + host-local + portmap, the conflist containerd gets from
`cri.containerd_config.bridge_network`), one real qemu guest.

In file order: a VM sandbox gets a network namespace and an IP from host-local, reported by
PodSandboxStatus, with tap0 redirected to/from eth0; its VM boots with the ``ip=`` argument and
``ssh -i KEY root@IP uname -a`` (the pod's public key, dropbear in the guest) runs in the guest, the
node fetches the guest's httpd page naming the VM; powered off and on, the new qemu takes the same
tap and ssh works again; removing the sandbox releases the IP and the
namespace; a runtime restarted after a sandbox record vanished removes that sandbox's namespace and
IP (CNI DEL of an orphan); ``--stop-vms-on-exit`` tears every network down and leaves the sandboxes
NOTREADY. Bridge ``arktos-vn1``, subnet ``10.181.0.0/24``, removed afterwards.
Leaves out the kubelet and a container pod on the same bridge (test_kubelet_vm_network.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_vm_runtime import RuntimeProcess
from vm_network_env import host_local_ips, ssh_key_pair, ssh_run, vm_namespaces

from cri.client import CriClient
from cri.containerd_config import ContainerdLayout, bridge_network
from cri.stubs import pb
from kubelet.vm.cri_runtime import VmCriRuntime
from kubelet.vm.pods import vm_container
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.podnet import netns_prefix
from vmruntime.qemu import ensure_installed

pytestmark = pytest.mark.slow

SUBNET = "10.181.0.0/24"
BRIDGE = "arktos-vn1"
BOOT_TIMEOUT_S = 60.0


class Node:
    """A runtime with a CNI network of its own."""

    def __init__(self, base: Path) -> None:
        self.layout = ContainerdLayout(base / "cni-node", pod_subnet=SUBNET, bridge_name=BRIDGE)
        self.layout.cni_conf_dir.mkdir(parents=True)
        self.layout.cni_data_dir.mkdir(parents=True)
        network = bridge_network(self.layout)
        (self.layout.cni_conf_dir / "10-arktos-bridge.conflist").write_text(json.dumps(network))
        (base / "rt").mkdir()
        self.runtime = RuntimeProcess(base / "rt", "--cni-conf-dir", str(self.layout.cni_conf_dir))
        self.key, self.public_key = ssh_key_pair(base / "ssh")

    def allocated(self) -> set[str]:
        return host_local_ips(self.layout.cni_data_dir)

    def forget_sandbox(self, sandbox_id: str) -> None:
        """Delete a sandbox's record by hand (what a crash between setup and save leaves)."""
        (self.runtime.root / "sandboxes" / f"{sandbox_id}.json").unlink()

    def vm_directories(self) -> set[str]:
        return {p.name for p in (self.runtime.root / "containers").iterdir()}

    def namespaces(self) -> list[str]:
        return vm_namespaces(self.runtime.root)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    ensure_installed()
    build_image(DEFAULT_IMAGE_DIR)
    created = Node(tmp_path_factory.mktemp("vmnet"))
    created.runtime.start()
    try:
        yield created
    finally:
        if created.runtime.process is None:
            created.runtime.start()
        asyncio.run(_remove_everything(created.runtime))
        created.runtime.stop()
        for pid_file in (created.runtime.root / "containers").glob("*/qemu.pid"):
            subprocess.run(["kill", "-9", pid_file.read_text().strip()], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", BRIDGE], check=False, capture_output=True)


async def _remove_everything(runtime: RuntimeProcess) -> None:
    async with CriClient(runtime.endpoint, timeout=60) as cri:
        for sandbox in await cri.list_pod_sandbox():
            await cri.stop_pod_sandbox(sandbox.id)
            await cri.remove_pod_sandbox(sandbox.id)


@pytest.fixture
async def cri(node: Node) -> AsyncIterator[CriClient]:
    async with CriClient(node.runtime.endpoint, timeout=60) as client:
        yield client


def _pod(name: str, public_key: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "tenant": "system", "uid": str(uuid.uuid4())},
            "spec": {"nodeName": "node-1", "virtualMachine": {
                "name": "vm1", "image": "cirros", "imagePullPolicy": "IfNotPresent",
                "resources": {"limits": {"cpu": "1", "memory": "128Mi"}}, "publicKey": public_key}}}


def _console(log_path: Path) -> str:
    return log_path.read_text(errors="replace") if log_path.exists() else ""


def _ingress_filters(netns: str) -> str:
    return subprocess.run(["tc", "-n", netns, "filter", "show", "dev", "eth0", "ingress"],
                          capture_output=True, text=True, check=True).stdout


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


async def _wait_console(log_path: Path, text: str) -> float:
    """Seconds until ``text`` is on the VM's console."""
    started = time.monotonic()
    while time.monotonic() - started < BOOT_TIMEOUT_S:
        if text in _console(log_path):
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"{text!r} not on the console within {BOOT_TIMEOUT_S}s; tail:\n"
                         f"{_console(log_path)[-2000:]}")


async def test_vm_gets_a_pod_ip_and_serves_ssh_and_http(node: Node, cri: CriClient, tmp_path: Path) -> None:
    pod = _pod("net-vm", node.public_key)
    adapter = VmCriRuntime("vmRuntime", node.runtime.endpoint, log_root=tmp_path / "pods", relist_s=0.5)
    try:
        container = vm_container(pod)
        image = await adapter.ensure_image(container["image"], container["imagePullPolicy"])
        sandbox = await adapter.run_sandbox(pod)
        assert sandbox.ip.startswith("10.181.0.")
        assert node.allocated() == {sandbox.ip}
        netns = f"{netns_prefix(node.runtime.root)}{sandbox.id}"
        assert node.namespaces() == [netns]
        assert "Egress Redirect to device tap0" in _ingress_filters(netns)
        info = await adapter.create_container(sandbox, pod, container, attempt=0, image_ref=image.image_ref)
        await adapter.start_container(info.id)
    finally:
        await adapter.aclose()
    status = (await cri.pod_sandbox_status(sandbox.id)).status
    assert status.network.ip == sandbox.ip
    boot_s = await _wait_console(Path(info.log_path), "arktos-vm: dropbear listening on port 22")
    console = _console(Path(info.log_path))
    assert f"arktos-vm: network eth0 {sandbox.ip} netmask 255.255.255.0 gateway 10.181.0.1" in console
    started = time.monotonic()
    out = await ssh_run(node.key, sandbox.ip, "uname -a; hostname")
    ssh_s = time.monotonic() - started
    assert out.startswith("Linux net-vm ") and out.splitlines()[-1] == "net-vm", out
    page = await asyncio.to_thread(_http_get, f"http://{sandbox.ip}/")
    assert page == "arktos-vm net-vm\n"
    print(f"VM network ready {boot_s:.1f}s after start; ssh uname took {ssh_s:.1f}s")

    # Powered off and on again: a new qemu opens the same tap and the guest has its IP again.
    assert await cri.set_vm_power_state(info.id, "Shutdown", timeout_seconds=10) == "shutdown"
    assert await cri.set_vm_power_state(info.id, "Running") == "running"
    await _wait_console(Path(info.log_path), "arktos-vm: boot 2")
    assert (await ssh_run(node.key, sandbox.ip, "cat /proc/sys/kernel/hostname")) == "net-vm"

    await cri.stop_pod_sandbox(sandbox.id)
    assert node.namespaces() == [] and node.allocated() == set()
    assert (await cri.pod_sandbox_status(sandbox.id)).status.state == pb.SANDBOX_NOTREADY
    await cri.remove_pod_sandbox(sandbox.id)
    assert info.id not in node.vm_directories()


async def test_restart_removes_a_network_no_sandbox_owns(node: Node, cri: CriClient) -> None:
    config = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
        name="orphan", namespace="default", uid=str(uuid.uuid4()), attempt=0))
    sandbox_id = await cri.run_pod_sandbox(config)
    ip = (await cri.pod_sandbox_status(sandbox_id)).status.network.ip
    assert node.allocated() == {ip} and len(node.namespaces()) == 1
    node.runtime.stop()
    node.forget_sandbox(sandbox_id)
    node.runtime.start()
    assert node.namespaces() == [] and node.allocated() == set()


async def test_stop_vms_on_exit_tears_the_networks_down(node: Node) -> None:
    node.runtime.stop()
    stopping = RuntimeProcess(node.runtime.base, *node.runtime.extra_args, "--stop-vms-on-exit")
    stopping.start()
    try:
        async with CriClient(stopping.endpoint, timeout=60) as cri:
            sandbox_id = await cri.run_pod_sandbox(pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
                name="stopped", namespace="default", uid=str(uuid.uuid4()), attempt=0)))
        assert len(node.allocated()) == 1 and len(node.namespaces()) == 1
    finally:
        stopping.stop()
    assert node.namespaces() == [] and node.allocated() == set()
    node.runtime.start()
    async with CriClient(node.runtime.endpoint, timeout=60) as cri:
        assert (await cri.pod_sandbox_status(sandbox_id)).status.state == pb.SANDBOX_NOTREADY
