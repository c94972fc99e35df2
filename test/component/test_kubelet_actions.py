"""kubelet.actions.ActionExecutor against a real API server, with a fake VM runtime.

The executor watches ``/api/v1/actions?fieldSelector=spec.nodeName=<node>`` as a kubelet would
(the plain port's admin identity here) and drives a recording `VmControl`.
Covers: reboot with its delay, snapshot reporting the runtime's snapshot id, restore naming it,
a runtime failure and a pod whose VM is not on the node reported as ``error`` with
``complete: true``; actions of another tenant carried out and reported through the long tenant
path; actions for another node and actions already complete before the executor started left
alone; each action carried out exactly once even when its object changes again afterwards; a
synchronous ``find_vm``.
Leaves out the real VM runtime (qemu) and the node authorizer (test_vm_actions_access.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from component_http import Api
from vm_actions_fixtures import bound_vm_pod, custom_action

from client.config import ClientConfig
from client.rest import ApiClient
from kubelet.actions import ActionExecutor, VmLookup
from kubelet.runtime import RuntimeOperationError

NODE = "exec-node"
TIMEOUT_S = 15.0


class FakeVms:
    """A VmControl that records every call; snapshots get id ``snap-<name>``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None:
        self.calls.append(("reboot", container_id, delay_s))

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        self.calls.append(("snapshot", container_id, snapshot_name))
        return f"snap-{snapshot_name}"

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None:
        self.calls.append(("restore", container_id, snapshot_id))
        if not snapshot_id.startswith("snap-"):
            raise RuntimeOperationError("RestoreError", f"no snapshot {snapshot_id}")

    async def set_power(self, container_id: str, power_spec: str) -> None:
        self.calls.append(("power", container_id, power_spec))


@pytest.fixture
async def executor(apiserver: ApiServerProcess) -> AsyncIterator[tuple[ActionExecutor, FakeVms]]:
    vms = FakeVms()

    async def find_vm(tenant: str, namespace: str, pod_name: str) -> VmLookup | None:
        if pod_name.startswith("novm"):
            return None
        return vms, f"{tenant}/{namespace}/{pod_name}"

    async with ApiClient(ClientConfig(server=apiserver.url)) as client:
        running = ActionExecutor(client, NODE, find_vm)
        task = asyncio.create_task(running.run())
        try:
            await asyncio.wait_for(running.informer.wait_for_sync(), TIMEOUT_S)
            yield running, vms
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def _finished(api: Api, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        action: dict[str, Any] = await api.ok("GET", path)
        if (action.get("status") or {}).get("complete"):
            return action
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never completed: {action}")


async def _act(api: Api, pods: str, pod: str, body: dict[str, Any]) -> str:
    name = (await api.ok("POST", f"{pods}/{pod}/action", body))["details"]["name"]
    actions = pods.rsplit("/pods", 1)[0] + "/actions"
    return f"{actions}/{name}"


async def test_operations_and_their_outcomes(api: Api, namespace: str,
                                             executor: tuple[ActionExecutor, FakeVms]) -> None:
    _, vms = executor
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", NODE)
    await bound_vm_pod(api, pods, "novm", NODE)
    vm = f"system/{namespace}/vm1"

    reboot = await _finished(api, await _act(api, pods, "vm1", custom_action(
        "reboot", rebootParams={"delayInSeconds": 2})))
    assert reboot["status"]["error"] == "" and reboot["status"]["rebootStatus"] == {"rebootSuccessful": True}
    assert reboot["status"]["completionTime"].endswith("Z")
    snapshot = await _finished(api, await _act(api, pods, "vm1", custom_action(
        "snapshot", snapshotParams={"snapshotName": "s1"})))
    snapshot_id = snapshot["status"]["snapshotStatus"]["snapshotID"]
    assert snapshot_id == "snap-s1"
    restore = await _finished(api, await _act(api, pods, "vm1", custom_action(
        "restore", restoreParams={"snapshotID": snapshot_id})))
    assert restore["status"]["restoreStatus"] == {"restoreSuccessful": True}
    assert vms.calls == [("reboot", vm, 2.0), ("snapshot", vm, "s1"), ("restore", vm, "snap-s1")]

    failed = await _finished(api, await _act(api, pods, "vm1", custom_action(
        "restore", restoreParams={"snapshotID": "bogus"})))
    assert failed["status"]["error"] == "restore failed: RestoreError: no snapshot bogus"
    assert failed["status"]["restoreStatus"] == {"restoreSuccessful": False}
    missing = await _finished(api, await _act(api, pods, "novm", custom_action("reboot")))
    assert missing["status"]["error"] == f"no VM of pod system/{namespace}/novm runs on node {NODE}"


async def test_each_action_once_and_only_this_nodes(api: Api, namespace: str,
                                                    executor: tuple[ActionExecutor, FakeVms]) -> None:
    _, vms = executor
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", NODE)
    await bound_vm_pod(api, pods, "elsewhere", "other-node")
    path = await _act(api, pods, "vm1", custom_action("reboot"))
    other = await _act(api, pods, "elsewhere", custom_action("reboot"))
    await _finished(api, path)
    # A change to the finished Action (a label) reaches the executor again: nothing repeats.
    await api.ok("PATCH", path, {"metadata": {"labels": {"seen": "yes"}}},
                 content_type="application/merge-patch+json")
    await asyncio.sleep(0.5)
    assert [c for c in vms.calls if c[1].endswith("/vm1")] == [("reboot", f"system/{namespace}/vm1", 0.0)]
    assert not [c for c in vms.calls if c[1].endswith("/elsewhere")]
    assert not ((await api.ok("GET", other)).get("status") or {}).get("complete")


async def test_other_tenants_and_already_complete_actions(api: Api, apiserver: ApiServerProcess) -> None:
    if (await api.get("/api/v1/tenants/acme")).status == 404:
        await api.ok("POST", "/api/v1/tenants", {"apiVersion": "v1", "kind": "Tenant",
                                                 "metadata": {"name": "acme"}})
        await api.ok("POST", "/api/v1/tenants/acme/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    pods = "/api/v1/tenants/acme/namespaces/default/pods"
    await bound_vm_pod(api, pods, "vm-acme", NODE)
    await bound_vm_pod(api, pods, "vm-old", NODE)
    old = await _act(api, pods, "vm-old", custom_action("reboot"))
    await api.ok("PATCH", f"{old}/status", {"status": {"complete": True, "error": ""}},
                 content_type="application/merge-patch+json")
    vms = FakeVms()

    def find_vm(tenant: str, namespace: str, pod_name: str) -> VmLookup | None:  # synchronous on purpose
        return vms, f"{tenant}/{namespace}/{pod_name}"

    async with ApiClient(ClientConfig(server=apiserver.url)) as client:
        running = ActionExecutor(client, NODE, find_vm)
        task = asyncio.create_task(running.run())
        try:
            done = await _finished(api, await _act(api, pods, "vm-acme", custom_action(
                "snapshot", snapshotParams={"snapshotName": "t"})))
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert done["metadata"]["tenant"] == "acme"
    assert done["status"]["snapshotStatus"] == {"snapshotID": "snap-t"}
    assert vms.calls == [("snapshot", "acme/default/vm-acme", "t")]
