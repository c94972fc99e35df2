"""``python -m kubelet`` on a real containerd: pods really run.

A private containerd (own bridge ``arktos-kl0``, subnet ``10.97.0.0/16``) and the kubelet as a
process against a real API server. Covers: the Node registers with ContainerRuntimeReady=True
and VmRuntimeReady=False (no VM endpoint); a busybox pod bound to the node goes Running with a pod
IP from the bridge, a running containerStatus and a container id ``containerd://...``; its CRI
log file holds the container's output; deleting the pod stops the container and the pod object
goes (final delete by the kubelet); a pod on an Arktos network gets that Network's
``status.dnsServiceIP`` as nameserver (the kubelet's own Network watch), and a pod on a network
without one ``--cluster-dns`` with a NetworkDNSMissing event. Leaves out streaming (logs/exec over
the API), volumes, probes and the scheduler (the test binds the pod by setting spec.nodeName).
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
from client.events import EVENTS
from client.resources import NETWORKS, ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess

pytestmark = pytest.mark.e2e

NODE = "kl-node"
PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
CGROUP_ROOT = "/arktos-kl"
CLUSTER_DNS = "10.0.0.10"
NETWORK_LABEL = "arktos.futurewei.com/network"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-kl"), pod_subnet="10.97.0.0/16",
                            bridge_name="arktos-kl0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture
def kubelet(apiserver: ApiServerProcess, containerd: ContainerdProcess, tmp_path: Path) -> Iterator[Path]:
    with running_kubelet(apiserver.url, NODE, f"containerRuntime,container,{containerd.endpoint}", tmp_path,
                         "--cgroup-root", CGROUP_ROOT, "--cluster-dns", CLUSTER_DNS,
                         "--cluster-domain", "cluster.local") as work:
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

    await delete_and_wait(client, name, kubelet)


async def delete_and_wait(client: ApiClient, name: str, kubelet: Path) -> None:
    await client.delete(PODS, name, namespace="default")

    async def gone() -> bool:
        try:
            await client.get(PODS, name, namespace="default")
        except NotFound:
            return True
        return False

    await eventually(gone, f"pod {name} deleted by the kubelet", kubelet)


async def test_a_pods_nameserver_is_its_networks_dns(client: ApiClient, kubelet: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    blue, red, blue_dns = f"blue-{suffix}", f"red-{suffix}", "10.97.250.10"
    for network in (blue, red):
        created = await client.create(NETWORKS, {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network",
                                                 "metadata": {"name": network}, "spec": {"type": "vpc"}})
        # As the Network controller would: blue Ready with its DNS address, red not (yet).
        created["status"] = {"phase": "Ready", "dnsServiceIP": blue_dns} if network == blue else \
            {"phase": "Pending"}
        await client.update(NETWORKS, created, subresource="status")
    pods = {network: f"dns-{network}" for network in (blue, red)}
    for network, name in pods.items():
        await client.create(PODS, {"metadata": {"name": name, "labels": {NETWORK_LABEL: network}}, "spec": {
            "nodeName": NODE, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox:1.36",
                            "command": ["sh", "-c", f"echo {name}; cat /etc/resolv.conf; exec sleep 300"]}]}},
            namespace="default")

    def resolv_of(name: str) -> str:
        logs = [p.read_text() for p in (kubelet / "pods").rglob("*.log")]
        return next((text for text in logs if f"{name}\n" in text), "")

    async def both_logged() -> bool:
        return all("nameserver" in resolv_of(name) for name in pods.values())

    try:
        await eventually(both_logged, "both pods printing their resolv.conf", kubelet)
        assert f"nameserver {blue_dns}" in resolv_of(pods[blue]) and CLUSTER_DNS not in resolv_of(pods[blue])
        assert f"nameserver {CLUSTER_DNS}" in resolv_of(pods[red])
        events = (await client.list(EVENTS, namespace="default",
                                    field_selector=f"involvedObject.name={pods[red]}"))["items"]
        assert [e["message"] for e in events if e["reason"] == "NetworkDNSMissing"] == [
            f'network "{red}" of tenant "system" has no DNS service IP; '
            f"using the kubelet's cluster DNS {CLUSTER_DNS}"]
    finally:
        for name in pods.values():
            await delete_and_wait(client, name, kubelet)
        for network in (blue, red):
            await client.delete(NETWORKS, network)
