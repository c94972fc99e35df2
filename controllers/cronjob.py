"""The CronJob controller: start Jobs on schedule, in every tenant (upstream's ``cronjob-controller``).

`controllers.cronjob_plan.plan_cronjob` decides; this module carries the plan out — Jobs deleted
(Replace, history limits) with Background propagation, the new Job created, the status written
through ``cronjobs/{name}/status``, Events recorded — and asks to be woken for the next schedule
time (upstream requeues ``nextScheduleTime - now + 100ms``), so no polling loop is needed.
A CronJob is synced when it changes or one of its Jobs does (found by controller uid).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import AlreadyExists, NotFound
from client.events import EventRecorder
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef
from controllers.cronjob_plan import CronPlan, active_reference, plan_cronjob
from controllers.job import JOBS, JOBS_VIEW
from controllers.registry import REGISTRY
from controllers.workload_objects import (
    BY_CONTROLLER_UID,
    CHILD_INDEXERS,
    controller_ref,
    object_location,
    owner_key_of_kind,
)

log = logging.getLogger(__name__)

CRON_JOBS = ResourceRef("batch", "v1", "cronjobs", "CronJob")
CRON_JOBS_VIEW = InformerView(CRON_JOBS, tenant=ALL_TENANTS)
_WAKE_MARGIN_S = 0.1


def cronjob_of_job(job: dict[str, Any]) -> list[Hashable]:
    return owner_key_of_kind("CronJob", job)


@REGISTRY.register
class CronJobController(Controller):
    name = "cronjob"
    workers = 5
    watches = (Watch(CRON_JOBS_VIEW), Watch(JOBS_VIEW, keys=cronjob_of_job, indexers=CHILD_INDEXERS))

    _recorder: EventRecorder

    async def start(self) -> None:
        self._recorder = EventRecorder(self.client, "cronjob-controller")

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        cronjob = self.informer(CRON_JOBS_VIEW).get(key)
        if cronjob is None:
            return
        uid = cronjob["metadata"].get("uid")
        jobs = [j for j in self.informer(JOBS_VIEW).by_index(BY_CONTROLLER_UID, str(uid))
                if (controller_ref(j) or {}).get("kind") == "CronJob"]
        plan = plan_cronjob(cronjob, jobs, now=datetime.now(UTC))
        await self._delete_jobs(cronjob, plan)
        await self._create_job(cronjob, plan)
        if plan.status != (cronjob.get("status") or {}):
            try:
                await self.client.update(CRON_JOBS, {**cronjob, "status": plan.status}, subresource="status")
            except NotFound:
                return
        for event_type, reason, message in plan.events:
            await self._recorder.event(cronjob, event_type, reason, message)
        if plan.next_run_in is not None:
            raise Requeue(plan.next_run_in + _WAKE_MARGIN_S, f"cronjob {key}: next schedule time")

    async def _delete_jobs(self, cronjob: dict[str, Any], plan: CronPlan) -> None:
        tenant, namespace = object_location(cronjob)
        for job in plan.delete:
            name = job["metadata"]["name"]
            try:
                await self.client.delete(JOBS, name, tenant=tenant, namespace=namespace,
                                         propagation_policy="Background")
            except NotFound:
                continue
            await self._recorder.event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {name}")

    async def _create_job(self, cronjob: dict[str, Any], plan: CronPlan) -> None:
        if plan.create is None:
            return
        tenant, namespace = object_location(cronjob)
        name = plan.create["metadata"]["name"]
        try:
            created = await self.client.create(JOBS, plan.create, tenant=tenant, namespace=namespace)
        except AlreadyExists:
            # Our informer has not seen it yet, or someone else took the name: only ours counts.
            created = await self.client.get(JOBS, name, tenant=tenant, namespace=namespace)
            if (controller_ref(created) or {}).get("uid") != cronjob["metadata"].get("uid"):
                await self._recorder.event(cronjob, "Warning", "FailedCreate",
                                           f"Error creating job: job {name} already exists")
                raise
        else:
            await self._recorder.event(cronjob, "Normal", "SuccessfulCreate", f"Created job {name}")
        active = [r for r in plan.status.get("active") or [] if r.get("uid") != created["metadata"]["uid"]]
        plan.status["active"] = [*active, active_reference(created)]
