"""The CronJob controller's decisions (`controllers.cronjob_plan.plan_cronjob`): first run after
creation, catching up only the most recent missed time, startingDeadlineSeconds, the three
concurrency policies, active list bookkeeping, history limits and suspend.

Leaves out: the controller's API calls (test/component/test_batch_cronjob.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controllers.cronjob_plan import plan_cronjob

NOW = datetime(2024, 5, 1, 10, 5, 30, tzinfo=UTC)


def cronjob(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    base = {"schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"t": "1"}}, "spec": {"template": {"spec": {}}}}}
    base.update(spec)
    return {"metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid",
                         "creationTimestamp": "2024-05-01T10:04:10Z"},
            "spec": base, "status": status or {}}


def job(name: str, *, finished: str | None = None, start: str = "2024-05-01T10:00:00Z") -> dict[str, Any]:
    status: dict[str, Any] = {"startTime": start}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
        if finished == "Complete":
            status["completionTime"] = start
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}, "status": status}


def ref(name: str) -> dict[str, Any]:
    return {"kind": "Job", "name": name, "uid": f"uid-{name}"}


def test_first_run_is_the_minute_after_creation_named_in_epoch_minutes() -> None:
    plan = plan_cronjob(cronjob(), [], now=NOW)
    assert plan.create is not None
    minutes = int(datetime(2024, 5, 1, 10, 5, tzinfo=UTC).timestamp()) // 60
    assert plan.create["metadata"]["name"] == f"cj-{minutes}"
    assert plan.create["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert plan.create["metadata"]["labels"] == {"t": "1"}
    assert plan.create["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] \
        == "2024-05-01T10:05:00Z"
    assert plan.status["lastScheduleTime"] == "2024-05-01T10:05:00Z"
    assert plan.next_run_in == 30.0
    again = plan_cronjob(cronjob(plan.status), [], now=NOW)
    assert again.create is None


def test_starting_deadline_misses_late_runs() -> None:
    plan = plan_cronjob(cronjob({"lastScheduleTime": "2024-05-01T10:00:00Z"}, startingDeadlineSeconds=10),
                        [], now=NOW)
    assert plan.create is None
    plan = plan_cronjob(cronjob({"lastScheduleTime": "2024-05-01T10:00:00Z"}, startingDeadlineSeconds=60),
                        [], now=NOW)
    assert plan.create is not None and plan.status["lastScheduleTime"] == "2024-05-01T10:05:00Z"


def test_concurrency_policies() -> None:
    status = {"lastScheduleTime": "2024-05-01T10:04:00Z", "active": [ref("old")]}
    running = [job("old")]
    forbid = plan_cronjob(cronjob(dict(status), concurrencyPolicy="Forbid"), running, now=NOW)
    assert forbid.create is None and forbid.events[0][1] == "JobAlreadyActive"
    replace = plan_cronjob(cronjob(dict(status), concurrencyPolicy="Replace"), running, now=NOW)
    assert replace.create is not None and [j["metadata"]["name"] for j in replace.delete] == ["old"]
    allow = plan_cronjob(cronjob(dict(status)), running, now=NOW)
    assert allow.create is not None and not allow.delete and allow.status["active"] == [ref("old")]


def test_active_list_follows_jobs_and_last_success() -> None:
    status = {"lastScheduleTime": "2024-05-01T10:05:00Z", "active": [ref("done"), ref("gone")]}
    plan = plan_cronjob(cronjob(status), [job("done", finished="Complete", start="2024-05-01T10:03:00Z")],
                        now=NOW)
    assert "active" not in plan.status
    assert plan.status["lastSuccessfulTime"] == "2024-05-01T10:03:00Z"
    reasons = [e[1] for e in plan.events]
    assert reasons == ["SawCompletedJob", "MissingJob"]


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    jobs = [job(f"ok{i}", finished="Complete", start=f"2024-05-01T09:0{i}:00Z") for i in range(5)]
    jobs += [job("bad1", finished="Failed", start="2024-05-01T09:01:00Z"),
             job("bad2", finished="Failed", start="2024-05-01T09:02:00Z")]
    plan = plan_cronjob(cronjob({"lastScheduleTime": "2024-05-01T10:05:00Z"}), jobs, now=NOW)
    assert sorted(j["metadata"]["name"] for j in plan.delete) == ["bad1", "ok0", "ok1"]


def test_suspended_cronjobs_start_nothing_and_resume_with_the_latest_miss() -> None:
    status = {"lastScheduleTime": "2024-05-01T10:00:00Z"}
    assert plan_cronjob(cronjob(dict(status), suspend=True), [], now=NOW).create is None
    resumed = plan_cronjob(cronjob(dict(status)), [], now=NOW)
    assert resumed.create is not None and resumed.status["lastScheduleTime"] == "2024-05-01T10:05:00Z"


def test_bad_schedule_is_an_event() -> None:
    plan = plan_cronjob(cronjob(schedule="nope"), [], now=NOW)
    assert plan.create is None and plan.events[0][1] == "UnparseableSchedule"
