"""Deleting a Deployment with each propagation policy, with the deployment, replicaset and garbage
collector controllers running (``--controllers deployment,replicaset,garbagecollector``).

Covers (issue 4), as upstream behaves: ``Background`` removes the Deployment at once and the
garbage collector then removes its ReplicaSets and their pods; ``Foreground`` keeps the
Deployment (deletionTimestamp, finalizer ``foregroundDeletion``) until its ReplicaSets and pods
are gone, then removes it; ``Orphan`` removes the Deployment and leaves its ReplicaSets (without
the owner reference) and their pods running.
Leaves out: the garbage collector's own graph rules (its own tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from fake_kubelet import FakeKubelet, ensure_node
from workload_env import (
    DEPLOYMENTS,
    REPLICA_SETS,
    controller_manager,
    deployment_body,
    eventually,
    new_namespace,
    pods_of,
)

from client.config import config_for_url
from client.errors import NotFound
from client.rest import ApiClient


@pytest.fixture(scope="module")
def kcm(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    with controller_manager(apiserver.url, "deployment,replicaset,garbagecollector", log) as path:
        yield path


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


@pytest.fixture
async def kubelet(client: ApiClient) -> AsyncIterator[FakeKubelet]:
    await ensure_node(client, "gc-node-1")
    async with FakeKubelet(client, nodes=["gc-node-1"]) as fake:
        yield fake


async def running_deployment(client: ApiClient, kcm: Path) -> str:
    ns = await new_namespace(client)
    await client.create(DEPLOYMENTS, deployment_body("web", replicas=3), tenant="system", namespace=ns)

    async def ready() -> bool:
        status = (await client.get(DEPLOYMENTS, "web", tenant="system", namespace=ns)).get("status") or {}
        return bool(status.get("availableReplicas") == 3)

    await eventually(ready, "3 available", log_path=kcm)
    return ns


async def deployment_gone(client: ApiClient, ns: str) -> bool:
    try:
        await client.get(DEPLOYMENTS, "web", tenant="system", namespace=ns)
    except NotFound:
        return True
    return False


async def replica_sets(client: ApiClient, ns: str) -> list[dict[str, Any]]:
    return list((await client.list(REPLICA_SETS, tenant="system", namespace=ns)).get("items") or [])


async def test_background_deletes_replica_sets_and_pods(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await running_deployment(client, kcm)
    await client.delete(DEPLOYMENTS, "web", tenant="system", namespace=ns, propagation_policy="Background")
    assert await deployment_gone(client, ns)

    async def all_gone() -> bool:
        return not await replica_sets(client, ns) and not await pods_of(
            client, ns, "app=web", active_only=False
        )

    await eventually(all_gone, "ReplicaSets and pods collected", log_path=kcm)


async def test_foreground_keeps_deployment_until_dependents_are_gone(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await running_deployment(client, kcm)
    await client.delete(DEPLOYMENTS, "web", tenant="system", namespace=ns, propagation_policy="Foreground")
    seen_waiting = False
    for _ in range(600):
        try:
            current = await client.get(DEPLOYMENTS, "web", tenant="system", namespace=ns)
        except NotFound:
            break
        assert current["metadata"].get("deletionTimestamp")
        assert "foregroundDeletion" in current["metadata"].get("finalizers", [])
        seen_waiting = True
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the Deployment was never removed")
    assert seen_waiting, "Foreground deletion must keep the Deployment while dependents exist"
    assert not await replica_sets(client, ns)
    assert not await pods_of(client, ns, "app=web", active_only=False)


async def test_orphan_leaves_replica_sets_and_pods(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await running_deployment(client, kcm)
    await client.delete(DEPLOYMENTS, "web", tenant="system", namespace=ns, propagation_policy="Orphan")
    await eventually(lambda: deployment_gone(client, ns), "the Deployment removed", log_path=kcm)

    async def orphaned() -> bool:
        sets = await replica_sets(client, ns)
        return len(sets) == 1 and not sets[0]["metadata"].get("ownerReferences")

    await eventually(orphaned, "the ReplicaSet orphaned", log_path=kcm)
    await asyncio.sleep(1.0)
    assert len(await pods_of(client, ns, "app=web")) == 3
