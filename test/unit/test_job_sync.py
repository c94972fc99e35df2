"""The Job controller's decisions (`controllers.job_sync.plan_job`) and pod building
(`controllers.job_pods`): parallelism and completions, Indexed jobs, backoffLimit, deadline,
suspend/resume, the two-step terminal conditions, and interval lists.

Leaves out: carrying the plan out against a server (test/component/test_batch_job.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.job_pods import build_pod, census, format_intervals, parse_intervals
from controllers.job_sync import condition_true, plan_job

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def job(**spec: Any) -> dict[str, Any]:
    base = {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "template": {"metadata": {"labels": {"app": "x"}},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "ns", "uid": "u-1", "hashKey": 7}, "spec": base}


def pod(phase: str, index: int | None = None, name: str = "", **meta: Any) -> dict[str, Any]:
    annotations = {} if index is None else {"batch.kubernetes.io/job-completion-index": str(index)}
    return {"metadata": {"name": name or f"p-{phase}-{index}-{id(meta)}", "annotations": annotations, **meta},
            "status": {"phase": phase}}


def test_creates_up_to_parallelism_and_no_more_than_remaining_completions() -> None:
    plan = plan_job(job(parallelism=3, completions=5), census([pod("Running")]), now=NOW, may_create=True)
    assert plan.create_indexes == [None, None]
    assert plan.status["active"] == 3 and plan.status["startTime"] == "2024-05-01T10:00:00Z"
    plan = plan_job(job(parallelism=3, completions=5),
                    census([pod("Succeeded"), pod("Succeeded"), pod("Succeeded"), pod("Running")]),
                    now=NOW, may_create=True)
    assert plan.create_indexes == [None] and plan.status["succeeded"] == 3
    held = plan_job(job(parallelism=3, completions=5), census([]), now=NOW, may_create=False)
    assert held.create_indexes == []


def test_completion_sets_success_criteria_then_complete() -> None:
    done = [pod("Succeeded"), pod("Succeeded")]
    plan = plan_job(job(parallelism=2, completions=2), census(done), now=NOW, may_create=True)
    conditions = {c["type"]: c for c in plan.status["conditions"]}
    assert conditions["SuccessCriteriaMet"]["status"] == "True"
    assert conditions["Complete"]["reason"] == "CompletionsReached"
    assert plan.status["completionTime"] == "2024-05-01T10:00:00Z"
    assert ("Normal", "Completed", "Job completed") in plan.events
    finished = {**job(), "status": plan.status}
    assert plan_job(finished, census([]), now=NOW, may_create=True).status == plan.status


def test_backoff_limit_fails_the_job_after_its_pods_are_gone() -> None:
    running = pod("Running", name="r")
    plan = plan_job(job(parallelism=2, completions=4, backoffLimit=1),
                    census([pod("Failed"), pod("Failed"), running]), now=NOW, may_create=True)
    assert [p["metadata"]["name"] for p in plan.delete] == ["r"]
    assert condition_true({"status": plan.status}, "FailureTarget")
    assert not condition_true({"status": plan.status}, "Failed")
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in plan.events
    later = plan_job({**job(backoffLimit=1), "status": plan.status}, census([pod("Failed"), pod("Failed")]),
                     now=NOW, may_create=True)
    failed = next(c for c in later.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded" and later.create_indexes == []


def test_active_deadline() -> None:
    started = {"startTime": (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    early = plan_job({**job(activeDeadlineSeconds=60), "status": dict(started)}, census([pod("Running")]),
                     now=NOW, may_create=True)
    assert early.deadline_in is not None and 29 <= early.deadline_in <= 30
    late = plan_job({**job(activeDeadlineSeconds=10), "status": dict(started)}, census([]),
                    now=NOW, may_create=True)
    assert next(c for c in late.status["conditions"] if c["type"] == "Failed")["reason"] == "DeadlineExceeded"


def test_indexed_jobs_fill_missing_indexes() -> None:
    pods = [pod("Succeeded", 0), pod("Running", 2), pod("Running", 2, name="dup")]
    plan = plan_job(job(completionMode="Indexed", completions=4, parallelism=3), census(pods),
                    now=NOW, may_create=True)
    assert plan.status["completedIndexes"] == "0"
    assert [p["metadata"]["name"] for p in plan.delete] == ["dup"]
    assert plan.create_indexes == [1, 3]


def test_suspend_deletes_pods_and_resume_restarts_the_clock() -> None:
    plan = plan_job(job(suspend=True, parallelism=2, completions=2), census([pod("Running", name="a")]),
                    now=NOW, may_create=True)
    assert [p["metadata"]["name"] for p in plan.delete] == ["a"] and plan.create_indexes == []
    assert ("Normal", "Suspended", "Job suspended") in plan.events
    resumed = plan_job({**job(parallelism=2, completions=2), "status": plan.status}, census([]),
                       now=NOW + timedelta(minutes=1), may_create=True)
    assert ("Normal", "Resumed", "Job resumed") in resumed.events
    assert resumed.status["startTime"] == "2024-05-01T10:01:00Z" and len(resumed.create_indexes) == 2


def test_work_queue_job_completes_when_one_succeeded_and_none_active() -> None:
    spec = job(parallelism=2)
    spec["spec"].pop("completions")
    assert plan_job(spec, census([]), now=NOW, may_create=True).create_indexes == [None, None]
    waiting = plan_job(spec, census([pod("Succeeded"), pod("Running")]), now=NOW, may_create=True)
    assert waiting.create_indexes == [] and not waiting.delete
    done = plan_job(spec, census([pod("Succeeded"), pod("Succeeded")]), now=NOW, may_create=True)
    assert condition_true({"status": done.status}, "Complete")


def test_pods_carry_labels_owner_and_index() -> None:
    built = build_pod(job(completionMode="Indexed", completions=3), index=2)
    metadata = built["metadata"]
    assert metadata["generateName"] == "pi-2-"
    assert metadata["labels"]["batch.kubernetes.io/controller-uid"] == "u-1"
    assert metadata["labels"]["job-name"] == "pi" and metadata["labels"]["app"] == "x"
    assert metadata["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert built["spec"]["hostname"] == "pi-2"
    owner = metadata["ownerReferences"][0]
    assert owner == {"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "u-1",
                     "controller": True, "blockOwnerDeletion": True, "hashKey": 7}


def test_interval_lists() -> None:
    assert format_intervals([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert parse_intervals("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert format_intervals([]) == "" and parse_intervals(None) == set()
