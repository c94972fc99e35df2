"""What one sync of a CronJob decides, given its Jobs and the time: upstream's ``syncCronJob``.

Pure (CronJob, owned Jobs, now → `CronPlan`), so the scheduling rules are tested without waiting
for minutes to pass:
- ``status.active`` follows the owned Jobs: finished ones leave it (``SawCompletedJob``), gone ones
  too (``MissingJob``), and ``lastSuccessfulTime`` is the latest completionTime of a Complete Job;
- nothing is started while the CronJob is suspended or being deleted;
- the time to run is the most recent schedule time after ``lastScheduleTime`` (or the creation
  time), not earlier than ``startingDeadlineSeconds`` ago; older misses are not made up for
  (``TooManyMissedTimes`` past 100), and a start later than the deadline is a ``MissSchedule``;
- concurrencyPolicy Forbid skips the run while a Job is active (``JobAlreadyActive``), Replace
  deletes the active Jobs first, Allow just starts another;
- the Job is named ``<cronjob>-<scheduled time in minutes since the epoch>`` so a retried sync
  cannot start a time twice;
- finished Jobs beyond successfulJobsHistoryLimit/failedJobsHistoryLimit are deleted, oldest first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apis.meta import now_rfc3339, parse_time
from controllers.cron_schedule import ScheduleError, most_recent_time, parse_schedule
from controllers.job_sync import EventSpec, condition_true, is_finished
from controllers.workload_objects import owner_reference

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_TOO_MANY_MISSED = 100


@dataclass
class CronPlan:
    status: dict[str, Any]
    create: dict[str, Any] | None = None
    delete: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    next_run_in: float | None = None


def job_name(cronjob: dict[str, Any], scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def plan_cronjob(cronjob: dict[str, Any], jobs: list[dict[str, Any]], *, now: datetime) -> CronPlan:
    plan = CronPlan(copy.deepcopy(cronjob.get("status") or {}))
    _track_jobs(plan, jobs)
    if (cronjob.get("metadata") or {}).get("deletionTimestamp"):
        return plan
    if not (cronjob.get("spec") or {}).get("suspend"):
        _schedule(plan, cronjob, jobs, now=now)
    _clean_history(plan, cronjob, jobs)
    return plan


def _schedule(plan: CronPlan, cronjob: dict[str, Any], jobs: list[dict[str, Any]], *,
              now: datetime) -> None:
    spec = cronjob.get("spec") or {}
    try:
        schedule = parse_schedule(str(spec.get("schedule") or ""), spec.get("timeZone"))
    except ScheduleError as e:
        plan.events.append(("Warning", "UnparseableSchedule",
                            f"unparseable schedule: {spec.get('schedule')!r} : {e}"))
        return
    following = schedule.next_after(now)
    if following is not None:
        plan.next_run_in = (following - now).total_seconds()
    earliest = (parse_time(plan.status.get("lastScheduleTime"))
                or parse_time((cronjob.get("metadata") or {}).get("creationTimestamp")) or now)
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    scheduled, missed = most_recent_time(schedule, earliest=earliest, now=now)
    if scheduled is None:
        return
    if missed > _TOO_MANY_MISSED:
        plan.events.append(("Warning", "TooManyMissedTimes",
                            f"too many missed start times: {missed}. Set or decrease "
                            ".spec.startingDeadlineSeconds or check clock skew"))
    if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
        plan.events.append(("Warning", "MissSchedule", "Missed scheduled time to start a job: "
                            + scheduled.strftime("%a, %d %b %Y %H:%M:%S %z")))
        return
    _start(plan, cronjob, jobs, scheduled)


def _track_jobs(plan: CronPlan, jobs: list[dict[str, Any]]) -> None:
    status = plan.status
    active: list[dict[str, Any]] = list(status.get("active") or [])
    by_uid = {j["metadata"].get("uid"): j for j in jobs}
    kept: list[dict[str, Any]] = []
    for ref in active:
        job = by_uid.get(ref.get("uid"))
        if job is None:
            plan.events.append(("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"))
        elif is_finished(job):
            condition = "Complete" if condition_true(job, "Complete") else "Failed"
            plan.events.append(("Normal", "SawCompletedJob",
                                f"Saw completed job: {job['metadata']['name']}, condition: {condition}"))
        else:
            kept.append(ref)
    listed = {ref.get("uid") for ref in kept}
    # An unfinished Job of ours missing from the list: we created it and crashed (or our status
    # write lost a race with the Job's event) before recording it. Upstream warns; we re-adopt it.
    kept.extend(_reference(j) for j in jobs if not is_finished(j) and j["metadata"].get("uid") not in listed)
    if kept:
        status["active"] = kept
    else:
        status.pop("active", None)
    for job in jobs:
        completed = (job.get("status") or {}).get("completionTime")
        last = parse_time(status.get("lastSuccessfulTime"))
        when = parse_time(completed)
        if condition_true(job, "Complete") and when is not None and (last is None or when > last):
            status["lastSuccessfulTime"] = completed


def _start(plan: CronPlan, cronjob: dict[str, Any], jobs: list[dict[str, Any]],
           scheduled: datetime) -> None:
    name = job_name(cronjob, scheduled)
    status = plan.status
    if any(j["metadata"]["name"] == name for j in jobs) or any(
            r.get("name") == name for r in status.get("active") or []):
        return  # this time was handled by an earlier sync
    spec = cronjob.get("spec") or {}
    policy = spec.get("concurrencyPolicy") or "Allow"
    active_refs = list(status.get("active") or [])
    if policy == "Forbid" and active_refs:
        plan.events.append(("Normal", "JobAlreadyActive", "Not starting job because prior execution "
                            "is running and concurrency policy is Forbid"))
        return
    if policy == "Replace" and active_refs:
        by_uid = {j["metadata"].get("uid"): j for j in jobs}
        plan.delete.extend(by_uid[r["uid"]] for r in active_refs if r.get("uid") in by_uid)
        status.pop("active", None)
    plan.create = build_job(cronjob, scheduled)
    status["lastScheduleTime"] = now_rfc3339(scheduled)


def build_job(cronjob: dict[str, Any], scheduled: datetime) -> dict[str, Any]:
    """The Job for one scheduled time, from ``spec.jobTemplate``."""
    spec = cronjob.get("spec") or {}
    template = copy.deepcopy(spec.get("jobTemplate") or {})
    template_meta = template.get("metadata") or {}
    annotations = dict(template_meta.get("annotations") or {})
    zone_time = scheduled
    if spec.get("timeZone"):
        zone_time = scheduled.astimezone(parse_schedule("* * * * *", spec["timeZone"]).zone)
    annotations[SCHEDULED_TIMESTAMP] = zone_time.isoformat().replace("+00:00", "Z")
    metadata: dict[str, Any] = {
        "name": job_name(cronjob, scheduled), "namespace": cronjob["metadata"].get("namespace"),
        "annotations": annotations,
        "ownerReferences": [owner_reference(cronjob, api_version="batch/v1", kind="CronJob")],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
            "spec": template.get("spec") or {}}


def _clean_history(plan: CronPlan, cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
    spec = cronjob.get("spec") or {}
    doomed = {id(j) for j in plan.delete}
    for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                        ("Failed", spec.get("failedJobsHistoryLimit"))):
        if limit is None:
            continue
        finished = [j for j in jobs if condition_true(j, kind) and id(j) not in doomed
                    and not j["metadata"].get("deletionTimestamp")]
        finished.sort(key=_start_order)
        plan.delete.extend(finished[:max(0, len(finished) - int(limit))])


def _start_order(job: dict[str, Any]) -> tuple[int, float, str]:
    """Oldest first; Jobs that never started sort last (upstream's ``byJobStartTime``)."""
    started = parse_time((job.get("status") or {}).get("startTime"))
    if started is None:
        return (1, 0.0, job["metadata"]["name"])
    return (0, started.timestamp(), job["metadata"]["name"])


def _reference(job: dict[str, Any]) -> dict[str, Any]:
    metadata = job["metadata"]
    return {"kind": "Job", "apiVersion": "batch/v1", "name": metadata.get("name"),
            "namespace": metadata.get("namespace"), "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion")}


def active_reference(job: dict[str, Any]) -> dict[str, Any]:
    """The ``status.active`` entry for a Job just created."""
    return _reference(job)
