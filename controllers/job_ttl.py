"""The TTL-after-finished controller: delete finished Jobs once ``ttlSecondsAfterFinished`` passed.

Upstream runs this as its own controller (``pkg/controller/ttlafterfinished``,
``ttl-after-finished-controller``) beside the Job controller: a Job with the field set that has
a Complete or Failed condition is deleted ``ttl`` seconds after that condition's
lastTransitionTime, with Background propagation so the garbage collector removes its pods. A
uid precondition makes sure a Job re-created under the same name is not deleted by mistake.
Jobs not yet due are looked at again when they are.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from datetime import UTC, datetime

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import Conflict, NotFound
from controllers.job import JOBS, JOBS_VIEW
from controllers.job_sync import finish_time, is_finished
from controllers.registry import REGISTRY
from controllers.workload_objects import object_location

log = logging.getLogger(__name__)


@REGISTRY.register
class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    workers = 2
    watches = (Watch(JOBS_VIEW),)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        job = self.informer(JOBS_VIEW).get(key)
        if job is None or (job.get("metadata") or {}).get("deletionTimestamp"):
            return
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or not is_finished(job):
            return
        finished = finish_time(job) or datetime.now(UTC)
        left = float(ttl) - (datetime.now(UTC) - finished).total_seconds()
        if left > 0:
            raise Requeue(left, f"job {key} expires in {left:.1f}s")
        tenant, namespace = object_location(job)
        try:
            await self.client.delete(JOBS, key.name, tenant=tenant, namespace=namespace,
                                     propagation_policy="Background",
                                     preconditions={"uid": str(job["metadata"].get("uid") or "")})
        except (NotFound, Conflict):
            return  # gone already, or replaced by a new Job of the same name
        log.info("deleted job %s %.0fs after it finished (ttlSecondsAfterFinished=%s)", key,
                 float(ttl) - left, ttl)
