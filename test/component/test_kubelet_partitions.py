"""The scale-out kubelet as a process: ``python -m kubelet --hollow --nodes 2 --kubeconfig RP
--tenant-server-kubeconfig TP0,TP1`` against three real API servers (two tenant partitions, one
resource partition) on loopback.

Covers: the Nodes and their Leases exist only in the RP; pods created in each TP with
``spec.nodeName`` set — including two pods with the same tenant, namespace and name, one per TP, on
the same node — reach Running in their own TP; each pod's Events land in its own TP and none in the
RP or the other TP; with tp0's server stopped, tp1's new pods still start and its deleted pods are
still finalised (the kubelet's final delete goes to tp1); and once tp0 is back, the kubelet's tp0 watch
reconnects and tp0's new pods run. Leaves out volumes, env and Actions (hollow nodes resolve none:
`test_kubelet_partition_inputs`), the gateway and the scheduler (pods are bound by spec.nodeName).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import log_tail
from kubelet_env import conditions, eventually
from partitions_env import (
    Partitions,
    clients_of,
    get_pod,
    kubelet_process,
    pod_body,
    pod_event_reasons,
    pod_event_uids,
    running,
)

from client.errors import NotFound
from client.leaderelection import LEASES
from client.resources import NAMESPACES, TENANTS
from client.rest import ApiClient
from kubelet.node import NODES
from kubelet.status_writer import PODS

pytestmark = pytest.mark.slow

HOST = "pk"
NODE_0, NODE_1 = f"{HOST}-hollow-0", f"{HOST}-hollow-1"


@pytest.fixture(scope="module")
def partitions(server_factory: Any) -> Partitions:
    return Partitions(tp0=server_factory(), tp1=server_factory(), rp0=server_factory())


@pytest.fixture
def hollow_kubelet(partitions: Partitions, tmp_path: Path) -> Iterator[Path]:
    args = ["--kubeconfig", str(partitions.rp0.kubeconfig),
            "--tenant-server-kubeconfig", partitions.tenant_kubeconfigs(), "--hostname-override", HOST,
            "--hollow", "--nodes", "2", "--hollow-start-delay", "0.1", "--node-status-update-frequency", "1"]
    with kubelet_process(args, tmp_path / "hollow-kubelet.log") as log_path:
        yield log_path


async def _absent(client: ApiClient, ref: Any, name: str, **where: str) -> bool:
    try:
        await client.get(ref, name, **where)
    except NotFound:
        return True
    return False


async def _nodes_ready(rp0: ApiClient) -> bool:
    nodes = [n for n in (await rp0.list(NODES)).get("items") or []
             if n["metadata"]["name"] in (NODE_0, NODE_1)]
    return len(nodes) == 2 and all(conditions(n)["Ready"] == "True" for n in nodes)


async def _leased(rp0: ApiClient) -> bool:
    listed = await rp0.list(LEASES, tenant="system", namespace="kube-node-lease")
    return {NODE_0, NODE_1} <= {lease["metadata"]["name"] for lease in listed.get("items") or []}


async def test_nodes_live_in_the_rp_and_pods_of_each_tp_run_and_report_to_it(
        partitions: Partitions, hollow_kubelet: Path) -> None:
    async with clients_of(partitions) as c:
        try:
            await eventually(lambda: _nodes_ready(c.rp0), "two Ready hollow nodes in the RP", within=30)
            await eventually(lambda: _leased(c.rp0), "both node Leases in the RP", within=30)
            for tp in (c.tp0, c.tp1):
                assert await _absent(tp, NODES, NODE_0) and await _absent(tp, NODES, NODE_1)
                assert await _absent(tp, LEASES, NODE_0, tenant="system", namespace="kube-node-lease")

            # The same tenant/namespace/name in both TPs on the same node, plus a tenant of tp1 only.
            await c.tp0.create(PODS, pod_body("twin", NODE_0), tenant="system", namespace="default")
            await c.tp1.create(PODS, pod_body("twin", NODE_0), tenant="system", namespace="default")
            await c.tp1.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": "acme"}})
            await c.tp1.create(NAMESPACES, {"metadata": {"name": "work"}}, tenant="acme")
            await c.tp1.create(PODS, pod_body("solo", NODE_1), tenant="acme", namespace="work")

            twin0 = await eventually(lambda: running(c.tp0, "twin"), "tp0's twin Running")
            twin1 = await eventually(lambda: running(c.tp1, "twin"), "tp1's twin Running")
            solo = await eventually(lambda: running(c.tp1, "solo", tenant="acme", namespace="work"),
                                    "tp1's acme pod Running")
            uid0, uid1, uid_solo = (str(p["metadata"]["uid"]) for p in (twin0, twin1, solo))
            assert uid0 != uid1
            assert twin0["status"]["podIP"] != twin1["status"]["podIP"]  # two sandboxes, not one
            assert solo["status"]["hostIP"] != twin1["status"]["hostIP"]  # hollow-1's address

            for tp, uid in ((c.tp0, uid0), (c.tp1, uid1), (c.tp1, uid_solo)):
                await eventually(partial(_started_in, tp, uid), f"the Started event of {uid}")
            assert not await pod_event_uids(c.rp0)
            assert not (await pod_event_uids(c.tp0)) & {uid1, uid_solo}
            assert uid0 not in await pod_event_uids(c.tp1)
            await _losing_tp0_leaves_tp1_working(partitions, c.tp0, c.tp1)
        except AssertionError as e:
            raise AssertionError(f"{e}\nkubelet:\n{log_tail(hollow_kubelet)}") from None


async def _started_in(tp: ApiClient, uid: str) -> bool:
    return "Started" in await pod_event_reasons(tp, uid)


async def _losing_tp0_leaves_tp1_working(partitions: Partitions, tp0: ApiClient, tp1: ApiClient) -> None:
    partitions.tp0.stop()
    try:
        await tp1.create(PODS, pod_body("while-tp0-down", NODE_1), tenant="system", namespace="default")
        await eventually(lambda: running(tp1, "while-tp0-down"), "a new tp1 pod Running while tp0 is down")
        await tp1.delete(PODS, "twin", tenant="system", namespace="default")

        async def twin_gone() -> bool:
            return await get_pod(tp1, "twin") is None

        # Graceful deletion ends with the kubelet's own delete (gracePeriodSeconds=0) on tp1.
        await eventually(twin_gone, "tp1's twin finalised by the kubelet while tp0 is down")
    finally:
        partitions.tp0.start()
    await tp0.create(PODS, pod_body("after-restart", NODE_0), tenant="system", namespace="default")
    # The tp0 watch backs off up to 30 s between attempts while its server is down.
    await eventually(lambda: running(tp0, "after-restart"), "a tp0 pod Running once tp0 is back", within=60)
    assert await running(tp0, "twin") is not None  # tp0's twin was never touched
