"""The scheduler against a real API server: pods land where upstream's rules say they may.

A fresh server per test (nodes are cluster-scoped, so tests must not share them) and the
`scheduler.scheduler.Scheduler` running in the test's event loop over a plain-HTTP client, with
short backoffs. Nodes are plain objects the test creates; no kubelet. Covers: a pod of a
non-system tenant bound through the long tenant path with a Scheduled event; VM pods only on a
VmRuntimeReady node, and pending with a FailedScheduling event and PodScheduled=False
(Unschedulable) when there is none; container pods never on
ContainerRuntimeReady=False; unschedulable -> bound when a fitting node appears; taints and
tolerations; node affinity; required anti-affinity spreading pods one per node; host-port
conflicts (in the system tenant: a tenant's namespaces refuse host ports); priority order when
only one pod fits. Leaves out RBAC and leader election (test_scheduler_process.py) and throughput
(bench/scheduler_bench.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from scheduler_env import (
    events_for,
    get_pod,
    make_node,
    make_pod,
    make_tenant,
    make_vm_pod,
    node_of,
    wait_for,
)

from client.config import config_for_url
from client.rest import ApiClient
from scheduler.scheduler import Scheduler
from scheduler.settings import SchedulerSettings

TENANT = "acme"
NS = "work"
FAST = SchedulerSettings(initial_backoff_s=0.1, max_backoff_s=0.5)


@dataclass
class Env:
    client: ApiClient
    scheduler: Scheduler | None = None
    task: asyncio.Task[None] | None = None

    def start_scheduler(self) -> None:
        self.scheduler = Scheduler(self.client, FAST)
        self.task = asyncio.create_task(self.scheduler.run())


@pytest.fixture
async def env(server_factory) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    server = server_factory()
    async with ApiClient(config_for_url(server.url)) as client:
        await make_tenant(client, TENANT, NS)
        environment = Env(client)
        try:
            yield environment
        finally:
            if environment.task is not None:
                environment.task.cancel()
                # asyncio.wait, not wait_for: wait_for would wait without limit for a task that
                # does not finish its cancellation. An in-process Scheduler occasionally does not
                # (a known, not yet understood shutdown issue, see the session note); the test's
                # assertions have run by then, so the harness moves on instead of hanging.
                done, _ = await asyncio.wait({environment.task}, timeout=20)
                if not done:
                    stacks = "\n".join(f"{t.get_name()}: {t.get_stack(limit=8)}" for t in asyncio.all_tasks()
                                        if not t.done() and t is not asyncio.current_task())
                    logging.getLogger(__name__).warning("in-process scheduler did not stop in 20 s; "
                                                        "pending tasks:\n%s", stacks)
    server.stop()


async def test_pod_of_a_tenant_is_bound_and_a_scheduled_event_recorded(env: Env) -> None:
    await make_node(env.client, "n1")
    await make_pod(env.client, TENANT, NS, "web")
    env.start_scheduler()
    assert await node_of(env.client, TENANT, NS, "web") == "n1"
    events = await wait_for(lambda: events_for(env.client, TENANT, NS, "web", "Scheduled"), what="event")
    assert events[0]["message"] == "Successfully assigned work/web to n1"
    assert events[0]["type"] == "Normal"
    conditions = (await get_pod(env.client, TENANT, NS, "web"))["status"]["conditions"]
    assert {"type": "PodScheduled", "status": "True"}.items() <= conditions[0].items()


async def test_vm_pod_goes_only_to_a_vm_ready_node(env: Env) -> None:
    await make_node(env.client, "containers-only", cpu="64")
    await make_node(env.client, "vm-host", conditions={"VmRuntimeReady": "True"})
    env.start_scheduler()
    for i in range(3):
        await make_vm_pod(env.client, TENANT, NS, f"vm{i}")
    for i in range(3):
        assert await node_of(env.client, TENANT, NS, f"vm{i}") == "vm-host"


async def test_vm_pod_without_vm_node_stays_pending_with_a_clear_reason(env: Env) -> None:
    await make_node(env.client, "c1")
    await make_node(env.client, "c2", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    env.start_scheduler()
    await make_vm_pod(env.client, TENANT, NS, "vm")
    expected = (
        "0/2 nodes are available: 1 node(s) didn't have a ready VM runtime, "
        "1 node(s) had untolerated taint {dedicated: db}."
    )
    events = await wait_for(
        lambda: events_for(env.client, TENANT, NS, "vm", "FailedScheduling"), what="event"
    )
    assert events[0]["message"] == expected and events[0]["type"] == "Warning"

    async def unschedulable_condition() -> bool:
        pod = await get_pod(env.client, TENANT, NS, "vm")
        return any(
            c.get("type") == "PodScheduled"
            and c.get("status") == "False"
            and c.get("reason") == "Unschedulable"
            and c.get("message") == expected
            for c in pod.get("status", {}).get("conditions") or []
        )

    await wait_for(unschedulable_condition, what="PodScheduled=False")
    assert not (await get_pod(env.client, TENANT, NS, "vm"))["spec"].get("nodeName")


async def test_container_pod_avoids_a_node_whose_container_runtime_is_down(env: Env) -> None:
    await make_node(env.client, "down", cpu="64", conditions={"ContainerRuntimeReady": "False"})
    await make_node(env.client, "plain")
    env.start_scheduler()
    for i in range(3):
        await make_pod(env.client, TENANT, NS, f"p{i}")
    for i in range(3):
        assert await node_of(env.client, TENANT, NS, f"p{i}") == "plain"


async def test_unschedulable_pod_is_bound_when_a_fitting_node_appears(env: Env) -> None:
    await make_node(env.client, "small", cpu="1")
    env.start_scheduler()
    await make_pod(env.client, TENANT, NS, "big", cpu="3")
    await wait_for(lambda: events_for(env.client, TENANT, NS, "big", "FailedScheduling"), what="failure")
    await make_node(env.client, "large", cpu="4")
    assert await node_of(env.client, TENANT, NS, "big") == "large"


async def test_taints_and_tolerations(env: Env) -> None:
    await make_node(
        env.client, "gpu", cpu="64", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}]
    )
    await make_node(env.client, "general")
    env.start_scheduler()
    await make_pod(env.client, TENANT, NS, "plain")
    await make_pod(
        env.client,
        TENANT,
        NS,
        "trainer",
        nodeSelector={"kubernetes.io/hostname": "gpu"},
        tolerations=[{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
    )
    assert await node_of(env.client, TENANT, NS, "plain") == "general"
    assert await node_of(env.client, TENANT, NS, "trainer") == "gpu"


async def test_required_node_affinity(env: Env) -> None:
    await make_node(env.client, "zone-a", cpu="64", labels={"zone": "a"})
    await make_node(env.client, "zone-b", labels={"zone": "b"})
    env.start_scheduler()
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}
                ]
            }
        }
    }
    for i in range(3):
        await make_pod(env.client, TENANT, NS, f"b{i}", affinity=affinity)
    for i in range(3):
        assert await node_of(env.client, TENANT, NS, f"b{i}") == "zone-b"


async def test_required_anti_affinity_spreads_one_pod_per_node(env: Env) -> None:
    for i in range(3):
        await make_node(env.client, f"n{i}")
    env.start_scheduler()
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    for i in range(4):
        await make_pod(env.client, TENANT, NS, f"db{i}", labels={"app": "db"}, affinity=anti)
    bound = set()
    for i in range(3):
        bound.add(await node_of(env.client, TENANT, NS, f"db{i}"))
    assert bound == {"n0", "n1", "n2"}
    events = await wait_for(
        lambda: events_for(env.client, TENANT, NS, "db3", "FailedScheduling"), what="event"
    )
    # the placed pods' own anti-affinity terms reject it first, as upstream checks them first
    assert (
        events[0]["message"]
        == "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."
    )


async def test_host_ports_do_not_collide(env: Env) -> None:
    # Host ports are the system tenant's: a tenant's namespaces enforce Pod Security baseline.
    await make_tenant(env.client, "system", NS)
    await make_node(env.client, "big", cpu="64")
    await make_node(env.client, "small")
    env.start_scheduler()
    ports = [
        {
            "name": "c",
            "image": "nginx",
            "ports": [{"containerPort": 80, "hostPort": 8080}],
            "resources": {"requests": {"cpu": "100m"}},
        }
    ]
    await make_pod(env.client, "system", NS, "a", containers=ports)
    await make_pod(env.client, "system", NS, "b", containers=ports)
    assert {await node_of(env.client, "system", NS, "a"), await node_of(env.client, "system", NS, "b")} == {
        "big",
        "small",
    }


async def test_higher_priority_pod_gets_the_only_slot(env: Env) -> None:
    await make_node(env.client, "one-slot", cpu="1")
    await make_pod(env.client, TENANT, NS, "low", cpu="800m", priority=0)
    await make_pod(env.client, TENANT, NS, "high", cpu="800m", priority=1000)
    env.start_scheduler()
    assert await node_of(env.client, TENANT, NS, "high") == "one-slot"
    await wait_for(lambda: events_for(env.client, TENANT, NS, "low", "FailedScheduling"), what="failure")
    assert not (await get_pod(env.client, TENANT, NS, "low"))["spec"].get("nodeName")
