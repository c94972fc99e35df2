"""The node lifecycle controller against a real API server, run in-process with a 4 s grace period.

Covers: a node whose Lease the test keeps renewing is left alone; once renewals stop, its Ready
condition becomes Unknown (NodeStatusUnknown, "Kubelet stopped posting node status."), it gets
the unreachable NoSchedule and NoExecute taints, its pods are marked not Ready, a pod tolerating
the taint for 2 s is evicted (deleted) about 2 s later with a TaintManagerEviction Event, a pod
tolerating it forever stays; renewing again removes the taints. The grace period is 4 s against
renewals every 0.3 s, so a renewer stalled by a busy 2-core machine does not look like a silent
node; the test stops renewing by waiting for the renewer to park, not by sleeping. Leaves out
the 300 s default (unit-tested in test_node_taints), eviction rate limits (not implemented) and
replacement of an evicted ReplicaSet pod (the replicaset controller's job).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from controller_harness import eventually, new_namespace, running

from apis.meta import parse_time
from client.leaderelection import LEASES, micro_time
from client.rest import ApiClient
from controllers.nodelifecycle import NODES, PODS, NodeLifecycleController
from controllers.options import ControllerOptions

UNREACHABLE = "node.kubernetes.io/unreachable"
EVENTS_PATH = "/api/v1/tenants/system/namespaces/{ns}/events"
GRACE_S = 4.0
RENEW_EVERY_S = 0.3


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    options = ControllerOptions(node_monitor_grace_period_s=GRACE_S)
    async with running(apiserver.url, NodeLifecycleController, options=options) as test_client:
        yield test_client


class Kubelet:
    """Plays a kubelet: registers the node and renews its Lease while `renewing` is set."""

    def __init__(self, client: ApiClient, name: str) -> None:
        self.client = client
        self.name = name
        self.renewing = asyncio.Event()
        self.renewing.set()
        self.parked = asyncio.Event()  # set while the renewer waits for `renewing`

    async def stop_renewing(self) -> None:
        """Returns once no renewal is in flight: the last renewTime is already written."""
        self.renewing.clear()
        await asyncio.wait_for(self.parked.wait(), 30)

    async def register(self) -> None:
        await self.client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name}})
        node = await self.client.get(NODES, self.name)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        node["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                          "lastHeartbeatTime": now, "lastTransitionTime": now}]}
        await self.client.update(NODES, node, subresource="status")
        await self.client.create(LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": self.name},
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                     "renewTime": micro_time(datetime.now(UTC))}},
            tenant="system", namespace="kube-node-lease")

    async def renew_forever(self) -> None:
        while True:
            if not self.renewing.is_set():
                self.parked.set()
                await self.renewing.wait()
                self.parked.clear()
            lease = await self.client.get(LEASES, self.name, tenant="system", namespace="kube-node-lease")
            lease["spec"]["renewTime"] = micro_time(datetime.now(UTC))
            await self.client.update(LEASES, lease, tenant="system", namespace="kube-node-lease")
            await asyncio.sleep(RENEW_EVERY_S)


async def bound_pod(client: ApiClient, ns: str, name: str, node: str, tolerations: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                               "spec": {"nodeName": node, "tolerations": tolerations,
                                        "containers": [{"name": "c", "image": "busybox"}]}},
                        tenant="system", namespace=ns)
    pod = await client.get(PODS, name, tenant="system", namespace=ns)
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return await client.update(PODS, pod, subresource="status")


def taint_keys(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


async def test_silent_node_is_tainted_and_its_pods_evicted(client: ApiClient) -> None:
    kubelet = Kubelet(client, f"nl-{uuid.uuid4().hex[:6]}")
    await kubelet.register()
    renewer = asyncio.create_task(kubelet.renew_forever())
    try:
        ns = await new_namespace(client, prefix="nl")
        short = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]
        forever = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
        await bound_pod(client, ns, "short", kubelet.name, short)
        await bound_pod(client, ns, "forever", kubelet.name, forever)

        await asyncio.sleep(GRACE_S + 1)  # longer than the grace period, but the Lease is being renewed
        node = await client.get(NODES, kubelet.name)
        assert not taint_keys(node)
        assert node["status"]["conditions"][0]["status"] == "True"

        await kubelet.stop_renewing()
        stopped = asyncio.get_running_loop().time()

        async def tainted() -> dict[str, Any] | None:
            current = await client.get(NODES, kubelet.name)
            wanted = {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
            return current if wanted <= taint_keys(current) else None

        node = await eventually(tainted, "unreachable taints", within=GRACE_S + 10)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == \
            ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")

        async def deleting(name: str) -> bool:
            pod = await client.get(PODS, name, tenant="system", namespace=ns)
            return bool(pod["metadata"].get("deletionTimestamp"))

        await eventually(lambda: deleting("short"), "pod with tolerationSeconds 2 evicted", within=10)
        assert asyncio.get_running_loop().time() - stopped >= GRACE_S  # not before the grace period
        # Not before its toleration ran out: the eviction's DELETE stamped now + the pod's grace.
        evicted = (await client.get(PODS, "short", tenant="system", namespace=ns))["metadata"]
        tainted_at = next(t["timeAdded"] for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
        deleted_at = parse_time(evicted["deletionTimestamp"]).timestamp() - \
            evicted["deletionGracePeriodSeconds"]
        assert deleted_at >= parse_time(tainted_at).timestamp() + 2
        kept = await client.get(PODS, "forever", tenant="system", namespace=ns)
        assert not kept["metadata"].get("deletionTimestamp")
        assert [c["status"] for c in kept["status"]["conditions"] if c["type"] == "Ready"] == ["False"]
        events = (await client.request("GET", EVENTS_PATH.format(ns=ns)))["items"]
        assert any(e["reason"] == "TaintManagerEviction" and e["involvedObject"]["name"] == "short"
                   for e in events), events

        kubelet.renewing.set()

        async def untainted() -> bool:
            return not taint_keys(await client.get(NODES, kubelet.name))

        await eventually(untainted, "taints removed after the Lease is renewed again", within=10)
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
