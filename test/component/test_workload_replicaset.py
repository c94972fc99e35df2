"""The ReplicaSet and ReplicationController controllers against a real API server.

Covers: a ReplicaSet creates ``replicas`` pods named ``<rs>-<5 chars>`` with a controller
reference (controller, blockOwnerDeletion, uid, Arktos hashKey) and reports status once the fake
kubelet makes them ready; scaling down deletes extras; a deleted pod is replaced; a matching
orphan is adopted instead of creating a new pod; a pod whose labels stop matching is released and
replaced; an RC keeps its replicas too; SuccessfulCreate Events are recorded.
Leaves out: minReadySeconds timing (unit tests), burst sizes (the deployment bench).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from fake_kubelet import FakeKubelet, ensure_node
from workload_env import (
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    controller_manager,
    events_for,
    eventually,
    new_namespace,
    pods_of,
)

from client.config import config_for_url
from client.rest import ApiClient


@pytest.fixture(scope="module")
def kcm(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    with controller_manager(apiserver.url, "replicaset,replicationcontroller", log) as path:
        yield path


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


@pytest.fixture
async def kubelet(client: ApiClient) -> AsyncIterator[FakeKubelet]:
    await ensure_node(client, "rs-node-1")
    async with FakeKubelet(client, nodes=["rs-node-1"]) as fake:
        yield fake


def replica_set(name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        },
    }


async def test_replica_set_creates_owned_pods_and_reports_status(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    rs = await client.create(
        REPLICA_SETS, replica_set("web", 3, {"app": "web"}), tenant="system", namespace=ns
    )

    async def ready_status() -> Any:
        current = await client.get(REPLICA_SETS, "web", tenant="system", namespace=ns)
        status = current.get("status") or {}
        return status if status.get("readyReplicas") == 3 and status.get("availableReplicas") == 3 else None

    status = await eventually(ready_status, "3 ready replicas", log_path=kcm)
    assert status["replicas"] == 3 and status["fullyLabeledReplicas"] == 3
    assert status["observedGeneration"] == rs["metadata"]["generation"]
    pods = await pods_of(client, ns, "app=web")
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["kind"] == "ReplicaSet" and ref["name"] == "web" and ref["uid"] == rs["metadata"]["uid"]
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
        assert ref["hashKey"] == rs["metadata"]["hashKey"]
    assert "SuccessfulCreate" in await events_for(client, ns, "web")


async def test_scale_down_and_replace_deleted_pod(client: ApiClient, kcm: Path, kubelet: FakeKubelet) -> None:
    ns = await new_namespace(client)
    await client.create(REPLICA_SETS, replica_set("web", 4, {"app": "web"}), tenant="system", namespace=ns)
    await eventually(lambda: _count(client, ns, 4), "4 pods", log_path=kcm)
    await client.patch(REPLICA_SETS, "web", {"spec": {"replicas": 2}}, tenant="system", namespace=ns)
    await eventually(lambda: _count(client, ns, 2), "2 pods", log_path=kcm)
    victim = (await pods_of(client, ns, "app=web"))[0]["metadata"]["name"]
    await client.delete(PODS, victim, tenant="system", namespace=ns, grace_period_seconds=0)

    async def replaced() -> bool:
        names = {p["metadata"]["name"] for p in await pods_of(client, ns, "app=web")}
        return len(names) == 2 and victim not in names

    await eventually(replaced, "a replacement pod", log_path=kcm)


async def test_orphan_is_adopted_and_non_matching_pod_released(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    await client.create(PODS, orphan, tenant="system", namespace=ns)
    rs = await client.create(REPLICA_SETS, replica_set("db", 2, {"app": "db"}), tenant="system", namespace=ns)
    await eventually(lambda: _count(client, ns, 2, "app=db"), "2 pods", log_path=kcm)

    async def adopted() -> bool:
        pod = await client.get(PODS, "orphan", tenant="system", namespace=ns)
        return any(
            r.get("uid") == rs["metadata"]["uid"] for r in pod["metadata"].get("ownerReferences") or []
        )

    await eventually(adopted, "the orphan adopted", log_path=kcm)
    await client.patch(
        PODS, "orphan", {"metadata": {"labels": {"app": "other"}}}, tenant="system", namespace=ns
    )

    async def released() -> bool:
        pod = await client.get(PODS, "orphan", tenant="system", namespace=ns)
        return not pod["metadata"].get("ownerReferences") and await _count(client, ns, 2, "app=db")

    await eventually(released, "the orphan released and replaced", log_path=kcm)


async def test_replication_controller_keeps_replicas(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "legacy"},
        "spec": {
            "replicas": 2,
            "selector": {"app": "legacy"},
            "template": {
                "metadata": {"labels": {"app": "legacy"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        },
    }
    await client.create(REPLICATION_CONTROLLERS, rc, tenant="system", namespace=ns)

    async def ready() -> bool:
        current = await client.get(REPLICATION_CONTROLLERS, "legacy", tenant="system", namespace=ns)
        return bool((current.get("status") or {}).get("readyReplicas") == 2)

    await eventually(ready, "2 ready RC replicas", log_path=kcm)
    pods = await pods_of(client, ns, "app=legacy")
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {"ReplicationController"}


async def _count(client: ApiClient, ns: str, expected: int, selector: str = "app=web") -> bool:
    return len(await pods_of(client, ns, selector)) == expected
