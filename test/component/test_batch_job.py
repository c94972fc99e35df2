"""The Job and TTL-after-finished controllers against a real API server, the test playing kubelet.

Covers: a Job with parallelism 3 and completions 5 runs to Complete with never more than 3 active
pods (checked at every step), pods labelled and owned as upstream's, status counts and conditions,
Events; an Indexed Job gives each pod its index annotation and hostname; backoffLimit 0 fails the
Job (BackoffLimitExceeded) and deletes its other active pods; activeDeadlineSeconds fails it with
DeadlineExceeded; suspend deletes the pods and resume starts them again; ttlSecondsAfterFinished
deletes the finished Job.
Leaves out: pod failure backoff timing (10 s steps; unit-tested through `may_create`), the garbage
collection of the deleted Job's pods (another controller's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from playing_kubelet import (
    event_reasons,
    eventually,
    list_pods,
    new_tenant_namespace,
    running,
    set_pod_status,
)

from client import errors
from client.config import config_for_url
from client.rest import ApiClient
from controllers.job import JOBS, JobController
from controllers.job_ttl import TTLAfterFinishedController


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def job_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}
            },
            **spec,
        },
    }


def active(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") in (None, "Pending", "Running")
        and not p["metadata"].get("deletionTimestamp")
    ]


def condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


async def test_parallel_job_completes_with_at_most_three_active(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController):
        job = await client.create(
            JOBS, job_body("pi", parallelism=3, completions=5), tenant=tenant, namespace=ns
        )
        uid = job["metadata"]["uid"]
        finished = 0
        while finished < 5:
            want = min(3, 5 - finished)
            pods = await eventually(
                lambda want=want: _pods_when_settled(client, tenant, ns, want),  # type: ignore[misc]
                f"{want} active pods",
            )
            running_pods = active(pods)
            assert len(running_pods) <= 3
            await set_pod_status(client, running_pods[0], phase="Running", ready=True, ip="10.0.0.9")
            await set_pod_status(client, running_pods[0], phase="Succeeded")
            finished += 1
            assert len(active(await list_pods(client, tenant, ns))) <= 3
        done = await eventually(lambda: _job_with(client, tenant, ns, "pi", "Complete"), "Complete")
        status = done["status"]
        assert status["succeeded"] == 5 and status["active"] == 0 and status.get("failed", 0) == 0
        assert status["startTime"] and status["completionTime"]
        assert condition(done, "SuccessCriteriaMet") is not None
        pods = await list_pods(client, tenant, ns)
        assert len(pods) == 5
        metadata = pods[0]["metadata"]
        assert metadata["labels"]["batch.kubernetes.io/controller-uid"] == uid
        assert metadata["labels"]["job-name"] == "pi"
        owner = metadata["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (
            "Job",
            uid,
            True,
            True,
        )
        reasons = await event_reasons(client, tenant, ns, "pi")
        assert "SuccessfulCreate" in reasons and "Completed" in reasons


async def _pods_when_settled(
    client: ApiClient, tenant: str, ns: str, want: int
) -> list[dict[str, Any]] | None:
    pods = await list_pods(client, tenant, ns)
    assert len(active(pods)) <= 3, "more than parallelism pods active"
    return pods if len(active(pods)) == want else None


async def _job_with(client: ApiClient, tenant: str, ns: str, name: str, kind: str) -> dict[str, Any] | None:
    job = await client.get(JOBS, name, tenant=tenant, namespace=ns)
    found = condition(job, kind)
    return job if found is not None and found["status"] == "True" else None


async def test_indexed_job_pods_carry_their_index(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController):
        await client.create(
            JOBS,
            job_body("idx", parallelism=3, completions=3, completionMode="Indexed"),
            tenant=tenant,
            namespace=ns,
        )
        pods = await eventually(lambda: _pods_when_settled(client, tenant, ns, 3), "3 indexed pods")
        indexes = sorted(
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods
        )
        assert indexes == ["0", "1", "2"]
        assert sorted(p["spec"]["hostname"] for p in pods) == ["idx-0", "idx-1", "idx-2"]
        for pod in pods:
            await set_pod_status(client, pod, phase="Succeeded")
        done = await eventually(lambda: _job_with(client, tenant, ns, "idx", "Complete"), "Complete")
        assert done["status"]["completedIndexes"] == "0-2"


async def test_backoff_limit_fails_the_job_and_deletes_active_pods(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController):
        await client.create(
            JOBS,
            job_body("fragile", parallelism=2, completions=2, backoffLimit=0),
            tenant=tenant,
            namespace=ns,
        )
        pods = await eventually(lambda: _pods_when_settled(client, tenant, ns, 2), "2 pods")
        await set_pod_status(client, pods[0], phase="Failed")
        failed = await eventually(lambda: _job_with(client, tenant, ns, "fragile", "Failed"), "Failed")
        assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
        assert condition(failed, "FailureTarget") is not None
        assert failed["status"]["failed"] == 1
        assert active(await list_pods(client, tenant, ns)) == []
        assert "BackoffLimitExceeded" in await event_reasons(client, tenant, ns, "fragile")


async def test_active_deadline_fails_the_job(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController):
        await client.create(JOBS, job_body("slow", activeDeadlineSeconds=2), tenant=tenant, namespace=ns)
        failed = await eventually(
            lambda: _job_with(client, tenant, ns, "slow", "Failed"), "Failed", limit_s=10
        )
        assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"  # type: ignore[index]


async def test_suspend_and_resume(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController):
        await client.create(
            JOBS, job_body("pausable", parallelism=2, completions=2), tenant=tenant, namespace=ns
        )
        await eventually(lambda: _pods_when_settled(client, tenant, ns, 2), "2 pods")
        await client.patch(JOBS, "pausable", {"spec": {"suspend": True}}, tenant=tenant, namespace=ns)
        await eventually(lambda: _pods_when_settled(client, tenant, ns, 0), "pods deleted")
        suspended = await eventually(
            lambda: _job_with(client, tenant, ns, "pausable", "Suspended"), "Suspended"
        )
        assert suspended["status"]["active"] == 0
        await client.patch(JOBS, "pausable", {"spec": {"suspend": False}}, tenant=tenant, namespace=ns)
        await eventually(lambda: _pods_when_settled(client, tenant, ns, 2), "pods back")


async def test_ttl_after_finished_deletes_the_job(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "job")
    async with running(client, JobController, TTLAfterFinishedController):
        await client.create(JOBS, job_body("brief", ttlSecondsAfterFinished=1), tenant=tenant, namespace=ns)
        pods = await eventually(lambda: _pods_when_settled(client, tenant, ns, 1), "1 pod")
        await set_pod_status(client, pods[0], phase="Succeeded")
        await eventually(lambda: _job_with(client, tenant, ns, "brief", "Complete"), "Complete")

        async def gone() -> bool:
            try:
                await client.get(JOBS, "brief", tenant=tenant, namespace=ns)
            except errors.NotFound:
                return True
            return False

        await eventually(gone, "job deleted after its TTL", limit_s=10)
