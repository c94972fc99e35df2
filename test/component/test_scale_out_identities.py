"""The scale-out components with the identities a deployment gives them, over TLS.

Three TLS servers — tp0, tp1, rp0 — share one CA, service-account key pair and token file (as
arktos-up-scale-out.sh's partitions share CERT_DIR); each partition gets its own copy of the
component kubeconfigs pointing at it. The components run as processes with those kubeconfigs,
exactly as deployed: the RP controller manager (``controller.kubeconfig`` of rp0,
``--use-service-account-credentials``, ``--tenant-server-kubeconfig`` = the TPs'
``controller.kubeconfig``) evicts a silent node's pods in both TPs — acting there as the
``node-controller`` service account of each TP, which its identity creates and mints tokens
for — and gives the node a pod CIDR and TTL annotation as ``node-controller``/``ttl-controller``;
the TP controller manager's pod GC checks pods against rp0's nodes as ``pod-garbage-collector``
of rp0; the TP scheduler (``scheduler.kubeconfig``) binds to rp0's node. No component log shows a
403 or 401. Leaves out the behaviour details (test_scale_out_controllers, test_scale_out_scheduler).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import E2E_NODE_NAME, ApiServerProcess, free_port
from controller_harness import eventually
from scale_out_env import bound_pod, component, log_contains, pod_gone, pod_leaving, renew_lease
from scheduler_env import make_node, make_pod, make_tenant, node_of

from client.config import load_kubeconfig
from client.rest import ApiClient
from controllers.nodelifecycle import NODES
from tools.cluster_credentials import ensure_cluster_credentials

pytestmark = pytest.mark.slow

PARTITIONS = ("tp0", "tp1", "rp0")
COMPONENT_KUBECONFIGS = ("admin.kubeconfig", "controller.kubeconfig", "scheduler.kubeconfig")
UNREACHABLE = "node.kubernetes.io/unreachable"


def partition_kubeconfig(source: Path, target: Path, server: str) -> Path:
    """A copy of a component kubeconfig that points at ``server`` (the certificates are embedded)."""
    document = yaml.safe_load(source.read_text())
    for cluster in document["clusters"]:
        cluster["cluster"]["server"] = server
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(document))
    return target


@pytest.fixture(scope="module")
def partitions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ApiServerProcess]]:
    root = tmp_path_factory.mktemp("scale-out")
    ports = {name: free_port() for name in PARTITIONS}
    credentials = ensure_cluster_credentials(root / "certs", server=f"https://127.0.0.1:{ports['tp0']}",
                                             hosts=["127.0.0.1"], node_name=E2E_NODE_NAME)
    servers: dict[str, ApiServerProcess] = {}
    try:
        for name, port in ports.items():
            for file in COMPONENT_KUBECONFIGS:
                partition_kubeconfig(credentials.cert_dir / file, root / name / file, f"https://127.0.0.1:{port}")
            servers[name] = ApiServerProcess(port=port, data_dir=root / name / "data",
                                             log_path=root / name / "kube-apiserver.log",
                                             kubeconfig=root / name / "admin.kubeconfig",
                                             credentials=credentials).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def kubeconfig(server: ApiServerProcess, component_file: str) -> str:
    return str(server.kubeconfig.with_name(component_file))


@pytest.fixture
async def admins(partitions: dict[str, ApiServerProcess]) -> AsyncIterator[dict[str, ApiClient]]:
    clients = {name: ApiClient(load_kubeconfig(server.kubeconfig)) for name, server in partitions.items()}
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.close()


async def no_forbidden(log_path: Path) -> None:
    text = await asyncio.to_thread(log_path.read_text)
    # Refusals show as "403 Forbidden: ..." / "401 Unauthorized" (timestamps may hold a bare 403).
    assert "Forbidden" not in text and "Unauthorized" not in text, text[-3000:]


async def test_rp_controller_manager_acts_in_each_tp_as_its_service_account(
        partitions: dict[str, ApiServerProcess], admins: dict[str, ApiClient], tmp_path: Path) -> None:
    rp, log_path = partitions["rp0"], tmp_path / "rp0-controller-manager.log"
    await make_node(admins["rp0"], "silent")
    await renew_lease(admins["rp0"], "silent")  # once: the node goes silent after the grace period
    short = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}]
    for name, tenant in (("tp0", "alpha"), ("tp1", "beta")):
        await make_tenant(admins[name], tenant, "apps")
        await bound_pod(admins[name], tenant, "apps", "victim", "silent", tolerations=short)
    tenant_servers = ",".join(kubeconfig(partitions[n], "controller.kubeconfig") for n in ("tp0", "tp1"))
    with component("controllers", log_path, "--kubeconfig", kubeconfig(rp, "controller.kubeconfig"),
                   "--use-service-account-credentials", "--leader-elect=false",
                   "--controllers", "nodelifecycle,nodeipam,ttl", "--tenant-server-kubeconfig",
                   tenant_servers, "--node-monitor-grace-period", "3s", "--allocate-node-cidrs",
                   "--cluster-cidr", "10.210.0.0/16"):
        for name, tenant in (("tp0", "alpha"), ("tp1", "beta")):
            await eventually(functools.partial(pod_leaving, admins[name], tenant, "apps", "victim"),
                             f"{tenant}'s pod evicted in {name}", within=40)

        async def addressed() -> dict[str, Any] | None:
            node = await admins["rp0"].get(NODES, "silent")
            annotations = node["metadata"].get("annotations") or {}
            done = node["spec"].get("podCIDR") and "node.alpha.kubernetes.io/ttl" in annotations
            return node if done else None

        node = await eventually(addressed, "pod CIDR and TTL annotation")
        assert {t["key"] for t in node["spec"].get("taints") or []} == {UNREACHABLE}
        await no_forbidden(log_path)



async def test_tp_pod_gc_and_scheduler_read_the_rp_nodes_with_their_identities(
        partitions: dict[str, ApiServerProcess], admins: dict[str, ApiClient], tmp_path: Path) -> None:
    tp, rp = partitions["tp1"], partitions["rp0"]
    manager_log, scheduler_log = tmp_path / "tp1-controller-manager.log", tmp_path / "tp1-scheduler.log"
    await make_node(admins["rp0"], "roomy", cpu="8")
    await make_tenant(admins["tp1"], "gamma", "apps")
    await bound_pod(admins["tp1"], "gamma", "apps", "kept", "roomy")
    await bound_pod(admins["tp1"], "gamma", "apps", "orphan", "nowhere")
    with component("controllers", manager_log, "--kubeconfig", kubeconfig(tp, "controller.kubeconfig"),
                   "--use-service-account-credentials", "--leader-elect=false", "--controllers", "podgc",
                   "--resource-providers", kubeconfig(rp, "controller.kubeconfig")), \
            component("scheduler", scheduler_log, "--kubeconfig", kubeconfig(tp, "scheduler.kubeconfig"),
                      "--leader-elect=false", "--resource-providers", kubeconfig(rp, "scheduler.kubeconfig")):
        await eventually(functools.partial(pod_gone, admins["tp1"], "gamma", "apps", "orphan"),
                         "orphan deleted", within=40)
        await make_pod(admins["tp1"], "gamma", "apps", "fresh", cpu="1")
        assert await node_of(admins["tp1"], "gamma", "apps", "fresh", limit_s=40) == "roomy"
        assert not await pod_gone(admins["tp1"], "gamma", "apps", "kept")
        assert await log_contains(manager_log, "controller podgc started")
        await no_forbidden(manager_log)
        await no_forbidden(scheduler_log)

