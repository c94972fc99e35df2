"""The Job controller: run a Job's pods to completion, within its limits, in every tenant.

Upstream's ``pkg/controller/job``: a Job key is synced whenever the Job or one of its pods (found
by controller uid) changes; `controllers.job_sync.plan_job` decides and this module acts — pods
created from the template (``SuccessfulCreate``), pods deleted (``SuccessfulDelete``), status
written through ``jobs/{name}/status``, Events recorded. Two pieces of memory make it safe:
- *expectations* (client-go's ``ControllerExpectations``): pods created or deleted by the last sync
  that the informer has not reported yet still count, so a sync racing its own writes never
  starts more than ``parallelism`` pods;
- *failure backoff*: after pod failures, replacements wait 10 s doubling per failure (capped at
  6 min), upstream's ``DefaultJobPodFailureBackOff``/``MaxJobPodFailureBackOff``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import ApiError, NotFound
from client.events import EventRecorder
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef
from controllers.job_pods import build_pod, census, completion_index
from controllers.job_sync import JobPlan, plan_job
from controllers.registry import REGISTRY
from controllers.workload_objects import (
    BY_CONTROLLER_UID,
    CHILD_INDEXERS,
    PODS,
    PODS_VIEW,
    object_location,
    owner_key_of_kind,
)

log = logging.getLogger(__name__)

JOBS = ResourceRef("batch", "v1", "jobs", "Job")
JOBS_VIEW = InformerView(JOBS, tenant=ALL_TENANTS)
_BACKOFF_BASE_S = 10.0
_BACKOFF_MAX_S = 360.0
# An expectation the informer never confirms (a lost watch event) stops blocking after this long,
# as client-go's ExpectationsTimeout (5 min) does; ours is shorter because relists are cheap.
_EXPECTATION_TIMEOUT_S = 60.0


def job_of_pod(pod: dict[str, Any]) -> list[Hashable]:
    return owner_key_of_kind("Job", pod)


@dataclass
class _Expectations:
    """Pods one Job's syncs wrote that the cache may not show yet."""

    created: dict[str, tuple[int | None, float]] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)

    def merge(self, pods: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
        """The cached pods corrected by what we know we did."""
        now = time.monotonic()
        by_name = {p["metadata"]["name"]: p for p in pods}
        for name, (index, at) in list(self.created.items()):
            if name in by_name or now - at > _EXPECTATION_TIMEOUT_S:
                del self.created[name]
            else:
                by_name[name] = _placeholder(name, namespace, index)
        for name, at in list(self.deleted.items()):
            pod = by_name.get(name)
            if pod is None or pod["metadata"].get("deletionTimestamp") or now - at > _EXPECTATION_TIMEOUT_S:
                del self.deleted[name]
            else:
                by_name[name] = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "pending"}}
        return list(by_name.values())


def _placeholder(name: str, namespace: str, index: int | None) -> dict[str, Any]:
    """Stands in for a pod we created and the informer has not delivered yet."""
    annotations = {} if index is None else {"batch.kubernetes.io/job-completion-index": str(index)}
    return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations},
            "status": {"phase": "Pending"}}


@REGISTRY.register
class JobController(Controller):
    name = "job"
    workers = 5
    watches = (Watch(JOBS_VIEW), Watch(PODS_VIEW, keys=job_of_pod, indexers=CHILD_INDEXERS))

    _expectations: dict[str, _Expectations]
    _failures: dict[str, tuple[int, float]]
    _recorder: EventRecorder

    async def start(self) -> None:
        self._expectations = {}
        self._failures = {}
        self._recorder = EventRecorder(self.client, "job-controller")

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        job = self.informer(JOBS_VIEW).get(key)
        if job is None:
            self._forget_deleted_jobs()
            return
        uid = str(job["metadata"].get("uid") or "")
        expectations = self._expectations.setdefault(uid, _Expectations())
        cached = self.informer(PODS_VIEW).by_index(BY_CONTROLLER_UID, uid)
        pods = census(expectations.merge(cached, key.namespace))
        may_create, backoff_left = self._backoff(uid, max(len(pods.failed),
                                                          int((job.get("status") or {}).get("failed") or 0)))
        plan = plan_job(job, pods, now=datetime.now(UTC), may_create=may_create)
        await self._delete_pods(job, plan, expectations)
        await self._create_pods(job, plan, expectations)
        await self._write_status(job, plan)
        for event_type, reason, message in plan.events:
            await self._recorder.event(job, event_type, reason, message)
        waits = [w for w in (plan.deadline_in, None if may_create else backoff_left) if w is not None]
        if waits:
            raise Requeue(min(waits) + 0.1, f"job {key}: deadline or backoff")

    def _backoff(self, uid: str, failed: int) -> tuple[bool, float]:
        """Whether new pods may be created now, and how long until they may."""
        if failed == 0:
            self._failures.pop(uid, None)
            return True, 0.0
        now = time.monotonic()
        seen = self._failures.get(uid)
        if seen is None or failed > seen[0]:
            seen = (failed, now)
            self._failures[uid] = seen
        delay = min(_BACKOFF_BASE_S * 2 ** (failed - 1), _BACKOFF_MAX_S)
        left = seen[1] + delay - now
        return left <= 0, max(left, 0.0)

    def _forget_deleted_jobs(self) -> None:
        live = {str(j["metadata"].get("uid")) for j in self.informer(JOBS_VIEW).objects()}
        for uid in [u for u in self._expectations if u not in live]:
            del self._expectations[uid]
            self._failures.pop(uid, None)

    async def _create_pods(self, job: dict[str, Any], plan: JobPlan, expectations: _Expectations) -> None:
        if not plan.create_indexes:
            return
        tenant, namespace = object_location(job)
        results = await asyncio.gather(
            *(self.client.create(PODS, build_pod(job, index=index), tenant=tenant, namespace=namespace)
              for index in plan.create_indexes), return_exceptions=True)
        failure: BaseException | None = None
        for result in results:
            if isinstance(result, BaseException):
                failure = result
                await self._recorder.event(job, "Warning", "FailedCreate", f"Error creating: {result}")
                continue
            name = result["metadata"]["name"]
            expectations.created[name] = (completion_index(result), time.monotonic())
            await self._recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {name}")
        if failure is not None:
            raise failure

    async def _delete_pods(self, job: dict[str, Any], plan: JobPlan, expectations: _Expectations) -> None:
        tenant, namespace = object_location(job)
        for pod in plan.delete:
            name = pod["metadata"]["name"]
            if name in expectations.created:
                continue  # not in the cache yet; the next sync sees it and decides again
            try:
                await self.client.delete(PODS, name, tenant=tenant, namespace=namespace)
            except NotFound:
                continue
            except ApiError as e:
                await self._recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {e}")
                raise
            expectations.deleted[name] = time.monotonic()
            await self._recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    async def _write_status(self, job: dict[str, Any], plan: JobPlan) -> None:
        if plan.status == (job.get("status") or {}):
            return
        try:
            await self.client.update(JOBS, {**job, "status": plan.status}, subresource="status")
        except NotFound:
            return
