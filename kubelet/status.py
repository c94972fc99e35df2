"""Pod status from what the runtime reports: phase, conditions and container statuses.

A pure function of (pod spec, previous status, runtime records), so the rules upstream's kubelet
applies (``kubelet_pods.go`` getPhase / generateAPIPodStatus, ``status/generate.go`` for the
conditions) are unit-testable without a runtime or a server:

- a container's status comes from its newest attempt; the attempt before it is ``lastState``;
  a crashed container waiting out its back-off shows ``waiting: CrashLoopBackOff`` with the crash
  as ``lastState`` and counts as *stopped*, not *waiting*, for the phase (so an Always pod stays
  Running while it crash-loops, as upstream);
- Pending until every init container has exited 0; Failed when one failed under
  restartPolicy Never; then Running while anything runs, and Succeeded / Failed once all stopped
  under the restart policy's rules;
- a running container is ready unless its readiness probe says otherwise, and started unless its
  startup probe has not passed yet (``PodObservation.ready`` / ``started``, from
  `kubelet.probes`); ContainersReady and Ready follow, naming the unready containers as upstream
  (``containers with unready status: [a b]``);
- conditions PodScheduled, Initialized, ContainersReady, Ready keep their lastTransitionTime
  while their status does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apis.meta import now_rfc3339
from apis.wire_types import Condition, pod_spec_of, pod_status_of
from kubelet.runtime import ContainerInfo

CONDITION_TYPES = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


@dataclass(frozen=True, slots=True)
class PodObservation:
    """What the kubelet knows about one pod beyond its spec."""

    containers: list[ContainerInfo]
    pod_ip: str = ""
    host_ip: str = ""
    id_scheme: str = "hollow"
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reason, message)
    start_time: str = ""
    # Per running container id, when a probe decides it (absent: ready / started while running).
    ready: dict[str, bool] = field(default_factory=dict)
    started: dict[str, bool] = field(default_factory=dict)


def rfc3339(epoch_seconds: float) -> str:
    return now_rfc3339(datetime.fromtimestamp(epoch_seconds, UTC)) if epoch_seconds else ""


def newest_attempts(containers: list[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    """Each container name's attempts, newest first."""
    by_name: dict[str, list[ContainerInfo]] = {}
    for container in sorted(containers, key=lambda c: (c.attempt, c.created_at), reverse=True):
        by_name.setdefault(container.name, []).append(container)
    return by_name


def container_state(info: ContainerInfo, scheme: str) -> dict[str, Any]:
    """One attempt as a ``ContainerState``: running, terminated (exit, reason, times) or waiting."""
    if info.state == "running":
        return {"running": {"startedAt": rfc3339(info.started_at)}}
    if info.state == "exited":
        terminated: dict[str, Any] = {"exitCode": info.exit_code, "reason": info.reason or "Error",
                                      "startedAt": rfc3339(info.started_at),
                                      "finishedAt": rfc3339(info.finished_at),
                                      "containerID": f"{scheme}://{info.id}"}
        if info.message:
            terminated["message"] = info.message
        return {"terminated": terminated}
    return {"waiting": {"reason": "ContainerCreating"}}


def container_status(spec: Mapping[str, Any], attempts: list[ContainerInfo], obs: PodObservation, *,
                     default_waiting: str) -> dict[str, Any]:
    name = str(spec.get("name", ""))
    status: dict[str, Any] = {"name": name, "image": spec.get("image", ""), "imageID": "",
                              "restartCount": 0, "ready": False, "started": False,
                              "state": {"waiting": {"reason": default_waiting}}, "lastState": {}}
    waiting = obs.waiting.get(name)
    if not attempts:
        if waiting:
            status["state"] = {"waiting": _waiting(waiting)}
        return status
    newest = attempts[0]
    status.update(imageID=newest.image_ref, containerID=f"{obs.id_scheme}://{newest.id}",
                  restartCount=newest.attempt, state=container_state(newest, obs.id_scheme))
    if len(attempts) > 1:
        status["lastState"] = container_state(attempts[1], obs.id_scheme)
    if newest.state == "exited" and waiting:
        # Waiting to be restarted: the exit becomes lastState (upstream's CrashLoopBackOff view).
        status["lastState"] = status["state"]
        status["state"] = {"waiting": _waiting(waiting)}
    running = newest.state == "running"
    started = running and obs.started.get(newest.id, True)
    # Upstream's prober UpdatePodStatus: a container that has not started is never ready.
    status["ready"] = started and obs.ready.get(newest.id, True)
    status["started"] = started
    return status


def _waiting(reason_message: tuple[str, str]) -> dict[str, str]:
    reason, message = reason_message
    return {"reason": reason, **({"message": message} if message else {})}


