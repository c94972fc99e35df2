"""What one sync of a Job decides: which pods to create or delete and what the status becomes.

Kept pure (the Job, its pods and the time in; a `JobPlan` out) so the rules of upstream's
``syncJob``/``manageJob`` can be read and tested without a server:
- finished Jobs (condition Complete or Failed) are left alone;
- ``spec.suspend`` deletes active pods and sets condition Suspended; resuming resets startTime;
- ``status.failed`` (plus container restarts with restartPolicy OnFailure) over ``backoffLimit``
  fails the Job with BackoffLimitExceeded; running past ``activeDeadlineSeconds`` with
  DeadlineExceeded. The Job first gets FailureTarget, its active pods are deleted, and Failed is
  added once no pod is still terminating (1.32 with JobPodReplacementPolicy);
- success: ``completions`` pods (NonIndexed) or indexes (Indexed) succeeded, or — without
  completions — any pod succeeded and none is active. SuccessCriteriaMet first, Complete and
  completionTime once nothing is terminating;
- otherwise keep ``min(parallelism, remaining completions)`` pods active.
Counts never go down: a pod deleted after it finished stays counted (upstream tracks this with
the ``job-tracking`` finalizer; we keep the maximum seen, a documented simplification).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from apis.meta import now_rfc3339, parse_time
from controllers.job_pods import PodCensus, completion_index, format_intervals, parse_intervals
from controllers.pod_state import pods_to_delete

EventSpec = tuple[Literal["Normal", "Warning"], str, str]
_FINAL = ("Complete", "Failed")


@dataclass
class JobPlan:
    status: dict[str, Any]
    create_indexes: list[int | None] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    deadline_in: float | None = None  # seconds until activeDeadlineSeconds runs out


def condition_true(job: dict[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or () if isinstance(c, dict))


def is_finished(job: dict[str, Any]) -> bool:
    return any(condition_true(job, kind) for kind in _FINAL)


def finish_time(job: dict[str, Any]) -> datetime | None:
    """When the Job got its Complete/Failed condition (what ttlSecondsAfterFinished counts from)."""
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in _FINAL and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


def plan_job(job: dict[str, Any], pods: PodCensus, *, now: datetime, may_create: bool) -> JobPlan:
    """The plan for one sync. ``may_create`` is False while pod-failure backoff holds creations."""
    status = copy.deepcopy(job.get("status") or {})
    plan = JobPlan(status)
    if is_finished(job):
        return plan
    spec = job.get("spec") or {}
    stamp = now_rfc3339(now)
    _count(job, pods, status)
    if spec.get("suspend"):
        _suspend(plan, pods, stamp)
        _fill_active(status, pods, plan)
        return plan
    if _set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", stamp):
        plan.events.append(("Normal", "Resumed", "Job resumed"))
        status["startTime"] = stamp
    status.setdefault("startTime", stamp)
    failure = _failure(job, pods, status, now, plan)
    if failure is not None or condition_true({"status": status}, "FailureTarget"):
        _finish(plan, pods, "Failed", "FailureTarget", failure, stamp)
    elif _succeeded(job, pods, status):
        _finish(plan, pods, "Complete", "SuccessCriteriaMet",
                ("CompletionsReached", "Reached expected number of succeeded pods"), stamp)
    else:
        _manage(job, pods, plan, may_create=may_create)
    _fill_active(status, pods, plan)
    return plan


def _count(job: dict[str, Any], pods: PodCensus, status: dict[str, Any]) -> None:
    spec = job.get("spec") or {}
    status["failed"] = max(int(status.get("failed") or 0), len(pods.failed))
    if spec.get("completionMode") == "Indexed":
        completions = int(spec.get("completions") or 0)
        done = parse_intervals(status.get("completedIndexes"))
        done.update(i for i in map(completion_index, pods.succeeded) if i is not None and i < completions)
        status["completedIndexes"] = format_intervals(done)
        status["succeeded"] = len(done)
    else:
        status["succeeded"] = max(int(status.get("succeeded") or 0), len(pods.succeeded))
    status.setdefault("uncountedTerminatedPods", {})


def _fill_active(status: dict[str, Any], pods: PodCensus, plan: JobPlan) -> None:
    deleting = {id(p) for p in plan.delete}
    active = [p for p in pods.active if id(p) not in deleting]
    status["active"] = len(active) + len(plan.create_indexes)
    status["ready"] = sum(1 for p in active if _ready(p))
    status["terminating"] = len(pods.terminating) + len(plan.delete)


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or () if isinstance(c, dict))


def _suspend(plan: JobPlan, pods: PodCensus, stamp: str) -> None:
    plan.delete.extend(pods.active)
    if _set_condition(plan.status, "Suspended", "True", "JobSuspended", "Job suspended", stamp):
        plan.events.append(("Normal", "Suspended", "Job suspended"))


def _failure(job: dict[str, Any], pods: PodCensus, status: dict[str, Any], now: datetime,
             plan: JobPlan) -> tuple[str, str] | None:
    spec = job.get("spec") or {}
    failures = int(status.get("failed") or 0)
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
        failures += pods.restarts
    if failures > int(spec.get("backoffLimit", 6)):
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    deadline = spec.get("activeDeadlineSeconds")
    started = parse_time(status.get("startTime"))
    if deadline is not None and started is not None:
        left = float(deadline) - (now - started).total_seconds()
        if left <= 0:
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        plan.deadline_in = left
    return None


def _succeeded(job: dict[str, Any], pods: PodCensus, status: dict[str, Any]) -> bool:
    spec = job.get("spec") or {}
    succeeded = int(status.get("succeeded") or 0)
    completions = spec.get("completions")
    if completions is None:
        return succeeded > 0 and not pods.active
    return succeeded >= int(completions)


def _finish(plan: JobPlan, pods: PodCensus, final: str, interim: str,
            reason: tuple[str, str] | None, stamp: str) -> None:
    """Interim condition now, active pods deleted, final condition once nothing terminates."""
    status = plan.status
    if reason is None:  # FailureTarget set by an earlier sync: reuse its reason
        earlier = next(c for c in status.get("conditions") or [] if c.get("type") == interim)
        reason = (str(earlier.get("reason") or ""), str(earlier.get("message") or ""))
    newly = _set_condition(status, interim, "True", reason[0], reason[1], stamp)
    if newly and final == "Failed":
        plan.events.append(("Warning", reason[0], reason[1]))
    plan.delete.extend(pods.active)
    if pods.active or pods.terminating:
        return
    _set_condition(status, final, "True", reason[0], reason[1], stamp)
    if final == "Complete":
        status["completionTime"] = stamp
        plan.events.append(("Normal", "Completed", "Job completed"))


def _manage(job: dict[str, Any], pods: PodCensus, plan: JobPlan, *, may_create: bool) -> None:
    spec = job.get("spec") or {}
    status = plan.status
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    active = len(pods.active)
    if completions is None:
        want = active if int(status.get("succeeded") or 0) > 0 else parallelism
    else:
        want = max(0, min(parallelism, int(completions) - int(status.get("succeeded") or 0)))
    # With podReplacementPolicy Failed, a terminating pod is replaced only once it has failed.
    busy = active + (len(pods.terminating) if spec.get("podReplacementPolicy") == "Failed" else 0)
    if spec.get("completionMode") == "Indexed":
        _manage_indexed(job, pods, plan, want=want, may_create=may_create)
        return
    if active > want:
        plan.delete.extend(pods_to_delete(pods.active, active - want))
    elif busy < want and may_create:
        plan.create_indexes.extend([None] * (want - busy))


def _manage_indexed(job: dict[str, Any], pods: PodCensus, plan: JobPlan, *, want: int,
                    may_create: bool) -> None:
    completions = int((job.get("spec") or {}).get("completions") or 0)
    done = parse_intervals(plan.status.get("completedIndexes"))
    seen: set[int] = set()
    for pod in pods.active:
        index = completion_index(pod)
        # Pods without a valid index, for a finished index, or duplicates of an index go.
        if index is None or index >= completions or index in done or index in seen:
            plan.delete.append(pod)
        else:
            seen.add(index)
    excess = len(seen) - want
    if excess > 0:
        extra = [p for p in pods.active if completion_index(p) in seen and p not in plan.delete]
        plan.delete.extend(sorted(extra, key=lambda p: -(completion_index(p) or 0))[:excess])
        return
    if not may_create:
        return
    taken = set(seen)
    if (job.get("spec") or {}).get("podReplacementPolicy") == "Failed":
        taken |= {i for i in map(completion_index, pods.terminating) if i is not None}
    free = [i for i in range(completions) if i not in done and i not in taken]
    plan.create_indexes.extend(free[:max(0, want - len(taken))])


def _set_condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str,
                   stamp: str) -> bool:
    """Sets a condition; answers whether it changed. Suspended=False is only written when the
    condition exists (a Job that was never suspended has no Suspended condition)."""
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") == value:
                return False
            condition.update({"status": value, "reason": reason, "message": message,
                              "lastProbeTime": stamp, "lastTransitionTime": stamp})
            return True
    if kind == "Suspended" and value == "False":
        if not conditions:
            status.pop("conditions")
        return False
    conditions.append({"type": kind, "status": value, "reason": reason, "message": message,
                       "lastProbeTime": stamp, "lastTransitionTime": stamp})
    return True
