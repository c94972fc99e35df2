"""Arktos's VM pod actions over a real API server: ``pods/{name}/action`` and the ``actions`` resource.

Covers: POST pods/{name}/action for reboot/snapshot/restore (201 Status naming the Action; the
Action's spec: nodeName, podName, podID and the operation's parameters; owned by the pod), two
requests in one second getting distinct names, every refused input (unknown or missing
operation 400, wrong kind 400, snapshot without snapshotName 422, restore without snapshotID 422,
negative delay 422, a container pod 400, an unbound VM pod 409, a missing pod 404), discovery of
pods/action and actions, list and watch of actions with the field selectors spec.nodeName and
spec.podName across namespaces and per namespace, the /status subresource (status written, spec
kept; spec immutable through the main resource), the Action table columns, the VM pod phase
NoSchedule and condition VirtualMachineReady accepted through pods/status with READY/STATUS in
the pod table; stock kubectl ``create --raw`` and ``get actions``, and the python client's
``call_api``.
Leaves out authorization and tenants (test_vm_actions_access.py) and carrying actions out
(test_kubelet_actions.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from apiserver_process import REPO_ROOT, ApiServerProcess
from component_http import Api, assert_status, event_summary, pod, watching
from vm_actions_fixtures import bound_vm_pod, custom_action, vm_pod

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
KUBECTL = REPO_ROOT / ".venv" / "bin" / "kubectl"


async def test_reboot_creates_an_action_for_the_pods_node(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    vm = await bound_vm_pod(api, pods, "vm1", "node-a")
    reply = await api.post(f"{pods}/vm1/action", custom_action("reboot", rebootParams={"delayInSeconds": 3}))
    assert reply.status == 201, reply.raw
    status = reply.body
    assert status["kind"] == "Status" and status["status"] == "Success" and status["code"] == 201
    assert status["message"] == "Created action 'reboot' for Pod 'vm1'"
    name = status["details"]["name"]
    assert name.startswith("reboot-") and name[len("reboot-"):].isdigit()
    action = await api.ok("GET", f"/api/v1/namespaces/{namespace}/actions/{name}")
    assert action["kind"] == "Action" and action["metadata"]["uid"] == status["details"]["uid"]
    assert action["metadata"]["tenant"] == "system" and action["metadata"]["namespace"] == namespace
    assert action["spec"] == {"nodeName": "node-a", "podName": "vm1", "podID": vm["metadata"]["uid"],
                              "rebootAction": {"delayInSeconds": 3}}
    owner = action["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Pod", "vm1", vm["metadata"]["uid"])
    assert "status" not in action or not action["status"].get("complete")


async def test_snapshot_and_restore_and_same_second_names(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", "node-a")
    first = await api.ok("POST", f"{pods}/vm1/action", custom_action("snapshot",
                                                                    snapshotParams={"snapshotName": "s1"}))
    second = await api.ok("POST", f"{pods}/vm1/action", custom_action("snapshot",
                                                                     snapshotParams={"snapshotName": "s2"}))
    assert first["details"]["name"] != second["details"]["name"]
    restore = await api.ok("POST", f"{pods}/vm1/action", custom_action("restore",
                                                                      restoreParams={"snapshotID": "id-7"}))
    actions = f"/api/v1/namespaces/{namespace}/actions"
    snapshot = await api.ok("GET", f"{actions}/{second['details']['name']}")
    assert snapshot["spec"]["snapshotAction"] == {"snapshotName": "s2"}
    restored = await api.ok("GET", f"{actions}/{restore['details']['name']}")
    assert restored["spec"]["restoreAction"] == {"snapshotID": "id-7"}
    assert "rebootAction" not in restored["spec"] and "snapshotAction" not in restored["spec"]


async def test_refused_requests(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", "node-a")
    action = f"{pods}/vm1/action"

    status = assert_status(await api.post(action, custom_action("resize")), 400, "BadRequest")
    assert status["message"].startswith("Unsupported operation 'resize' for Pod 'vm1'")
    assert_status(await api.post(action, {"kind": "CustomAction"}), 400, "BadRequest")
    status = assert_status(await api.post(action, {"kind": "Pod", "operation": "reboot"}), 400, "BadRequest")
    assert "CustomAction" in status["message"]

    status = assert_status(await api.post(action, custom_action("snapshot")), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "snapshotParams.snapshotName"
    assert "Required value" in status["message"]
    status = assert_status(await api.post(action, custom_action("restore", restoreParams={})), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "restoreParams.snapshotID"
    status = assert_status(await api.post(action, custom_action(
        "reboot", rebootParams={"delayInSeconds": -1})), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "rebootParams.delayInSeconds"

    await api.ok("POST", pods, pod("web", node="node-a"))
    status = assert_status(await api.post(f"{pods}/web/action", custom_action("reboot")), 400, "BadRequest")
    assert status["message"] == ('pod "web" is not a VM pod: actions apply only to pods with '
                                 "spec.virtualMachine")
    await api.ok("POST", pods, vm_pod("unbound"))
    status = assert_status(await api.post(f"{pods}/unbound/action", custom_action("reboot")), 409, "Conflict")
    assert "not bound to a node" in status["message"]
    status = assert_status(await api.post(f"{pods}/ghost/action", custom_action("reboot")), 404, "NotFound")
    assert status["message"] == 'pods "ghost" not found'
    # Nothing was stored by the refused requests.
    listed = await api.ok("GET", f"/api/v1/namespaces/{namespace}/actions")
    assert listed["items"] == []
    # Only POST reaches the subresource.
    assert (await api.get(action)).status == 405


async def test_discovery_names_the_action_kinds(api: Api) -> None:
    resources = {r["name"]: r for r in (await api.ok("GET", "/api/v1"))["resources"]}
    action = resources["pods/action"]
    assert action["kind"] == "CustomAction" and action["verbs"] == ["create"]
    assert resources["actions"]["kind"] == "Action" and resources["actions"]["namespaced"] is True
    assert resources["actions/status"]["kind"] == "Action"


async def test_list_and_watch_by_node_and_pod(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm-a", "sel-node-a")
    await bound_vm_pod(api, pods, "vm-b", "sel-node-b")
    await api.ok("POST", f"{pods}/vm-b/action", custom_action("reboot"))
    async with watching(api, "/api/v1/actions", {"fieldSelector": "spec.nodeName=sel-node-a"}) as stream:
        made = await api.ok("POST", f"{pods}/vm-a/action", custom_action("reboot"))
        [event] = await stream.events(1)
        assert event_summary([event]) == [("ADDED", made["details"]["name"])]
        assert event["object"]["spec"]["nodeName"] == "sel-node-a"
    everywhere = await api.ok("GET", "/api/v1/actions", params={"fieldSelector": "spec.nodeName=sel-node-a"})
    assert [a["spec"]["podName"] for a in everywhere["items"]] == ["vm-a"]
    by_pod = await api.ok("GET", f"/api/v1/namespaces/{namespace}/actions",
                          params={"fieldSelector": "spec.podName=vm-b,status.complete=false"})
    assert [a["spec"]["nodeName"] for a in by_pod["items"]] == ["sel-node-b"]
    status = assert_status(await api.get("/api/v1/actions", params={"fieldSelector": "spec.foo=x"}),
                           400, "BadRequest")
    assert "spec.foo" in status["message"]


async def test_status_subresource_and_immutable_spec(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", "node-a")
    name = (await api.ok("POST", f"{pods}/vm1/action", custom_action(
        "snapshot", snapshotParams={"snapshotName": "s1"})))["details"]["name"]
    path = f"/api/v1/namespaces/{namespace}/actions/{name}"
    written = await api.ok("PATCH", f"{path}/status", {
        "spec": {"podName": "other"},
        "status": {"complete": True, "error": "", "snapshotStatus": {"snapshotID": "snap-1"}}},
        content_type="application/merge-patch+json")
    assert written["status"]["complete"] is True and written["spec"]["podName"] == "vm1"
    completed = await api.ok("GET", "/api/v1/actions",
                             params={"fieldSelector": f"status.complete=true,metadata.name={name}"})
    assert [a["metadata"]["name"] for a in completed["items"]] == [name]
    status = assert_status(await api.patch(path, {"spec": {"nodeName": "node-z"}}), 422, "Invalid")
    assert "field is immutable" in status["message"]

    table = await api.ok("GET", f"/api/v1/namespaces/{namespace}/actions", headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Operation", "Pod", "Node",
                                                               "Complete", "Age", "Result"]
    [row] = table["rows"]
    assert row["cells"][:5] == [name, "snapshot", "vm1", "node-a", True]
    assert row["cells"][6] == "snapshotID=snap-1"


async def test_vm_pod_phase_no_schedule_and_table(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", "node-a")
    running = {"status": {"phase": "Running", "conditions": [
        {"type": "VirtualMachineReady", "status": "True"}],
        "virtualMachineStatus": {"name": "vm", "ready": True, "powerState": "running", "restartCount": 2}}}
    await api.ok("PATCH", f"{pods}/vm1/status", running, content_type="application/merge-patch+json")
    row = (await api.ok("GET", f"{pods}/vm1", headers={"Accept": TABLE}))["rows"][0]
    assert row["cells"][1:4] == ["1/1", "Running", "2"]

    shut_down = {"status": {"phase": "NoSchedule", "conditions": [
        {"type": "VirtualMachineReady", "status": "False", "reason": "Shutdown"}],
        "virtualMachineStatus": {"name": "vm", "ready": False, "powerState": "shutdown"}}}
    stored = await api.ok("PATCH", f"{pods}/vm1/status", shut_down,
                          content_type="application/merge-patch+json")
    assert stored["status"]["phase"] == "NoSchedule"
    assert stored["status"]["conditions"][0]["type"] == "VirtualMachineReady"
    row = (await api.ok("GET", f"{pods}/vm1", headers={"Accept": TABLE}))["rows"][0]
    assert row["cells"][1:3] == ["0/1", "NoSchedule"]
    listed = await api.ok("GET", f"{pods}", params={"fieldSelector": "status.phase=NoSchedule"})
    assert [p["metadata"]["name"] for p in listed["items"]] == ["vm1"]


def _kubectl(server: ApiServerProcess, *args: str) -> str:
    result = subprocess.run([str(KUBECTL), "--kubeconfig", str(server.kubeconfig), *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


async def test_stock_kubectl_and_python_client(api: Api, namespace: str, apiserver: ApiServerProcess,
                                               tmp_path: Path) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await bound_vm_pod(api, pods, "vm1", "node-k")
    body = tmp_path / "body.json"
    body.write_text(json.dumps(custom_action("snapshot", snapshotParams={"snapshotName": "nightly"})))
    out = await asyncio.to_thread(_kubectl, apiserver, "create", "--raw",
                                  f"{pods}/vm1/action", "-f", str(body))
    created = json.loads(out)
    assert created["status"] == "Success" and created["details"]["name"].startswith("snapshot-")
    table = await asyncio.to_thread(_kubectl, apiserver, "get", "actions", "-n", namespace)
    header, line = table.splitlines()[:2]
    assert header.split() == ["NAME", "OPERATION", "POD", "NODE", "COMPLETE", "AGE"]
    assert line.split()[:5] == [created["details"]["name"], "snapshot", "vm1", "node-k", "false"]

    def call_with_python_client() -> object:
        import kubernetes.client as k8s
        client = k8s.ApiClient(k8s.Configuration(host=apiserver.url))
        try:
            # The generated client's two steps (kubernetes 37): serialize, then call.
            method, url, headers, body, _ = client.param_serialize(
                "POST", "/api/v1/namespaces/{namespace}/pods/{name}/action",
                path_params={"namespace": namespace, "name": "vm1"},
                body=custom_action("reboot", rebootParams={"delayInSeconds": 0}),
                header_params={"Content-Type": "application/json", "Accept": "application/json"})
            response = client.call_api(method, url, header_params=headers, body=body)
            response.read()
            assert response.status == 201, response.data
            return json.loads(response.data)
        finally:
            client.close()

    answer = await asyncio.to_thread(call_with_python_client)
    assert isinstance(answer, dict) and answer["status"] == "Success", answer
    action = await api.ok("GET", f"/api/v1/namespaces/{namespace}/actions/{answer['details']['name']}")
    assert action["spec"]["rebootAction"] == {"delayInSeconds": 0}
