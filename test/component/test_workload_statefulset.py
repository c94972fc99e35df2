"""The StatefulSet controller against a real API server, with the fake kubelet.

Covers: OrderedReady creates ``web-0``, ``web-1``, ``web-2`` one after another (a pod appears only
once every lower ordinal is Running and Ready — checked by holding pods unready), with identity
labels, hostname/subdomain and PVCs ``<template>-<sts>-<ordinal>`` mounted; scale-down removes the
highest ordinal first and keeps PVCs; a partitioned RollingUpdate replaces only ordinals ≥
partition, highest first, and then the rest when the partition drops, ending with
currentRevision == updateRevision (what ``kubectl rollout status`` waits for); Parallel creates
all pods at once; a ControllerRevision records each template.
Leaves out: PVC retention policy Delete (not implemented), minReadySeconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from fake_kubelet import FakeKubelet, ensure_node
from workload_env import PVCS, STATEFUL_SETS, controller_manager, eventually, new_namespace, pods_of

from client.config import config_for_url
from client.resources import ResourceRef
from client.rest import ApiClient

CONTROLLER_REVISIONS = ResourceRef("apps", "v1", "controllerrevisions", "ControllerRevision")


@pytest.fixture(scope="module")
def kcm(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    with controller_manager(apiserver.url, "statefulset", log) as path:
        yield path


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def stateful_set(
    name: str, replicas: int, *, policy: str = "OrderedReady", partition: int = 0, image: str = "nginx:1"
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": policy,
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def names(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


async def test_ordered_creation_identity_claims_and_scale_down(client: ApiClient, kcm: Path) -> None:
    await ensure_node(client, "sts-node-1")
    held: set[str] = set()
    ns = await new_namespace(client)
    async with FakeKubelet(
        client, nodes=["sts-node-1"], hold=lambda p: p["metadata"]["name"] in held
    ) as kubelet:
        held.add("web-0")
        await client.create(STATEFUL_SETS, stateful_set("web", 3), tenant="system", namespace=ns)
        await eventually(lambda: _names_are(client, ns, "app=web", ["web-0"]), "web-0", log_path=kcm)
        await asyncio.sleep(0.5)
        assert names(await pods_of(client, ns, "app=web")) == ["web-0"], "web-1 must wait for web-0"
        held.clear()
        kubelet.recheck()
        await eventually(lambda: _ready_count(client, ns, "web", 3), "3 ready", log_path=kcm)
        pod = next(p for p in await pods_of(client, ns, "app=web") if p["metadata"]["name"] == "web-1")
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
        assert labels["apps.kubernetes.io/pod-index"] == "1"
        assert labels["controller-revision-hash"].startswith("web-")
        assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "web"
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "data")
        assert volume["persistentVolumeClaim"]["claimName"] == "data-web-1"
        claims = (await client.list(PVCS, tenant="system", namespace=ns))["items"]
        assert sorted(c["metadata"]["name"] for c in claims) == ["data-web-0", "data-web-1", "data-web-2"]
        revisions = (await client.list(CONTROLLER_REVISIONS, tenant="system", namespace=ns))["items"]
        assert [r["metadata"]["name"] for r in revisions] == [labels["controller-revision-hash"]]

        await client.patch(STATEFUL_SETS, "web", {"spec": {"replicas": 1}}, tenant="system", namespace=ns)
        await eventually(
            lambda: _names_are(client, ns, "app=web", ["web-0"]), "scaled to web-0", log_path=kcm
        )
        claims = (await client.list(PVCS, tenant="system", namespace=ns))["items"]
        assert len(claims) == 3, "PVCs are retained on scale-down"


async def test_partitioned_rolling_update(client: ApiClient, kcm: Path) -> None:
    await ensure_node(client, "sts-node-1")
    ns = await new_namespace(client)
    async with FakeKubelet(client, nodes=["sts-node-1"], ready_delay_s=0.1):
        await client.create(STATEFUL_SETS, stateful_set("db", 4, partition=2), tenant="system", namespace=ns)
        await eventually(lambda: _ready_count(client, ns, "db", 4), "4 ready", log_path=kcm)
        await client.patch(
            STATEFUL_SETS,
            "db",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
            patch_type="strategic",
            tenant="system",
            namespace=ns,
        )

        async def partition_rolled() -> bool:
            images = await _images(client, ns, "db")
            return images == {"db-0": "nginx:1", "db-1": "nginx:1", "db-2": "nginx:2", "db-3": "nginx:2"}

        await eventually(partition_rolled, "ordinals >= 2 updated", log_path=kcm)
        sts = await client.get(STATEFUL_SETS, "db", tenant="system", namespace=ns)
        assert sts["status"]["currentRevision"] != sts["status"]["updateRevision"]
        await client.patch(
            STATEFUL_SETS,
            "db",
            {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
            tenant="system",
            namespace=ns,
        )

        async def complete() -> bool:
            current = await client.get(STATEFUL_SETS, "db", tenant="system", namespace=ns)
            status = current.get("status") or {}
            return (
                set((await _images(client, ns, "db")).values()) == {"nginx:2"}
                and status.get("currentRevision") == status.get("updateRevision")
                and status.get("updatedReplicas") == 4
                and status.get("readyReplicas") == 4
            )

        await eventually(complete, "rollout complete", log_path=kcm)


async def test_parallel_creates_all_at_once(client: ApiClient, kcm: Path) -> None:
    ns = await new_namespace(client)
    # No kubelet: pods never become ready, yet Parallel does not wait for them.
    await client.create(
        STATEFUL_SETS, stateful_set("par", 3, policy="Parallel"), tenant="system", namespace=ns
    )
    await eventually(
        lambda: _names_are(client, ns, "app=par", ["par-0", "par-1", "par-2"]), "3 pods", log_path=kcm
    )


async def _names_are(client: ApiClient, ns: str, selector: str, expected: list[str]) -> bool:
    return names(await pods_of(client, ns, selector, active_only=False)) == expected


async def _ready_count(client: ApiClient, ns: str, name: str, count: int) -> bool:
    sts = await client.get(STATEFUL_SETS, name, tenant="system", namespace=ns)
    return bool((sts.get("status") or {}).get("readyReplicas") == count)


async def _images(client: ApiClient, ns: str, name: str) -> dict[str, str]:
    pods = await pods_of(client, ns, f"app={name}", active_only=False)
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods}
