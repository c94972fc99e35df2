"""The Deployment controller (with the ReplicaSet controller) against a real API server.

Covers (issue 4): a Deployment scales 0→50→5 and rolls a new image while available pods, sampled
continuously, never drop below ``replicas - maxUnavailable`` (and the total never exceeds
``replicas + maxSurge``); ReplicaSets are named ``<deploy>-<pod-template-hash>`` with revision,
desired-replicas and max-replicas annotations; Recreate removes every old pod before a new one
exists; revisionHistoryLimit deletes the oldest empty ReplicaSets; pause holds a template change
back while scaling still applies, resume rolls it; stock kubectl ``rollout status``, ``history``,
``undo`` (incl. ``--to-revision``; client-side in kubectl ≥ 1.32), ``restart`` and ``scale`` work;
two tenants' Deployments with the same name in the same namespace name live side by side.
Leaves out: deletion propagation (test_workload_deployment_deletion.py, needs the garbage
collector), progress-deadline expiry (unit tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from fake_kubelet import FakeKubelet, ensure_node
from kubectl_binaries import KUBECTL_LABELS, kubectl_binary
from kubectl_runner import Kubectl
from workload_env import (
    DEPLOYMENTS,
    NAMESPACES,
    REPLICA_SETS,
    controller_manager,
    deployment_body,
    events_for,
    eventually,
    is_ready,
    new_namespace,
    new_tenant,
    pods_of,
)

from client.config import config_for_url
from client.errors import AlreadyExists, ApiError
from client.rest import ApiClient


@pytest.fixture(scope="module")
def kcm(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    with controller_manager(apiserver.url, "deployment,replicaset", log) as path:
        yield path


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


@pytest.fixture
async def kubelet(client: ApiClient) -> AsyncIterator[FakeKubelet]:
    await ensure_node(client, "deploy-node-1")
    # A small delay before pods turn Ready makes availability limits matter.
    async with FakeKubelet(client, nodes=["deploy-node-1"], ready_delay_s=0.15) as fake:
        yield fake


@pytest.fixture(params=KUBECTL_LABELS)
def kubectl(request: pytest.FixtureRequest, apiserver: ApiServerProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(
        binary=kubectl_binary(request.param), kubeconfig=apiserver.kubeconfig, cache_dir=tmp_path / "cache",
        label=request.param,
    )


async def run_kubectl(kubectl: Kubectl, *args: str) -> str:
    """kubectl in a thread: the fake kubelet shares this event loop and must keep working."""
    result = await asyncio.to_thread(kubectl.run, *args, timeout=60.0)
    return result.stdout


async def deployment_status(client: ApiClient, ns: str, name: str, tenant: str = "system") -> dict[str, Any]:
    current = await client.get(DEPLOYMENTS, name, tenant=tenant, namespace=ns)
    return dict(current.get("status") or {})


async def rolled_out(client: ApiClient, ns: str, name: str, replicas: int, tenant: str = "system") -> bool:
    current = await client.get(DEPLOYMENTS, name, tenant=tenant, namespace=ns)
    status = current.get("status") or {}
    return (
        status.get("observedGeneration") == current["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("replicas") == replicas
        and status.get("availableReplicas") == replicas
    )


async def replica_sets(client: ApiClient, ns: str, tenant: str = "system") -> list[dict[str, Any]]:
    return list((await client.list(REPLICA_SETS, tenant=tenant, namespace=ns)).get("items") or [])


def image_of(obj: dict[str, Any]) -> str:
    """The first container's image of a pod, or of a Deployment's/ReplicaSet's template."""
    spec = obj["spec"]["template"]["spec"] if obj.get("kind") != "Pod" else obj["spec"]
    return str(spec["containers"][0]["image"])


