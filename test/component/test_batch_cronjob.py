"""The CronJob controller against a real API server (with the Job controller running too).

Covers: a resumed CronJob whose ``lastScheduleTime`` lies minutes back starts one Job for the most
recent missed minute at once — named ``<cronjob>-<minutes since epoch>``, owned by the CronJob,
listed in ``status.active``; when the Job completes it leaves ``status.active`` and sets
``lastSuccessfulTime``; a fresh ``* * * * *`` CronJob spawns its first Job at the next minute
boundary and another one a minute later (slow: up to ~2 minutes).
Leaves out: schedule arithmetic, Replace, history limits and startingDeadlineSeconds (unit tests
of `controllers.cronjob_plan` and `controllers.cron_schedule` cover them without waiting).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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

from apis.meta import now_rfc3339
from client.config import config_for_url
from client.rest import ApiClient
from controllers.cronjob import CRON_JOBS, CronJobController
from controllers.job import JOBS, JobController


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def cronjob_body(name: str, **spec: Any) -> dict[str, Any]:
    template = {
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "tick", "image": "busybox"}]}
            }
        }
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "jobTemplate": template, **spec},
    }


async def jobs_of(client: ApiClient, tenant: str, ns: str) -> list[dict[str, Any]]:
    return list((await client.list(JOBS, tenant=tenant, namespace=ns)).get("items") or [])


async def test_resumed_cronjob_runs_the_latest_missed_time_once(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "cron")
    async with running(client, CronJobController, JobController):
        cronjob = await client.create(
            CRON_JOBS,
            cronjob_body("tick", suspend=True, concurrencyPolicy="Forbid"),
            tenant=tenant,
            namespace=ns,
        )
        long_ago = datetime.now(UTC) - timedelta(minutes=3)
        await client.patch(
            CRON_JOBS,
            "tick",
            {"status": {"lastScheduleTime": now_rfc3339(long_ago)}},
            tenant=tenant,
            namespace=ns,
            subresource="status",
        )
        await client.patch(CRON_JOBS, "tick", {"spec": {"suspend": False}}, tenant=tenant, namespace=ns)
        started = datetime.now(UTC)
        jobs = await eventually(lambda: _at_least(client, tenant, ns, 1), "a Job for the missed minute")
        job = jobs[0]
        latest_minute = int(started.timestamp()) // 60
        assert job["metadata"]["name"] in (f"tick-{latest_minute}", f"tick-{latest_minute + 1}")
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "CronJob",
            cronjob["metadata"]["uid"],
            True,
        )
        status = await eventually(lambda: _status_with(client, tenant, ns, "active"), "status.active")
        assert [ref["name"] for ref in status["active"]] == [job["metadata"]["name"]]
        assert "SuccessfulCreate" in await event_reasons(client, tenant, ns, "tick")

        # Play the kubelet: the Job's pod succeeds, the Job completes, the CronJob notices.
        pods = await eventually(lambda: _pods_present(client, tenant, ns), "the Job's pod")
        await set_pod_status(client, pods[0], phase="Succeeded")
        status = await eventually(
            lambda: _status_with(client, tenant, ns, "lastSuccessfulTime"), "lastSuccessfulTime"
        )
        assert not status.get("active")
        assert "SawCompletedJob" in await event_reasons(client, tenant, ns, "tick")


async def _pods_present(client: ApiClient, tenant: str, ns: str) -> list[dict[str, Any]] | None:
    return await list_pods(client, tenant, ns) or None


async def _at_least(client: ApiClient, tenant: str, ns: str, count: int) -> list[dict[str, Any]] | None:
    jobs = await jobs_of(client, tenant, ns)
    return jobs if len(jobs) >= count else None


async def _status_with(client: ApiClient, tenant: str, ns: str, field: str) -> dict[str, Any] | None:
    status = (await client.get(CRON_JOBS, "tick", tenant=tenant, namespace=ns)).get("status") or {}
    return status if status.get(field) else None


@pytest.mark.slow
async def test_every_minute_cronjob_spawns_jobs(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "cron")
    async with running(client, CronJobController):
        await client.create(CRON_JOBS, cronjob_body("tick"), tenant=tenant, namespace=ns)
        first = await eventually(
            lambda: _at_least(client, tenant, ns, 1), "first Job", limit_s=65, every_s=0.5
        )
        minutes = int(first[0]["metadata"]["name"].rsplit("-", 1)[1])
        assert minutes * 60 <= datetime.now(UTC).timestamp() < minutes * 60 + 65
        both = await eventually(
            lambda: _at_least(client, tenant, ns, 2), "second Job", limit_s=65, every_s=0.5
        )
        assert sorted(j["metadata"]["name"] for j in both) == [f"tick-{minutes}", f"tick-{minutes + 1}"]