def _init_progress(pod: dict[str, Any], statuses: list[dict[str, Any]]) -> tuple[bool, bool]:
    """(initialized, failed) from the init container statuses."""
    failed = False
    for status in statuses:
        terminated = status["state"].get("terminated") or (status.get("lastState") or {}).get("terminated")
        if status["state"].get("terminated") and terminated and terminated.get("exitCode") == 0:
            continue
        if terminated and terminated.get("exitCode", 0) != 0:
            failed = True
        return False, failed
    return True, False


def pod_phase(pod: dict[str, Any], init_statuses: list[dict[str, Any]],
              statuses: list[dict[str, Any]]) -> str:
    """Upstream's getPhase."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    initialized, init_failed = _init_progress(pod, init_statuses)
    if not initialized:
        return "Failed" if init_failed and policy == "Never" else "Pending"
    waiting = running = stopped = succeeded = 0
    for status in statuses:
        state = status["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif (status.get("lastState") or {}).get("terminated"):
            stopped += 1  # waiting to restart after a crash
        else:
            waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped == 0:
        return "Pending"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Running" if policy == "OnFailure" else "Failed"


def pod_conditions(old: list[Condition], *, phase: str, initialized: bool,
                   containers_ready: bool, unready: list[str] | None = None) -> list[Condition]:
    completed = phase == "Succeeded"
    # Upstream prints the Go slice of unready container names: "[a b]".
    unready_message = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
    wanted: dict[str, tuple[bool, str, str]] = {
        "PodScheduled": (True, "", ""),
        "Initialized": (initialized, "" if initialized else "ContainersNotInitialized", ""),
        "ContainersReady": (containers_ready, _unready_reason(containers_ready, completed),
                            "" if containers_ready or completed else unready_message),
        "Ready": (containers_ready, _unready_reason(containers_ready, completed),
                  "" if containers_ready or completed else unready_message),
    }
    previous = {c.get("type"): c for c in old}
    now = now_rfc3339()
    conditions: list[Condition] = []
    for kind in CONDITION_TYPES:
        ok, reason, message = wanted[kind]
        status = "True" if ok else "False"
        before = previous.get(kind) or Condition()
        condition: Condition = {"type": kind, "status": status,
                                "lastTransitionTime": before.get("lastTransitionTime") or now}
        if before.get("status") != status:
            condition["lastTransitionTime"] = now
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        conditions.append(condition)
    return conditions


def _unready_reason(ready: bool, completed: bool) -> str:
    if ready:
        return ""
    return "PodCompleted" if completed else "ContainersNotReady"


def compute_pod_status(pod: dict[str, Any], obs: PodObservation) -> dict[str, Any]:
    """The full status the kubelet wants the API to show for ``pod``."""
    spec = pod_spec_of(pod)
    old = pod_status_of(pod)
    attempts = newest_attempts(obs.containers)
    init_statuses = [container_status(c, attempts.get(str(c.get("name")), []), obs,
                                      default_waiting="PodInitializing")
                     for c in spec.get("initContainers") or []]
    initialized, _ = _init_progress(pod, init_statuses)
    statuses = [container_status(c, attempts.get(str(c.get("name")), []), obs,
                                 default_waiting="ContainerCreating" if initialized else "PodInitializing")
                for c in spec.get("containers") or []]
    phase = pod_phase(pod, init_statuses, statuses)
    containers_ready = bool(statuses) and all(s["ready"] for s in statuses)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": pod_conditions(old.get("conditions") or [], phase=phase, initialized=initialized,
                                     containers_ready=containers_ready,
                                     unready=[s["name"] for s in statuses if not s["ready"]]),
        "containerStatuses": statuses,
        "startTime": old.get("startTime") or obs.start_time or now_rfc3339(),
        "qosClass": old.get("qosClass") or qos_class(spec),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status.update(pod_addresses(obs))
    return status


def pod_addresses(obs: PodObservation) -> dict[str, Any]:
    """``hostIP``/``hostIPs`` and ``podIP``/``podIPs``, each pair only when known."""
    addresses: dict[str, Any] = {}
    if obs.host_ip:
        addresses["hostIP"] = obs.host_ip
        addresses["hostIPs"] = [{"ip": obs.host_ip}]
    if obs.pod_ip:
        addresses["podIP"] = obs.pod_ip
        addresses["podIPs"] = [{"ip": obs.pod_ip}]
    return addresses


def qos_class(spec: Mapping[str, Any]) -> str:
    """Upstream's GetPodQOS, simplified to cpu and memory."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_seen = limits_complete = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            requests_seen = True
        for resource in ("cpu", "memory"):
            if resource not in limits or (resource in requests and requests[resource] != limits[resource]):
                guaranteed = False
        limits_complete = limits_complete or bool(limits)
    if not requests_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed and limits_complete else "Burstable"


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The top-level status fields that differ (a merge patch replaces lists whole)."""
    return {key: value for key, value in new.items() if old.get(key) != value}
