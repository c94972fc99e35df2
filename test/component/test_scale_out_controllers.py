"""``python -m controllers`` across partitions: an RP's node lifecycle, node IPAM, TTL; a TP's pod GC.

Real servers on loopback as partitions, the controller manager as a real process with the
scale-out flags:
- an RP controller manager (``--controllers nodelifecycle,nodeipam,ttl``,
  ``--tenant-server-kubeconfig tp2,tp0,tp1``, 4 s grace period): a node whose Lease stops being
  renewed gets Ready=Unknown and the unreachable taints in the RP; its pods in tp0 and tp1
  tolerating the taint for 1 s are evicted (deletionTimestamp) with a TaintManagerEviction Event in
  their TP, a pod tolerating it forever is kept but marked not Ready — while tp2, also holding a
  pod on the node, is down; the node also got a pod CIDR and the TTL annotation from the same
  process;
- node IPAM alone: the bitmap is rebuilt from a node that already has a subnet, a full range gives
  a CIDRNotAvailable Event, a deleted node's subnet goes to the waiting node;
- TTL alone: 101 nodes move every node's annotation to 15 s, back to 0 s below 90 nodes;
- a TP controller manager (``--controllers=*,-daemonset,-nodelifecycle,-nodeipam,-ttl``,
  ``--resource-providers rp``): pod GC deletes a pod bound to a node no RP has, keeps one bound to
  an RP's node until that node is deleted from the RP.
Leaves out TLS identities (the kubeconfigs' rights are a deployment matter; test_controller_identities
covers the service accounts), eviction rate limits (not implemented), a TP down at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ServerFactory
from controller_harness import eventually
from scale_out_env import (
    bound_pod,
    component,
    kubeconfig_list,
    log_contains,
    pod_gone,
    pod_leaving,
    renew_lease,
)
from scheduler_env import events_for, make_node, make_tenant

from client.config import config_for_url
from client.rest import ApiClient
from controllers.nodelifecycle import NODES, PODS

pytestmark = pytest.mark.slow

UNREACHABLE = "node.kubernetes.io/unreachable"
TTL = "node.alpha.kubernetes.io/ttl"
GRACE_S = 4.0


@contextlib.asynccontextmanager
async def clients(*urls: str) -> AsyncIterator[list[ApiClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(ApiClient(config_for_url(url))) for url in urls]


async def renew_until(client: ApiClient, node: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await renew_lease(client, node)
        await asyncio.sleep(0.3)


def taint_keys(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


async def test_rp_node_lifecycle_evicts_a_dead_nodes_pods_in_every_tenant_partition(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    rp, tp0, tp1, tp2 = server_factory(), server_factory(), server_factory(), server_factory()
    log_path = tmp_path / "rp0-controller-manager.log"
    short = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}]
    forever = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
    async with clients(rp.url, tp0.url, tp1.url, tp2.url) as (rp_client, tp0_client, tp1_client, tp2_client):
        await make_node(rp_client, "worker")
        await renew_lease(rp_client, "worker")
        for tp_client, tenant in ((tp0_client, "alpha"), (tp1_client, "beta"), (tp2_client, "delta")):
            await make_tenant(tp_client, tenant, "apps")
            await bound_pod(tp_client, tenant, "apps", "short", "worker", tolerations=short)
        await bound_pod(tp1_client, "beta", "apps", "forever", "worker", tolerations=forever)
        stop = asyncio.Event()
        renewer = asyncio.create_task(renew_until(rp_client, "worker", stop))
        with component("controllers", log_path, "--master", rp.url, "--leader-elect=false",
                       "--controllers", "nodelifecycle,nodeipam,ttl",
                       "--tenant-server-kubeconfig", kubeconfig_list(tp2, tp0, tp1),  # tp2 first
                       "--node-monitor-grace-period", f"{GRACE_S:.0f}s",
                       "--allocate-node-cidrs", "--cluster-cidr", "10.200.0.0/16"):
            try:
                await eventually(lambda: log_contains(log_path, "controller nodelifecycle started"),
                                 "node lifecycle started", within=30)

                async def addressed() -> dict[str, Any] | None:
                    node = await rp_client.get(NODES, "worker")
                    annotated = TTL in (node["metadata"].get("annotations") or {})
                    return node if annotated and node["spec"].get("podCIDR") else None

                node = await eventually(addressed, "pod CIDR and TTL annotation")
                assert node["spec"]["podCIDR"] == "10.200.0.0/24"
                assert node["metadata"]["annotations"][TTL] == "0"
                await asyncio.sleep(GRACE_S + 1)  # the Lease is renewed: nothing happens
                assert not taint_keys(await rp_client.get(NODES, "worker"))
                tp2.stop()  # a tenant partition goes down: the others' pods must still be evicted
            finally:
                stop.set()
                await renewer

            async def tainted() -> dict[str, Any] | None:
                current = await rp_client.get(NODES, "worker")
                wanted = {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
                return current if wanted <= taint_keys(current) else None

            node = await eventually(tainted, "unreachable taints in the RP", within=GRACE_S + 15)
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "Unknown"
            for tp_client, tenant in ((tp0_client, "alpha"), (tp1_client, "beta")):
                await eventually(functools.partial(pod_leaving, tp_client, tenant, "apps", "short"),
                                 f"pod short of {tenant} evicted in its TP", within=15)
                events = await events_for(tp_client, tenant, "apps", "short", "TaintManagerEviction")
                assert events, f"no TaintManagerEviction event in {tenant}'s partition"
            kept = await tp1_client.get(PODS, "forever", tenant="beta", namespace="apps")
            assert not kept["metadata"].get("deletionTimestamp")
            assert [c["status"] for c in kept["status"]["conditions"] if c["type"] == "Ready"] == ["False"]



async def _pod_cidr(client: ApiClient, name: str) -> str:
    return str((await client.get(NODES, name)).get("spec", {}).get("podCIDR") or "")


async def test_node_ipam_rebuilds_allocates_and_releases(server_factory: ServerFactory,
                                                         tmp_path: Path) -> None:
    rp = server_factory()
    log_path = tmp_path / "nodeipam.log"
    async with clients(rp.url) as (client,):
        await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "old"},
                                    "spec": {"podCIDR": "10.201.0.0/24", "podCIDRs": ["10.201.0.0/24"]}})
        with component("controllers", log_path, "--master", client.config.server, "--leader-elect=false",
                       "--controllers", "nodeipam", "--allocate-node-cidrs",
                       "--cluster-cidr", "10.201.0.0/23", "--node-cidr-mask-size", "24"):
            await eventually(lambda: log_contains(log_path, "controller nodeipam started"), "nodeipam",
                             within=30)
            await make_node(client, "first")
            # 10.201.0.0/24 is the old node's (read back at start): the next is .1
            assert await eventually(lambda: _pod_cidr(client, "first"), "first's CIDR") == "10.201.1.0/24"
            node = await client.get(NODES, "first")
            assert node["spec"]["podCIDRs"] == ["10.201.1.0/24"]
            await make_node(client, "second")
            await eventually(lambda: events_for(client, "system", "default", "second", "CIDRNotAvailable"),
                             "CIDRNotAvailable event for the node the full range turned away")
            assert await _pod_cidr(client, "second") == ""
            await client.delete(NODES, "first")
            assert await eventually(lambda: _pod_cidr(client, "second"), "released CIDR") == "10.201.1.0/24"


async def test_ttl_annotation_follows_the_cluster_size(server_factory: ServerFactory, tmp_path: Path) -> None:
    rp = server_factory()
    log_path = tmp_path / "ttl.log"
    names = [f"n{i:03d}" for i in range(101)]
    async with clients(rp.url) as (client,):
        with component("controllers", log_path, "--master", client.config.server, "--leader-elect=false",
                       "--controllers", "ttl"):
            await eventually(lambda: log_contains(log_path, "controller ttl started"), "ttl", within=30)
            await make_node(client, names[0])
            assert await eventually(lambda: _ttl(client, names[0]), "first annotation") == "0"
            for name in names[1:]:
                await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})

            async def all_at(value: str) -> bool:
                return all(await asyncio.gather(*(_has_ttl(client, n, value) for n in names[:-12:10])))

            await eventually(lambda: all_at("15"), "TTL 15 s on 101 nodes", within=30)
            for name in names[-12:]:
                await client.delete(NODES, name)
            await eventually(lambda: all_at("0"), "TTL 0 s on 89 nodes", within=30)


async def _ttl(client: ApiClient, name: str) -> str | None:
    annotations = (await client.get(NODES, name))["metadata"].get("annotations") or {}
    return annotations.get(TTL)


async def _has_ttl(client: ApiClient, name: str, value: str) -> bool:
    return await _ttl(client, name) == value


async def test_tp_pod_gc_reads_nodes_from_the_resource_partitions(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    tp, rp = server_factory(), server_factory()
    log_path = tmp_path / "tp0-controller-manager.log"
    async with clients(tp.url, rp.url) as (tp_client, rp_client):
        await make_node(rp_client, "rp-node")
        await make_tenant(tp_client, "gamma", "apps")
        await bound_pod(tp_client, "gamma", "apps", "on-rp-node", "rp-node")
        await bound_pod(tp_client, "gamma", "apps", "orphan", "ghost")
        with component("controllers", log_path, "--master", tp.url, "--leader-elect=false",
                       "--controllers=*,-daemonset,-nodelifecycle,-nodeipam,-ttl",
                       "--resource-providers", kubeconfig_list(rp)):
            await eventually(functools.partial(pod_gone, tp_client, "gamma", "apps", "orphan"),
                             "pod of a node no RP has deleted", within=30)
            assert await _pod_node(tp_client, "on-rp-node") == "rp-node"
            await rp_client.delete(NODES, "rp-node")
            await eventually(functools.partial(pod_gone, tp_client, "gamma", "apps", "on-rp-node"),
                             "pod of the deleted RP node deleted")



async def _pod_node(client: ApiClient, name: str) -> str:
    return str((await client.get(PODS, name, tenant="gamma", namespace="apps"))["spec"]["nodeName"])