async def test_scale_0_50_5_then_rolling_update_respects_max_unavailable(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    await client.create(
        DEPLOYMENTS, deployment_body("web", replicas=0, strategy=strategy), tenant="system", namespace=ns
    )
    await eventually(lambda: rolled_out(client, ns, "web", 0), "0 replicas", log_path=kcm)
    await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 50}}, tenant="system", namespace=ns)
    await eventually(lambda: rolled_out(client, ns, "web", 50), "50 available", log_path=kcm, within_s=60)
    await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 5}}, tenant="system", namespace=ns)
    await eventually(lambda: rolled_out(client, ns, "web", 5), "5 available", log_path=kcm)
    assert len(await pods_of(client, ns, "app=web")) == 5

    samples: list[tuple[int, int]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            pods = await pods_of(client, ns, "app=web", active_only=False)
            ready = sum(1 for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
            samples.append((ready, len([p for p in pods if not p["metadata"].get("deletionTimestamp")])))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    await client.patch(
        DEPLOYMENTS,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        patch_type="strategic",
        tenant="system",
        namespace=ns,
    )

    async def all_new() -> bool:
        pods = await pods_of(client, ns, "app=web", active_only=False)
        return (
            await rolled_out(client, ns, "web", 5)
            and len(pods) == 5
            and all(image_of(p) == "nginx:1.28" for p in pods)
        )

    await eventually(all_new, "the new image rolled out", log_path=kcm)
    stop.set()
    await sampler
    assert len(samples) > 10
    assert min(ready for ready, _ in samples) >= 4, samples  # replicas - maxUnavailable
    assert max(total for _, total in samples) <= 6, samples  # replicas + maxSurge
    sets = await replica_sets(client, ns)
    assert len(sets) == 2
    for rs in sets:
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]+", pod_hash)
        assert rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == pod_hash
        assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    revisions = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in sets}
    assert set(revisions) == {"1", "2"}
    assert image_of(revisions["2"]) == "nginx:1.28" and revisions["2"]["spec"]["replicas"] == 5
    assert revisions["1"]["spec"]["replicas"] == 0
    assert revisions["2"]["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert revisions["2"]["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "6"
    status = await deployment_status(client, ns, "web")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert "ScalingReplicaSet" in await events_for(client, ns, "web")


async def test_recreate_removes_old_pods_before_creating_new_ones(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    await client.create(
        DEPLOYMENTS,
        deployment_body("batch", replicas=3, strategy={"type": "Recreate"}),
        tenant="system",
        namespace=ns,
    )
    await eventually(lambda: rolled_out(client, ns, "batch", 3), "3 available", log_path=kcm)
    mixed: list[set[str]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            pods = await pods_of(client, ns, "app=batch", active_only=False)
            mixed.append({image_of(p) for p in pods})
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    await client.patch(
        DEPLOYMENTS,
        "batch",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        patch_type="strategic",
        tenant="system",
        namespace=ns,
    )

    async def done() -> bool:
        pods = await pods_of(client, ns, "app=batch", active_only=False)
        return await rolled_out(client, ns, "batch", 3) and {image_of(p) for p in pods} == {"nginx:1.28"}

    await eventually(done, "recreated", log_path=kcm)
    stop.set()
    await sampler
    assert all(len(images) <= 1 for images in mixed), "old and new pods existed at the same time"


async def test_revision_history_limit_and_pause_resume(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    ns = await new_namespace(client)
    await client.create(
        DEPLOYMENTS,
        deployment_body("hist", replicas=2, revision_history_limit=1),
        tenant="system",
        namespace=ns,
    )
    for version in ("1.1", "1.2", "1.3"):
        await eventually(lambda: rolled_out(client, ns, "hist", 2), "rolled out", log_path=kcm)
        await client.patch(
            DEPLOYMENTS,
            "hist",
            {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": f"nginx:{version}"}]}}}},
            patch_type="strategic",
            tenant="system",
            namespace=ns,
        )

    async def history_trimmed() -> bool:
        sets = await replica_sets(client, ns)
        return await rolled_out(client, ns, "hist", 2) and len(sets) == 2

    await eventually(history_trimmed, "one old ReplicaSet kept", log_path=kcm)
    revisions = sorted(
        int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        for rs in await replica_sets(client, ns)
    )
    assert revisions == [3, 4]

    await client.patch(DEPLOYMENTS, "hist", {"spec": {"paused": True}}, tenant="system", namespace=ns)

    async def paused_condition() -> bool:
        conditions = {
            c["type"]: c for c in (await deployment_status(client, ns, "hist")).get("conditions", [])
        }
        return conditions.get("Progressing", {}).get("reason") == "DeploymentPaused"

    await eventually(paused_condition, "DeploymentPaused", log_path=kcm)
    await client.patch(
        DEPLOYMENTS,
        "hist",
        {
            "spec": {
                "replicas": 4,
                "template": {"spec": {"containers": [{"name": "web", "image": "nginx:paused"}]}},
            }
        },
        patch_type="strategic",
        tenant="system",
        namespace=ns,
    )

    async def scaled_not_rolled() -> bool:
        pods = await pods_of(client, ns, "app=hist")
        return len(pods) == 4 and all(image_of(p) == "nginx:1.3" for p in pods)

    await eventually(scaled_not_rolled, "4 pods of the old template while paused", log_path=kcm)
    await asyncio.sleep(0.5)
    assert all(image_of(rs) != "nginx:paused" for rs in await replica_sets(client, ns))
    await client.patch(DEPLOYMENTS, "hist", {"spec": {"paused": False}}, tenant="system", namespace=ns)

    async def resumed() -> bool:
        pods = await pods_of(client, ns, "app=hist")
        return await rolled_out(client, ns, "hist", 4) and {image_of(p) for p in pods} == {"nginx:paused"}

    await eventually(resumed, "rollout after resume", log_path=kcm)


async def test_kubectl_rollout_status_history_undo_restart_scale(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet, kubectl: Kubectl
) -> None:
    ns = await new_namespace(client)
    await client.create(
        DEPLOYMENTS, deployment_body("app", replicas=3, image="nginx:1.0"), tenant="system", namespace=ns
    )
    out = await run_kubectl(kubectl, "-n", ns, "rollout", "status", "deployment/app", "--timeout=45s")
    assert 'deployment "app" successfully rolled out' in out
    for image in ("nginx:2.0", "nginx:3.0"):
        await run_kubectl(kubectl, "-n", ns, "set", "image", "deployment/app", f"web={image}")
        await run_kubectl(kubectl, "-n", ns, "rollout", "status", "deployment/app", "--timeout=45s")
    history = await run_kubectl(kubectl, "-n", ns, "rollout", "history", "deployment/app")
    assert re.search(r"^1\s", history, re.M) and re.search(r"^3\s", history, re.M), history

    await run_kubectl(kubectl, "-n", ns, "rollout", "undo", "deployment/app")
    await run_kubectl(kubectl, "-n", ns, "rollout", "status", "deployment/app", "--timeout=45s")
    current = await client.get(DEPLOYMENTS, "app", tenant="system", namespace=ns)
    assert image_of(current) == "nginx:2.0"
    assert {image_of(p) for p in await pods_of(client, ns, "app=app")} == {"nginx:2.0"}
    assert current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"

    await run_kubectl(kubectl, "-n", ns, "rollout", "undo", "deployment/app", "--to-revision=1")
    await run_kubectl(kubectl, "-n", ns, "rollout", "status", "deployment/app", "--timeout=45s")
    current = await client.get(DEPLOYMENTS, "app", tenant="system", namespace=ns)
    assert image_of(current) == "nginx:1.0"
    assert len(await replica_sets(client, ns)) == 3  # undo reuses the old ReplicaSets

    await run_kubectl(kubectl, "-n", ns, "rollout", "restart", "deployment/app")
    await run_kubectl(kubectl, "-n", ns, "rollout", "status", "deployment/app", "--timeout=45s")
    pods = await pods_of(client, ns, "app=app")
    assert all("kubectl.kubernetes.io/restartedAt" in (p["metadata"].get("annotations") or {}) for p in pods)

    await run_kubectl(kubectl, "-n", ns, "scale", "deployment/app", "--replicas=6")
    await eventually(lambda: rolled_out(client, ns, "app", 6), "6 replicas after kubectl scale", log_path=kcm)


async def test_same_name_in_two_tenants_lives_side_by_side(
    client: ApiClient, kcm: Path, kubelet: FakeKubelet
) -> None:
    tenants = ["wla", "wlb"]
    for tenant in tenants:
        with contextlib.suppress(AlreadyExists):  # made by an earlier run against this module's server
            await new_tenant(client, tenant)
    ns = "shared"
    for tenant in tenants:

        async def namespace_ready(t: str = tenant) -> bool:
            try:
                await client.create(
                    NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, tenant=t
                )
            except AlreadyExists:
                return True
            except ApiError:  # the new tenant is not ready for namespaces yet
                return False
            return True

        await eventually(namespace_ready, f"namespace {ns} in tenant {tenant}", log_path=kcm)
    for replicas, tenant in zip((2, 3), tenants, strict=True):
        await client.create(
            DEPLOYMENTS, deployment_body("same", replicas=replicas), tenant=tenant, namespace=ns
        )
    for replicas, tenant in zip((2, 3), tenants, strict=True):

        async def tenant_rolled_out(t: str = tenant, r: int = replicas) -> bool:
            return await rolled_out(client, ns, "same", r, tenant=t)

        await eventually(tenant_rolled_out, f"deployment in {tenant}", log_path=kcm)
        pods = await pods_of(client, ns, "app=same", tenant=tenant)
        assert len(pods) == replicas
        assert {p["metadata"]["tenant"] for p in pods} == {tenant}
        sets = await replica_sets(client, ns, tenant=tenant)
        owner_uid = (await client.get(DEPLOYMENTS, "same", tenant=tenant, namespace=ns))["metadata"]["uid"]
        assert [rs["metadata"]["ownerReferences"][0]["uid"] for rs in sets] == [owner_uid]
