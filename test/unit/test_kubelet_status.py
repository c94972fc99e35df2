"""Pod phase, conditions and container statuses computed from runtime records, and back-off.

Covers upstream's getPhase rules (init containers, restart policies, crash loops counting as
stopped), condition transitions keeping lastTransitionTime, lastState/restartCount from attempts,
the changed-fields patch, and CrashLoopBackOff's 10 s doubling to 5 min with an injected clock.
Leaves out the runtime and the API (component tests).
"""

from __future__ import annotations

from typing import Any

from kubelet.backoff import CrashBackoff
from kubelet.runtime import ContainerInfo
from kubelet.status import PodObservation, changed_fields, compute_pod_status


def pod(*, policy: str = "Always", init: bool = False,
        status: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": policy, "containers": [{"name": "app", "image": "busybox"}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox"}]
    return {"metadata": {"name": "p", "uid": "u1"}, "spec": spec, "status": status or {}}


def attempt(name: str, n: int, state: str, *, code: int = 0) -> ContainerInfo:
    return ContainerInfo(id=f"{name}-{n}", sandbox_id="s", pod_uid="u1", name=name, attempt=n,
                         state=state,  # type: ignore[arg-type]
                         image="busybox", image_ref="sha256:x", created_at=100.0 + n,
                         started_at=100.0 + n, finished_at=101.0 + n if state == "exited" else 0.0,
                         exit_code=code, reason="Error" if code else "Completed")


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_no_containers_yet_is_pending_and_creating() -> None:
    status = compute_pod_status(pod(), PodObservation([], pod_ip="10.0.0.5", host_ip="1.2.3.4"))
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert conditions(status) == {"PodScheduled": "True", "Initialized": "True",
                                  "ContainersReady": "False", "Ready": "False"}
    assert status["podIPs"] == [{"ip": "10.0.0.5"}] and status["hostIP"] == "1.2.3.4"


def test_running_container_makes_the_pod_running_and_ready() -> None:
    status = compute_pod_status(pod(), PodObservation([attempt("app", 0, "running")]))
    assert status["phase"] == "Running"
    assert conditions(status)["Ready"] == "True"
    cs = status["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["containerID"] == "hollow://app-0"
    assert "running" in cs["state"]


def test_pending_init_container_keeps_the_pod_uninitialised() -> None:
    status = compute_pod_status(pod(init=True), PodObservation([attempt("setup", 0, "running")]))
    assert status["phase"] == "Pending"
    assert conditions(status)["Initialized"] == "False"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"


def test_failed_init_container_fails_a_never_restarting_pod() -> None:
    observed = PodObservation([attempt("setup", 0, "exited", code=3)])
    assert compute_pod_status(pod(init=True, policy="Never"), observed)["phase"] == "Failed"
    assert compute_pod_status(pod(init=True, policy="Always"), observed)["phase"] == "Pending"


def test_exit_phases_follow_the_restart_policy() -> None:
    ok, bad = [attempt("app", 0, "exited")], [attempt("app", 0, "exited", code=1)]
    assert compute_pod_status(pod(policy="Never"), PodObservation(ok))["phase"] == "Succeeded"
    assert compute_pod_status(pod(policy="Never"), PodObservation(bad))["phase"] == "Failed"
    assert compute_pod_status(pod(policy="OnFailure"), PodObservation(ok))["phase"] == "Succeeded"
    assert compute_pod_status(pod(policy="OnFailure"), PodObservation(bad))["phase"] == "Running"
    succeeded = compute_pod_status(pod(policy="Never"), PodObservation(ok))
    ready = next(c for c in succeeded["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodCompleted"


def test_crash_loop_shows_waiting_with_the_crash_as_last_state() -> None:
    observed = PodObservation([attempt("app", 0, "exited", code=1), attempt("app", 1, "exited", code=1)],
                              waiting={"app": ("CrashLoopBackOff", "back-off 10s")})
    status = compute_pod_status(pod(), observed)
    cs = status["containerStatuses"][0]
    assert status["phase"] == "Running"  # a crash-looping container counts as stopped
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["restartCount"] == 1 and not cs["ready"]


def test_unchanged_conditions_keep_their_transition_time() -> None:
    old = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
                          {"type": "Initialized", "status": "False",
                           "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
    status = compute_pod_status(pod(status=old), PodObservation([attempt("app", 0, "running")]))
    times = {c["type"]: c["lastTransitionTime"] for c in status["conditions"]}
    assert times["Ready"] == "2020-01-01T00:00:00Z"
    assert times["Initialized"] != "2020-01-01T00:00:00Z"


def test_changed_fields_names_only_what_differs() -> None:
    assert changed_fields({"phase": "Pending", "podIP": "1"}, {"phase": "Running", "podIP": "1"}) == {
        "phase": "Running"}


def test_backoff_restarts_once_at_once_then_doubles_to_five_minutes() -> None:
    now = [1000.0]
    backoff = CrashBackoff(clock=lambda: now[0])
    assert backoff.remaining("u", "c", finished_at=now[0]) == 0
    delays = [backoff.record_restart("u", "c") for _ in range(8)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff.remaining("u", "c", finished_at=now[0]) == 300
    now[0] += 120
    assert backoff.remaining("u", "c", finished_at=now[0] - 120) == 180
    backoff.forget_pod("u")
    assert backoff.remaining("u", "c", finished_at=now[0]) == 0


def test_backoff_resets_after_running_cleanly_for_twice_the_maximum() -> None:
    now = [0.0]
    backoff = CrashBackoff(clock=lambda: now[0])
    backoff.record_restart("u", "c")
    backoff.record_restart("u", "c")
    now[0] += 601
    assert backoff.record_restart("u", "c") == 10
