"""A VM pod on the pod network next to a container pod: real API server, real containerd, real VM
runtime (qemu, TCG) on containerd's CNI conf dir, and ``python -m kubelet`` with both endpoints.

In file order, one VM: the VM pod (the test's fresh public key) is Running with ``status.podIP`` in
containerd's subnet; ``ssh -i KEY root@<podIP> uname -a`` runs in the guest; a busybox container pod
on the same bridge fetches the guest's port 80 (``nc``) and logs the page naming the VM; deleting
the VM pod frees its IP in the shared host-local pool and removes its network namespace. Bridge
``arktos-vn0``, subnet ``10.182.0.0/24``, cgroups under ``/arktos-vn``.
Leaves out Services in front of the VM (kube-proxy; the e2e suite) and isolation between tenants
(the isolation room's rules: the VM's IP is a pod IP like any other).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from containerd_env import BUSYBOX, private_containerd
from kubelet_process import eventually, running_kubelet
from test_vm_runtime import RuntimeProcess
from vm_network_env import host_local_ips, ssh_key_pair, ssh_run, vm_namespaces

from client.config import config_for_url
from client.errors import NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from cri.client import CriClient
from cri.containerd_process import ContainerdProcess
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.qemu import ensure_installed

pytestmark = pytest.mark.slow

NODE = "vmnet-node"
NS = "default"
VM_POD = "vm-net-pod"
CLIENT_POD = "vm-net-client"
SUBNET = "10.182.0.0/24"
CGROUP_ROOT = "/arktos-vn"
PODS = ResourceRef("", "v1", "pods", "Pod")
BOOT_WITHIN_S = 90.0


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-vn"), pod_subnet=SUBNET,
                            bridge_name="arktos-vn0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def vmruntime(containerd: ContainerdProcess,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    ensure_installed()
    build_image(DEFAULT_IMAGE_DIR)
    runtime = RuntimeProcess(tmp_path_factory.mktemp("vn-rt"), "--cni-conf-dir",
                             str(containerd.layout.cni_conf_dir))
    runtime.start()
    try:
        yield runtime
    finally:
        asyncio.run(_remove_sandboxes(runtime))  # VMs and networks a failing test left
        runtime.stop()


async def _remove_sandboxes(runtime: RuntimeProcess) -> None:
    async with CriClient(runtime.endpoint, timeout=60) as cri:
        for sandbox in await cri.list_pod_sandbox():
            await cri.stop_pod_sandbox(sandbox.id)
            await cri.remove_pod_sandbox(sandbox.id)


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess, containerd: ContainerdProcess, vmruntime: RuntimeProcess,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    endpoints = f"containerRuntime,container,{containerd.endpoint};vmRuntime,vm,{vmruntime.endpoint}"
    work = tmp_path_factory.mktemp("kubelet-vn")
    with running_kubelet(apiserver.url, NODE, endpoints, work, "--cgroup-root", CGROUP_ROOT) as running:
        yield running


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return ssh_key_pair(tmp_path_factory.mktemp("vn-ssh"))


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api:
        yield api


def _host_local_ips(containerd: ContainerdProcess) -> set[str]:
    return host_local_ips(containerd.layout.cni_data_dir)


def _vm_namespaces(runtime: RuntimeProcess) -> list[str]:
    return vm_namespaces(runtime.root)


def _logs_of(kubelet: Path, pod: str) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((kubelet / "pods").glob(f"*{pod}*/*/*.log")))


async def _phase(client: ApiClient, kubelet: Path, name: str, phase: str, within_s: float) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        pod = await client.get(PODS, name, namespace=NS)
        return pod if (pod.get("status") or {}).get("phase") == phase else None
    return dict(await eventually(check, f"pod {name} {phase}", kubelet, within_s=within_s))


async def test_vm_pod_has_a_pod_ip_and_takes_ssh(client: ApiClient, kubelet: Path,
                                                 containerd: ContainerdProcess,
                                                 key_pair: tuple[Path, str]) -> None:
    key, public_key = key_pair
    started = time.monotonic()
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": VM_POD}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": 5, "virtualMachine": {
            "name": "vm1", "image": "cirros", "publicKey": public_key,
            "resources": {"limits": {"cpu": "1", "memory": "128Mi"}}}}}, namespace=NS)
    running = await _phase(client, kubelet, VM_POD, "Running", BOOT_WITHIN_S)
    ip = running["status"].get("podIP", "")
    assert ip.startswith("10.182.0."), running["status"]
    assert running["status"]["podIPs"] == [{"ip": ip}]
    assert ip in _host_local_ips(containerd)
    out = await ssh_run(key, ip, "uname -a", within_s=BOOT_WITHIN_S)
    print(f"VM pod: Running {running['status'].get('startTime')}, ssh uname answered "
          f"{time.monotonic() - started:.1f}s after create")
    assert out.startswith(f"Linux {VM_POD} 6.1.0-"), out


async def test_a_container_pod_reaches_the_guests_port_80(client: ApiClient, kubelet: Path) -> None:
    vm_ip = (await client.get(PODS, VM_POD, namespace=NS))["status"]["podIP"]
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {vm_ip} 80"
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": CLIENT_POD}, "spec": {
        "nodeName": NODE, "restartPolicy": "Never", "containers": [{
            "name": "fetch", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", script]}]}}, namespace=NS)
    done = await _phase(client, kubelet, CLIENT_POD, "Succeeded", 60)
    assert done["status"]["podIP"].startswith("10.182.0.") and done["status"]["podIP"] != vm_ip
    log = _logs_of(kubelet, CLIENT_POD)
    assert " 200 OK" in log and f"arktos-vm {VM_POD}" in log, log
    await client.delete(PODS, CLIENT_POD, namespace=NS)


async def test_deleting_the_vm_pod_frees_its_ip_and_namespace(client: ApiClient, kubelet: Path,
                                                             containerd: ContainerdProcess,
                                                             vmruntime: RuntimeProcess) -> None:
    vm_ip = (await client.get(PODS, VM_POD, namespace=NS))["status"]["podIP"]
    assert len(_vm_namespaces(vmruntime)) == 1
    await client.delete(PODS, VM_POD, namespace=NS)

    async def gone() -> bool:
        try:
            await client.get(PODS, VM_POD, namespace=NS)
        except NotFound:
            return True
        return False

    await eventually(gone, f"pod {VM_POD} gone", kubelet, within_s=60)

    async def released() -> bool:
        return vm_ip not in _host_local_ips(containerd) and not _vm_namespaces(vmruntime)

    await eventually(released, "the VM's IP released and its namespace removed", kubelet, within_s=30)
    assert not any(b"qemu-system" in p for p in _qemu_cmdlines(vmruntime))


def _qemu_cmdlines(runtime: RuntimeProcess) -> list[bytes]:
    out = subprocess.run(["pgrep", "-a", "-f", str(runtime.root)], capture_output=True, check=False).stdout
    return out.splitlines()
