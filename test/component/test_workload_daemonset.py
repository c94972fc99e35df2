"""The DaemonSet controller against a real API server, with the fake kubelet binding and readying
pods.

Covers (issue 4): one pod per eligible node, pinned by required node affinity on
``metadata.name`` (the fake kubelet binds it there, as the scheduler would) and carrying the
automatic DaemonSet tolerations; nodes outside the nodeSelector or with an untolerated NoSchedule
taint get none; a node joining gets a pod, a node leaving loses it; status counts; a rolling
update with maxUnavailable 1 never has more than one eligible node without an available pod.
Leaves out: maxSurge rolling updates (planning only), OnDelete, tenant admission (server tests).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from fake_kubelet import FakeKubelet, ensure_node
from workload_env import DAEMON_SETS, NODES, controller_manager, eventually, is_ready, new_namespace, pods_of

from client.config import config_for_url
from client.errors import NotFound
from client.rest import ApiClient


@pytest.fixture(scope="module")
def kcm(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    with controller_manager(apiserver.url, "daemonset", log) as path:
        yield path


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def daemon_set(name: str, pool: str, image: str = "agent:1") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"nodeSelector": {"pool": pool}, "containers": [{"name": "agent", "image": image}]},
            },
        },
    }


async def nodes_with_pods(client: ApiClient, ns: str, name: str) -> dict[str, str]:
    """node -> image of the live daemon pod bound there."""
    return {
        p["spec"].get("nodeName", ""): p["spec"]["containers"][0]["image"]
        for p in await pods_of(client, ns, f"app={name}")
    }


async def test_daemon_set_follows_nodes_and_rolls(client: ApiClient, kcm: Path) -> None:
    pool = uuid.uuid4().hex[:6]
    names = [f"ds-{pool}-{i}" for i in range(4)]
    for node in names[:2]:
        await ensure_node(client, node, labels={"pool": pool})
    await ensure_node(client, names[2], labels={"pool": "elsewhere"})
    await ensure_node(
        client,
        names[3],
        labels={"pool": pool},
        taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
    )
    ns = await new_namespace(client)
    async with FakeKubelet(client, ready_delay_s=0.1) as kubelet:
        await client.create(DAEMON_SETS, daemon_set("agent", pool), tenant="system", namespace=ns)

        async def on_first_two() -> bool:
            return set(await nodes_with_pods(client, ns, "agent")) == set(names[:2])

        await eventually(on_first_two, "pods on the two eligible nodes", log_path=kcm)
        pod = (await pods_of(client, ns, "app=agent"))[0]
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"][0]["matchFields"][0]["key"] == "metadata.name"
        keys = {t["key"] for t in pod["spec"]["tolerations"]}
        assert {
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
            "node.kubernetes.io/unschedulable",
        } <= keys

        joining = f"ds-{pool}-join"
        await ensure_node(client, joining, labels={"pool": pool})

        async def joined() -> bool:
            return set(await nodes_with_pods(client, ns, "agent")) == {*names[:2], joining}

        await eventually(joined, "a pod on the joining node", log_path=kcm)

        async def status_counts() -> dict[str, Any] | None:
            status = (await client.get(DAEMON_SETS, "agent", tenant="system", namespace=ns)).get(
                "status"
            ) or {}
            wanted = {
                "desiredNumberScheduled": 3,
                "currentNumberScheduled": 3,
                "numberReady": 3,
                "numberAvailable": 3,
                "updatedNumberScheduled": 3,
                "numberMisscheduled": 0,
            }
            return status if all(status.get(k) == v for k, v in wanted.items()) else None

        await eventually(status_counts, "status with 3 scheduled and ready", log_path=kcm)
        await client.delete(NODES, names[0])

        async def left() -> bool:
            return set(await nodes_with_pods(client, ns, "agent")) == {names[1], joining}

        await eventually(left, "the departed node's pod gone", log_path=kcm)

        unavailable_nodes: list[int] = []
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                pods = await pods_of(client, ns, "app=agent")
                ready_nodes = {p["spec"].get("nodeName") for p in pods if is_ready(p)}
                unavailable_nodes.append(len({names[1], joining} - ready_nodes))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        await client.patch(
            DAEMON_SETS,
            "agent",
            {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}},
            patch_type="strategic",
            tenant="system",
            namespace=ns,
        )

        async def rolled() -> bool:
            return await nodes_with_pods(client, ns, "agent") == {names[1]: "agent:2", joining: "agent:2"}

        await eventually(rolled, "the new image on both nodes", log_path=kcm)
        stop.set()
        await sampler
        assert max(unavailable_nodes) <= 1, unavailable_nodes
        assert kubelet.bound >= 5
    for node in (*names[1:], joining):
        try:
            await client.delete(NODES, node)
        except NotFound:
            pass
