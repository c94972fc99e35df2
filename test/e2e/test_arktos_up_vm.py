"""Issue 6's must-shows on a cluster started by hack/arktos-up.sh: VM pods on the qemu VM runtime.

Covers, with stock kubectl: a VM pod (image, publicKey, userData script) is scheduled and Running
with ``virtualMachineStatus.powerState`` running and VirtualMachineReady, and its log
(`kubectl get --raw .../pods/NAME/log`; stock `kubectl logs` refuses a pod without containers
client-side) shows the guest booting and the script's output; a container pod runs beside it;
``powerSpec: Shutdown`` moves the pod to phase NoSchedule with its qemu gone, and Running boots
it again; a reboot Action completes (boot count up); snapshot then restore returns the guest to
the snapshot (its heartbeat counter goes back); delete removes qemu and the VM's files; a VM pod
of tenant acme is invisible to tenant globex; bad VM specs are refused with clear errors and an
unknown image surfaces ErrImagePull.
Leaves out: VM networking (the runtime gives VMs no NIC yet) and suspend-to-disk.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_arktos_up import ArktosUp
from workload_cluster import (
    Kubectl,
    kubectl_as,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    tenant_kubeconfig,
    workload_cluster_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODE = "arktos-uv-node"
VM_WAIT_S = 120.0
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIArktosTestKeyOnlyForTheE2eSuite arktos@test"
SCRIPT = "#!/bin/sh\necho user-data says hello from $(hostname)\n"


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-uv0", subnet="10.90.0.0/16")
    yield from running_cluster(env)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def vm_pod(name: str, *, namespace: str = "default", **vm: Any) -> dict[str, Any]:
    spec = {"name": "vm", "image": "cirros", "publicKey": PUBLIC_KEY,
            "userData": base64.b64encode(SCRIPT.encode()).decode(),
            "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}, **vm}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"virtualMachine": spec}}


def vm_status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    status: dict[str, Any] = (kubectl.pod(name).get("status") or {}).get("virtualMachineStatus") or {}
    return status


def vm_log(kubectl: Kubectl, pod: str) -> str:
    """The VM's serial console through ``pods/{name}/log``. Stock `kubectl logs` cannot ask for it:
    it checks the container client-side against spec.containers (empty for a VM pod) — Arktos
    shipped a patched kubectl — so the raw subresource is read, as any client library can."""
    return kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{pod}/log").stdout


def condition(pod: dict[str, Any], kind: str) -> str:
    for item in (pod.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return str(item.get("status"))
    return ""


def qemu_processes(data_dir: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"qemu-system-x86_64") and any(
                data_dir.encode() in arg for arg in cmdline):
            found.append(int(entry.name))
    return found


def post_action(kubectl: Kubectl, pod: str, body: dict[str, Any]) -> dict[str, Any]:
    result = kubectl("create", "--raw", f"/api/v1/namespaces/default/pods/{pod}/action", "-f", "-",
                     stdin=json.dumps(body))
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def action_status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", "actions", name).get("status") or {}
    return status


@pytest.fixture(scope="module")
def running_vm(kubectl: Kubectl) -> str:
    kubectl.apply(vm_pod("vm1"))
    kubectl.wait("vm1 running", lambda: vm_status(kubectl, "vm1").get("powerState") == "running"
                 and kubectl.pod("vm1")["status"].get("phase") == "Running", VM_WAIT_S)
    kubectl.wait("the guest ran its user data",
                 lambda: "user-data says hello" in vm_log(kubectl, "vm1"), VM_WAIT_S)
    return "vm1"


def test_vm_pod_runs_with_status_and_boot_log(kubectl: Kubectl, running_vm: str) -> None:
    pod = kubectl.pod(running_vm)
    assert pod["spec"]["nodeName"] == NODE
    assert condition(pod, "VirtualMachineReady") == "True"
    status = vm_status(kubectl, running_vm)
    assert status["ready"] is True and status["virtualMachineId"]
    logs = vm_log(kubectl, running_vm)
    assert "arktos-vm: boot 1" in logs and "installed 1 public key(s)" in logs, logs[-2000:]
    assert qemu_processes(kubectl.env["ARKTOS_DATA_DIR"])
    table = kubectl("get", "pod", running_vm).stdout
    assert "1/1" in table and "Running" in table, table


def test_container_pod_runs_beside_the_vm(kubectl: Kubectl, running_vm: str) -> None:
    kubectl("run", "beside", "--image=busybox", "--", "sleep", "3600")
    kubectl.wait("container pod running", lambda: phase_running(kubectl.pod("beside")))
    assert kubectl.pod(running_vm)["status"]["phase"] == "Running"
    kubectl("delete", "pod", "beside", "--grace-period=0", "--force")


def test_exec_into_a_vm_pod_is_refused_clearly(kubectl: Kubectl, running_vm: str) -> None:
    refused = kubectl("exec", running_vm, "--", "true", check=False)
    assert refused.returncode != 0
    assert "does not have any containers" in refused.stderr, refused.stderr  # kubectl's own check
    # Past kubectl's check (naming the VM as the container): the kubelet refuses, with a reason.
    path = f"/api/v1/namespaces/default/pods/{running_vm}/exec?command=true&container=vm&stdout=1"
    raw = kubectl("create", "--raw", path, "-f", "-", stdin="{}", check=False)
    assert raw.returncode != 0
    assert "exec is not supported by the vm runtime" in raw.stderr, raw.stderr


def test_reboot_action_completes(kubectl: Kubectl, running_vm: str) -> None:
    answer = post_action(kubectl, running_vm, {"kind": "CustomAction", "operation": "reboot",
                                               "rebootParams": {"delayInSeconds": 1}})
    name = answer["details"]["name"]
    kubectl.wait("reboot complete", lambda: action_status(kubectl, name).get("complete") is True, VM_WAIT_S)
    assert not action_status(kubectl, name).get("error")
    kubectl.wait("boot 2 in the log", lambda: "arktos-vm: boot 2" in vm_log(kubectl, running_vm),
                 VM_WAIT_S)


def _heartbeats(kubectl: Kubectl, pod: str) -> list[int]:
    lines = vm_log(kubectl, pod).splitlines()
    return [int(line.rsplit(" ", 1)[1]) for line in lines if "arktos-vm: heartbeat " in line]


def test_snapshot_then_restore_returns_to_the_snapshot(kubectl: Kubectl, running_vm: str) -> None:
    answer = post_action(kubectl, running_vm, {"kind": "CustomAction", "operation": "snapshot",
                                               "snapshotParams": {"snapshotName": "snap1"}})
    name = answer["details"]["name"]
    kubectl.wait("snapshot complete", lambda: action_status(kubectl, name).get("complete") is True, VM_WAIT_S)
    status = action_status(kubectl, name)
    assert not status.get("error"), status
    snapshot_id = status["snapshotStatus"]["snapshotID"]
    at_snapshot = max(_heartbeats(kubectl, running_vm))
    kubectl.wait("time passes in the guest", lambda: max(_heartbeats(kubectl, running_vm)) >= at_snapshot + 3)
    before_restore = len(_heartbeats(kubectl, running_vm))
    answer = post_action(kubectl, running_vm, {"kind": "CustomAction", "operation": "restore",
                                               "restoreParams": {"snapshotID": snapshot_id}})
    name = answer["details"]["name"]
    kubectl.wait("restore complete", lambda: action_status(kubectl, name).get("complete") is True, VM_WAIT_S)
    assert not action_status(kubectl, name).get("error")

    def went_back() -> bool:
        later = _heartbeats(kubectl, running_vm)[before_restore:]
        return any(beat <= at_snapshot + 2 for beat in later)

    kubectl.wait("the guest's heartbeat counter back at the snapshot", went_back, VM_WAIT_S)


def test_power_off_and_on(kubectl: Kubectl, running_vm: str) -> None:
    data_dir = kubectl.env["ARKTOS_DATA_DIR"]
    before = set(qemu_processes(data_dir))
    assert before
    readies = _ready_lines(kubectl, running_vm)
    kubectl("patch", "pod", running_vm, "-p", '{"spec":{"virtualMachine":{"powerSpec":"Shutdown"}}}')
    kubectl.wait("NoSchedule", lambda: kubectl.pod(running_vm)["status"].get("phase") == "NoSchedule",
                 VM_WAIT_S)
    kubectl.wait("qemu gone", lambda: not qemu_processes(data_dir), VM_WAIT_S)
    assert condition(kubectl.pod(running_vm), "VirtualMachineReady") != "True"
    kubectl("patch", "pod", running_vm, "-p", '{"spec":{"virtualMachine":{"powerSpec":"Running"}}}')
    kubectl.wait("running again", lambda: vm_status(kubectl, running_vm).get("powerState") == "running"
                 and kubectl.pod(running_vm)["status"].get("phase") == "Running", VM_WAIT_S)
    after = set(qemu_processes(data_dir))
    assert after and not after & before, "powering on must start a new qemu"
    kubectl.wait("the guest booted again", lambda: _ready_lines(kubectl, running_vm) > readies, VM_WAIT_S)


def _ready_lines(kubectl: Kubectl, pod: str) -> int:
    """How many times the guest finished booting (its init prints `arktos-vm: <name> ready`)."""
    return sum(1 for line in vm_log(kubectl, pod).splitlines()
               if line.startswith("arktos-vm: ") and line.endswith(" ready"))


def test_bad_vm_specs_are_refused(kubectl: Kubectl) -> None:
    both = vm_pod("both")
    both["spec"]["containers"] = [{"name": "c", "image": "busybox"}]
    no_key = vm_pod("nokey")
    no_key["spec"]["virtualMachine"].pop("publicKey")
    huge = vm_pod("huge", userData=base64.b64encode(b"x" * 70000).decode())
    for manifest in (both, no_key, huge):
        refused = kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
        assert refused.returncode != 0 and "is invalid" in refused.stderr, refused.stderr
        assert kubectl("get", "pod", manifest["metadata"]["name"], check=False).returncode != 0


def test_unknown_image_surfaces_err_image_pull(kubectl: Kubectl) -> None:
    # Half a CPU: vm1 (1 CPU) and the cluster DNS pods already hold most of the 2-core node's CPU.
    small = {"limits": {"cpu": "500m", "memory": "256Mi"}}
    kubectl.apply(vm_pod("noimage", image="no-such-vm-image:1.0", resources=small))

    def pull_failed() -> bool:
        events = kubectl("get", "events", "--field-selector", "involvedObject.name=noimage").stdout
        return "ErrImagePull" in events or "ImagePullBackOff" in events

    kubectl.wait("ErrImagePull event", pull_failed, VM_WAIT_S)
    kubectl("delete", "pod", "noimage", "--grace-period=0", "--force")


def test_vm_of_one_tenant_is_invisible_to_another(kubectl: Kubectl) -> None:
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Tenant",
                                                  "metadata": {"name": "acme"}}))
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Tenant",
                                                  "metadata": {"name": "globex"}}))
    acme = tenant_kubeconfig(kubectl.env, "acme", "admin")
    globex = tenant_kubeconfig(kubectl.env, "globex", "admin")
    manifest = vm_pod("acme-vm")
    created = kubectl_as(kubectl.env, acme, "create", "-f", "-", stdin=json.dumps(manifest))
    assert created.returncode == 0, created.stderr
    seen = kubectl_as(kubectl.env, acme, "get", "pods", "-o", "name")
    assert "pod/acme-vm" in seen.stdout
    hidden = kubectl_as(kubectl.env, globex, "get", "pod", "acme-vm")
    assert hidden.returncode != 0 and "NotFound" in hidden.stderr, hidden.stderr
    assert "acme-vm" not in kubectl_as(kubectl.env, globex, "get", "pods", "-A").stdout
    kubectl_as(kubectl.env, acme, "delete", "pod", "acme-vm", "--grace-period=0", "--force")


def test_delete_removes_qemu_and_files(kubectl: Kubectl, running_vm: str) -> None:
    data_dir = kubectl.env["ARKTOS_DATA_DIR"]
    containers = Path(data_dir) / "vmruntime" / "root" / "containers"
    assert any(containers.iterdir())
    started = time.monotonic()
    kubectl("delete", "pod", running_vm, "--wait=true", "--timeout=120s")
    kubectl.wait("qemu gone", lambda: not qemu_processes(data_dir), 30)
    kubectl.wait("VM files gone", lambda: not any(containers.iterdir()), 30)
    assert time.monotonic() - started < 120
