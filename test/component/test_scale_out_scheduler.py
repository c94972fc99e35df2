"""``python -m scheduler --resource-providers``: one tenant partition's scheduler, nodes of two RPs.

Three real servers on loopback — a tenant partition (pods, bindings) and two resource partitions
(one node each, created directly by the test: no kubelet) — and the scheduler process with
``--master <TP> --resource-providers rp0,rp1``. Covers: pods of the TP are bound to the nodes of
both RPs (each node fits one of the pods, so both must be used), the TP itself holds no node, a
Scheduled Event is recorded in the TP; with one RP's server stopped, a new pod is still bound to
the other RP's node. Leaves out kubelets running the pods (the kubelet's tests), TLS identities
(test_scheduler_process covers the scheduler's RBAC) and nodes moving between RPs (unit-level
rule in scheduler.node_sources).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apiserver_process import ServerFactory
from scale_out_env import component, kubeconfig_list, log_contains
from scheduler_env import events_for, make_node, make_pod, make_tenant, node_of, wait_for

from client.config import config_for_url
from client.rest import ApiClient
from scheduler.binder import PODS
from scheduler.scheduler import NODES

pytestmark = pytest.mark.slow


async def test_pods_of_a_tenant_partition_land_on_nodes_of_both_resource_partitions(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    tp, rp0, rp1 = server_factory(), server_factory(), server_factory()
    log_path = tmp_path / "tp0-scheduler.log"
    async with ApiClient(config_for_url(tp.url)) as tp_client, \
            ApiClient(config_for_url(rp0.url)) as rp0_client, \
            ApiClient(config_for_url(rp1.url)) as rp1_client:
        await make_node(rp0_client, "rp0-node", cpu="4")
        await make_node(rp1_client, "rp1-node", cpu="4")
        await make_tenant(tp_client, "acme", "apps")
        with component("scheduler", log_path, "--master", tp.url, "--leader-elect", "false",
                       "--resource-providers", kubeconfig_list(rp0, rp1)):
            await wait_for(lambda: log_contains(log_path, "caches synced: 2 nodes"), limit_s=30,
                           what="the scheduler seeing both RPs' nodes")
            for name in ("big-a", "big-b"):  # 3 CPUs each on 4-CPU nodes: one per node
                await make_pod(tp_client, "acme", "apps", name, cpu="3")
            placed = {await node_of(tp_client, "acme", "apps", n, limit_s=30) for n in ("big-a", "big-b")}
            assert placed == {"rp0-node", "rp1-node"}
            assert (await tp_client.list(NODES))["items"] == []  # the TP holds no node
            await wait_for(lambda: events_for(tp_client, "acme", "apps", "big-a", "Scheduled"),
                           what="Scheduled event in the TP")

            rp1.stop()  # one resource partition goes down
            on_rp0 = "big-a" if (await tp_client.get(PODS, "big-a", tenant="acme", namespace="apps")
                                 )["spec"]["nodeName"] == "rp0-node" else "big-b"
            await tp_client.delete(PODS, on_rp0, tenant="acme", namespace="apps", grace_period_seconds=0)
            await make_pod(tp_client, "acme", "apps", "after-outage", cpu="3")
            assert await node_of(tp_client, "acme", "apps", "after-outage", limit_s=30) == "rp0-node"
