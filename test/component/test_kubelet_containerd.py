"""``python -m kubelet`` on a real containerd: pods really run.

A private containerd (own bridge ``arktos-kl0``, subnet ``10.97.0.0/16``) and the kubelet as a
process against a real API server. Covers: the Node registers with ContainerRuntimeReady=True
and VmRuntimeReady=False (no VM endpoint); a busybox pod bound to the node goes Running with a pod
IP from the bridge, a running containerStatus and a container id ``containerd://...``; its CRI
log file holds the container's output; deleting the pod stops the container and the pod object
goes (final delete by the kubelet). Leaves out streaming (logs/exec over the API), volumes,
probes and the scheduler (the test binds the pod by setting spec.nodeName).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from containerd_env import private_containerd
from kubelet_process import eventually, running_kubelet

from client.config import config_for_url
from client.errors import NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess

pytestmark = pytest.mark.e2e

NODE = "kl-node"
PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
CGROUP_ROOT = "/arktos-kl"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-kl"), pod_subnet="10.97.0.0/16",
                            bridge_name="arktos-kl0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture
def kubelet(apiserver: ApiServerProcess, containerd: ContainerdProcess, tmp_path: Path) -> Iterator[Path]:
    with running_kubelet(apiserver.url, NODE, f"containerRuntime,container,{containerd.endpoint}", tmp_path,
                         "--cgroup-root", CGROUP_ROOT) as work:
        yield work


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api:
        yield api


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}


async def test_a_pod_really_runs_and_is_deleted(client: ApiClient, kubelet: Path) -> None:
    async def node_ready() -> dict[str, Any] | None:
        try:
            node = await client.get(NODES, NODE)
        except NotFound:
            return None
        return node if conditions(node).get("Ready") == "True" else None

    node = await eventually(node_ready, "node Ready", kubelet)
    assert conditions(node)["ContainerRuntimeReady"] == "True"
    assert conditions(node)["VmRuntimeReady"] == "False"

    name = f"web-{uuid.uuid4().hex[:6]}"
    await client.create(PODS, {"metadata": {"name": name}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": 2,
        "containers": [{"name": "c", "image": "busybox:1.36",
                        "command": ["sh", "-c", "echo started-in-containerd; exec sleep 300"]}]}},
        namespace="default")

    async def running() -> dict[str, Any] | None:
        pod = await client.get(PODS, name, namespace="default")
        return pod if (pod.get("status") or {}).get("phase") == "Running" else None

    pod = await eventually(running, f"pod {name} Running", kubelet)
    status = pod["status"]
    assert status["podIP"].startswith("10.97.")
    container = status["containerStatuses"][0]
    assert "running" in container["state"] and container["containerID"].startswith("containerd://")
    logs = list((kubelet / "pods").rglob("*.log"))
    assert any("started-in-containerd" in p.read_text() for p in logs), logs

    await client.delete(PODS, name, namespace="default")

    async def gone() -> bool:
        try:
            await client.get(PODS, name, namespace="default")
        except NotFound:
            return True
        return False

    await eventually(gone, f"pod {name} deleted by the kubelet", kubelet)
