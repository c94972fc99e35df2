"""Unit tests for the policies the pod sync asks (`kubelet.runtime_policy`, `kubelet.vm.policy`).

Covers: the policy is picked by workload type (``spec.virtualMachine`` → the VM policy); what each
answers — the containers to run (the spec's; the VM, or nothing while power control owns it), the
node inputs (a container's env; nothing for a VM, without touching the node's inputs), the status
(container statuses; ``virtualMachineStatus``); and the VM policy's power control after the
containers: nothing on a runtime without VM verbs, otherwise the status is reported *before*
``SetVmPowerState`` is called, and forgetting a pod drops its restart ledger.
Leaves out: the sync's own algorithm (test_kubelet_probe_workers.py, test_kubelet_vm_pod_sync.py,
test_kubelet_image_puller.py) and real runtimes (test/component/test_kubelet_vm_pods.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelet_fakes import UNUSED_API, runtime_policies
from kubelet_vm_fakes import FakeVmRuntime

from client.config import config_for_url
from client.events import EventType
from client.rest import ApiClient
from kubelet.hollow import HollowRuntime
from kubelet.pod_inputs import PodInputs
from kubelet.runtime import ContainerInfo
from kubelet.runtime_policy import ContainerPolicy
from kubelet.status import PodObservation
from kubelet.vm.policy import VmPolicy


def _container_pod() -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u-c"},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "app", "image": "busybox:1.36", "env": [{"name": "GREETING", "value": "hi"}]}]},
            "status": {}}


def _vm_pod(power: str = "Running") -> dict[str, Any]:
    return {"metadata": {"name": "vmp", "namespace": "ns", "uid": "u-v"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "virtualMachine": {
                "name": "vm1", "image": "cirros", "powerSpec": power}},
            "status": {}}


def _inputs(tmp_path: Path) -> PodInputs:
    # No service links: the UNUSED_API server is never asked for services.
    return PodInputs(ApiClient(config_for_url(UNUSED_API)), root_dir=tmp_path, node_allocatable={},
                     service_links=False)


def test_the_policy_follows_the_workload_type() -> None:
    policies = runtime_policies()
    assert isinstance(policies.for_pod(_container_pod()), ContainerPolicy)
    assert isinstance(policies.for_pod(_vm_pod()), VmPolicy)
    assert policies.all() == (policies.container, policies.vm)


def test_containers_to_run() -> None:
    pod = _container_pod()
    assert ContainerPolicy().containers_to_run(pod, []) == pod["spec"]["containers"]
    [vm] = VmPolicy().containers_to_run(_vm_pod(), [])
    assert (vm["name"], vm["image"], vm["imagePullPolicy"]) == ("vm1", "cirros", "Always")
    # Created powered off: power control owns it, the sync starts nothing.
    assert VmPolicy().containers_to_run(_vm_pod("Shutdown"), []) == []


async def test_a_container_gets_node_inputs_and_a_vm_none(tmp_path: Path) -> None:
    pod = _container_pod()
    warnings: list[tuple[str, str]] = []

    def warn(reason: str, message: str) -> None:
        warnings.append((reason, message))

    got = await ContainerPolicy().container_inputs(
        _inputs(tmp_path), pod, pod["spec"]["containers"][0], host_ip="192.0.2.1", pod_ip="10.0.0.5",
        warn=warn)
    assert got is not None and ("GREETING", "hi") in list(got.env)
    vm_pod = _vm_pod()
    vm_root = tmp_path / "vm"
    assert await VmPolicy().container_inputs(
        _inputs(vm_root), vm_pod, {"name": "vm1"}, host_ip="192.0.2.1", pod_ip="", warn=warn) is None
    assert not vm_root.exists() and warnings == []  # nothing was set up for the VM


async def test_status_comes_from_the_pods_policy() -> None:
    runtime = HollowRuntime(start_delay_s=0.0)
    obs = PodObservation(containers=[], host_ip="192.0.2.1", id_scheme="hollow")
    container = await ContainerPolicy().pod_status(_container_pod(), runtime, obs, previous=None)
    assert [s["name"] for s in container["containerStatuses"]] == ["app"]
    vm = await VmPolicy().pod_status(_vm_pod(), runtime, obs, previous=None)
    assert "containerStatuses" not in vm and vm["virtualMachineStatus"]["name"] == "vm1"


async def _running_vm(runtime: FakeVmRuntime, pod: dict[str, Any]) -> ContainerInfo:
    sandbox = await runtime.run_sandbox(pod)
    created = await runtime.create_container(sandbox, pod, {"name": "vm1", "image": "cirros"}, attempt=0,
                                             image_ref="cirros")
    runtime.force(created.id, state="running")
    return created


async def test_power_control_reports_before_it_changes_the_vm() -> None:
    runtime, pod = FakeVmRuntime(), _vm_pod("Paused")
    vm = await _running_vm(runtime, pod)
    seen: list[str] = []

    async def report(containers: list[ContainerInfo]) -> None:
        seen.append(f"report {[c.reason for c in containers]} after {len(runtime.calls)} calls")

    def record(event_type: EventType, reason: str, message: str) -> None:
        seen.append(f"{event_type} {reason}")

    recheck = await VmPolicy().after_containers(pod, runtime, report=report, record=record)
    assert seen == ["report [''] after 0 calls", "Normal Paused"]
    assert runtime.calls == [("power", vm.id, "Paused")]
    assert recheck is not None and recheck > 0
    # Nothing left to change: no report, no call, nothing to look at again.
    seen.clear()
    assert await VmPolicy().after_containers(pod, runtime, report=report, record=record) is None
    assert seen == [] and len(runtime.calls) == 1


async def test_no_power_control_without_vm_verbs_nor_for_containers() -> None:
    hollow, pod = HollowRuntime(start_delay_s=0.0), _vm_pod("Paused")

    async def report(containers: list[ContainerInfo]) -> None:
        raise AssertionError("nothing to report before")

    def record(event_type: EventType, reason: str, message: str) -> None:
        raise AssertionError("nothing to record")

    assert await VmPolicy().after_containers(pod, hollow, report=report, record=record) is None
    assert await ContainerPolicy().after_containers(_container_pod(), hollow, report=report,
                                                    record=record) is None


async def test_forget_drops_the_vm_restart_ledger() -> None:
    runtime, pod = FakeVmRuntime(), _vm_pod()
    vm = await _running_vm(runtime, pod)
    policy = VmPolicy()
    policy.ledger.record("u-v", vm.id)
    assert policy.ledger.restart_count(pod, vm, boots=1) == 1
    policy.forget("u-v")
    assert policy.ledger.restart_count(pod, vm, boots=1) == 0
