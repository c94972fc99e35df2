"""A hollow kubelet against a real API server: its Node, its Lease, and the lives of its pods.

Covers registration (labels, capacity, nodeInfo, conditions incl. ContainerRuntimeReady and
VmRuntimeReady, readiness following the container runtime), Lease renewal in kube-node-lease,
a pod of another tenant with an init container reaching Running with its status written through
pods/status, Created/Started/Killing events, graceful deletion ending in the final delete,
CrashLoopBackOff and restartPolicy Never, a restarted kubelet adopting the runtime's
containers while removing orphans, and Node conditions and pod statuses that another writer
changed (as the node lifecycle controller does) being reported again. Leaves out real containers
(CRI, later) and the scheduler (pods are bound by spec.nodeName; the hollow-mode test uses the
scheduler).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from kubelet_env import conditions, eventually, new_tenant_namespace, running_kubelet

from apis.meta import parse_time
from client.config import config_for_url
from client.errors import NotFound
from client.events import EVENTS
from client.leaderelection import LEASES
from client.rest import ApiClient
from kubelet.config import KUBELET_VERSION, parse_runtime_endpoints
from kubelet.hollow import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION, HollowRuntime
from kubelet.node import NODES
from kubelet.runtime import RuntimeHealth
from kubelet.runtimes import build_registry
from kubelet.status_writer import PODS


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> Any:
    async with ApiClient(config_for_url(apiserver.url)) as c:
        yield c


def node_name() -> str:
    return f"kn-{uuid.uuid4().hex[:8]}"


def pod_body(name: str, node: str, *, init: bool = False, policy: str = "Always",
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node, "restartPolicy": policy,
                            "terminationGracePeriodSeconds": 5,
                            "containers": [{"name": "app", "image": "busybox:1.36"}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


async def get_pod(client: ApiClient, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(PODS, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return None


async def test_registers_its_node_ready_and_renews_its_lease(client: ApiClient) -> None:
    name = node_name()
    async with running_kubelet(client, name):
        node = await client.get(NODES, name)
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name and labels["kubernetes.io/os"] == "linux"
        assert "kubernetes.io/arch" in labels
        assert conditions(node) == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
                                    "PIDPressure": "False", "ContainerRuntimeReady": "True",
                                    "VmRuntimeReady": "True"}
        status = node["status"]
        assert status["capacity"]["pods"] == "110" and status["allocatable"]["cpu"]
        assert status["nodeInfo"]["kubeletVersion"] == KUBELET_VERSION
        assert status["nodeInfo"]["containerRuntimeVersion"].startswith("hollow://")
        assert {"type": "InternalIP", "address": "192.0.2.10"} in status["addresses"]
        lease = await eventually(lambda: _lease(client, name), "the node lease")
        assert lease["spec"]["holderIdentity"] == name and lease["spec"]["leaseDurationSeconds"] == 40
        first = parse_time(lease["spec"]["renewTime"])

        async def renewed() -> bool:
            later = await _lease(client, name)
            return later is not None and parse_time(later["spec"]["renewTime"]) != first

        await eventually(renewed, "a second lease renewal", within=5)


async def _lease(client: ApiClient, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(LEASES, name, tenant="system", namespace="kube-node-lease")
    except NotFound:
        return None


async def test_runtime_health_drives_ready_and_runtime_conditions(client: ApiClient) -> None:
    name = node_name()
    runtime = HollowRuntime("containerRuntime")
    registry = build_registry(parse_runtime_endpoints("hollow://"), {"hollow": lambda e: runtime})
    async with running_kubelet(client, name, registry=registry):
        assert conditions(await client.get(NODES, name))["VmRuntimeReady"] == "False"
        runtime.ready = False

        async def not_ready() -> bool:
            node_conditions = conditions(await client.get(NODES, name))
            return node_conditions["Ready"] == "False" and node_conditions["ContainerRuntimeReady"] == "False"

        await eventually(not_ready, "Ready=False after the runtime went down", within=5)
        assert await runtime.health() == RuntimeHealth(False, "HollowRuntimeNotReady",
                                                       "the hollow runtime was told to be unready")


async def test_pod_of_a_tenant_runs_with_full_status_then_deletes_gracefully(client: ApiClient) -> None:
    name = node_name()
    tenant, namespace = await new_tenant_namespace(client)
    async with running_kubelet(client, name) as kubelet:
        await client.create(PODS, pod_body("web", name, init=True), tenant=tenant, namespace=namespace)

        async def running() -> dict[str, Any] | None:
            pod = await get_pod(client, tenant, namespace, "web")
            return pod if pod and (pod.get("status") or {}).get("phase") == "Running" else None

        pod = await eventually(running, "pod Running")
        status = pod["status"]
        assert conditions(pod) == {"PodScheduled": "True", "Initialized": "True",
                                   "ContainersReady": "True", "Ready": "True"}
        app = status["containerStatuses"][0]
        assert app["ready"] and app["started"] and app["restartCount"] == 0 and "running" in app["state"]
        assert app["containerID"].startswith("hollow://") and app["imageID"].startswith("sha256:")
        assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
        assert status["hostIP"] == "192.0.2.10" and status["podIP"] and status["startTime"]

        async def reasons() -> list[str]:
            items = (await client.list(EVENTS, tenant=tenant, namespace=namespace)).get("items") or []
            return [e["reason"] for e in items if e["involvedObject"]["name"] == "web"]

        await eventually(lambda: _has(reasons, {"Created", "Started"}), "Created and Started events")
        await client.delete(PODS, "web", tenant=tenant, namespace=namespace)
        await eventually(lambda: _gone(client, tenant, namespace, "web"), "the final deletion", within=10)
        await eventually(lambda: _has(reasons, {"Killing"}), "a Killing event")
        runtime = kubelet.nodes[name].context.registry.readiness_runtime()
        assert await runtime.list_containers() == []


async def _has(reasons: Any, wanted: set[str]) -> bool:
    return wanted <= set(await reasons())


async def _gone(client: ApiClient, tenant: str, namespace: str, name: str) -> bool:
    return await get_pod(client, tenant, namespace, name) is None


async def test_crashing_container_backs_off_and_never_policy_fails(client: ApiClient) -> None:
    name = node_name()
    crash = {RUN_SECONDS_ANNOTATION: "0.1", EXIT_CODE_ANNOTATION: "2"}
    async with running_kubelet(client, name):
        await client.create(PODS, pod_body("crash", name, annotations=crash), tenant="system",
                            namespace="default")
        await client.create(PODS, pod_body("once", name, policy="Never", annotations=crash),
                            tenant="system", namespace="default")

        async def backing_off() -> dict[str, Any] | None:
            pod = await get_pod(client, "system", "default", "crash")
            statuses = (pod or {}).get("status", {}).get("containerStatuses") or [{}]
            waiting = statuses[0].get("state", {}).get("waiting") or {}
            return statuses[0] if waiting.get("reason") == "CrashLoopBackOff" else None

        app = await eventually(backing_off, "CrashLoopBackOff")
        assert app["restartCount"] == 1
        assert app["lastState"]["terminated"]["exitCode"] == 2

        async def failed() -> bool:
            pod = await get_pod(client, "system", "default", "once")
            return (pod or {}).get("status", {}).get("phase") == "Failed"

        await eventually(failed, "the Never pod Failed")
        for pod_name in ("crash", "once"):
            await client.delete(PODS, pod_name, tenant="system", namespace="default", grace_period_seconds=0)


async def test_restarted_kubelet_adopts_containers_and_removes_orphans(client: ApiClient) -> None:
    name = node_name()
    runtime = HollowRuntime("containerRuntime", start_delay_s=0.05)
    registry = build_registry(parse_runtime_endpoints("hollow://"), {"hollow": lambda e: runtime})
    async with running_kubelet(client, name, registry=registry):
        await client.create(PODS, pod_body("kept", name), tenant="system", namespace="default")

        async def running() -> bool:
            pod = await get_pod(client, "system", "default", "kept")
            return (pod or {}).get("status", {}).get("phase") == "Running"

        await eventually(running, "pod Running")
    created = runtime.containers_created
    orphan = await runtime.run_sandbox({"metadata": {"uid": "gone-uid", "name": "x", "namespace": "default"}})
    async with running_kubelet(client, name, registry=registry) as kubelet:
        await eventually(lambda: _synced_twice(kubelet), "syncs after the restart")
        assert runtime.containers_created == created
        assert orphan.id not in {s.id for s in await runtime.list_sandboxes()}
        pod = await get_pod(client, "system", "default", "kept")
        assert pod is not None and pod["status"]["phase"] == "Running"
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    await client.delete(PODS, "kept", tenant="system", namespace="default", grace_period_seconds=0)


async def _synced_twice(kubelet: Any) -> bool:
    return bool(kubelet.pod_syncs() >= 2)


async def test_statuses_another_writer_changed_are_reported_again(client: ApiClient) -> None:
    """What the node lifecycle controller writes while a kubelet cannot report (Node conditions
    Unknown, pods not Ready) does not stick once the kubelet reports again, as upstream's kubelet
    compares with the API's view (tryUpdateNodeStatus; the status manager's needsReconcile)."""
    name = node_name()
    tenant, namespace = await new_tenant_namespace(client)
    async with running_kubelet(client, name):
        await client.create(PODS, pod_body("web", name), tenant=tenant, namespace=namespace)

        async def ready_pod() -> dict[str, Any] | None:
            pod = await get_pod(client, tenant, namespace, "web")
            return pod if pod and conditions(pod).get("Ready") == "True" else None

        pod = await eventually(ready_pod, "pod Ready")
        node = await client.get(NODES, name)
        node["status"]["conditions"] = [{**c, "status": "Unknown", "reason": "NodeStatusUnknown"}
                                        for c in node["status"]["conditions"]]
        await client.update(NODES, node, subresource="status")
        pod["status"]["conditions"] = [{**c, "status": "False"} if c["type"] == "Ready" else c
                                       for c in pod["status"]["conditions"]]
        await client.update(PODS, pod, subresource="status", tenant=tenant, namespace=namespace)

        async def node_ready() -> bool:
            return conditions(await client.get(NODES, name)).get("Ready") == "True"

        await eventually(node_ready, "the node's Ready condition reported again", within=5)
        await eventually(ready_pod, "the pod's Ready condition reported again", within=10)
