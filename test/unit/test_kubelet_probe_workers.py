"""Probe workers, the probe manager and how probes reach the pod worker, over in-memory runtimes.

Covers the worker's doProbe rules with a scripted exec runtime and an injected clock
(initialDelaySeconds, success/failure thresholds, readiness starting unready, startup gating
liveness, liveness on hold after failing, exec timeouts, errored runs thrown away, the Unhealthy
event texts); the manager's status view (ready/started per container id) and result
notifications; and the pod worker end to end on the hollow runtime: a liveness failure kills the
container (Killing "... failed liveness probe, will be restarted") and starts attempt 1 with
restartCount 1, and a readiness probe keeps the pod unready. Leaves out HTTP/TCP probing (sockets:
test/component/test_kubelet_probers.py) and real containers (test/component/test_kubelet_probes.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubelet_fakes import ScriptedRuntime, probed_pod, syncer_on

from client.events import EventType
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.probes import ProbeManager
from kubelet.probes.outcome import ProbeKind
from kubelet.probes.probers import ProbeTarget
from kubelet.probes.worker import ProbeWorker


class Results:
    def __init__(self) -> None:
        self.values: dict[tuple[str, ProbeKind], bool] = {}

    def get(self, container_id: str, kind: ProbeKind) -> bool | None:
        return self.values.get((container_id, kind))

    def set(self, container_id: str, kind: ProbeKind, ok: bool) -> None:
        self.values[(container_id, kind)] = ok


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_worker(runtime: ScriptedRuntime, kind: ProbeKind, probe: dict[str, Any], *,
                results: Results | None = None, gated: bool = False,
                clock: Clock | None = None) -> tuple[ProbeWorker, Results, list[tuple[str, str, str]]]:
    events: list[tuple[str, str, str]] = []
    results = results or Results()

    def record(event_type: EventType, reason: str, message: str) -> None:
        events.append((event_type, reason, message))

    worker = ProbeWorker(results, record, kind=kind, probe={"exec": {"command": ["check"]}, **probe},
                         target=ProbeTarget(runtime, "c1", {"name": "app"}, "10.0.0.9"),
                         started_at=1000.0, gated_by_startup=gated, clock=clock or Clock())
    return worker, results, events


async def test_initial_delay_skips_probing() -> None:
    runtime, clock = ScriptedRuntime(), Clock()
    worker, results, _ = make_worker(runtime, "readiness", {"initialDelaySeconds": 5}, clock=clock)
    clock.now = 1004.0
    assert await worker.probe_once() and worker.runs == 0
    clock.now = 1005.0
    assert await worker.probe_once() and worker.runs == 1
    assert results.get("c1", "readiness") is True


async def test_thresholds_need_consecutive_results() -> None:
    runtime = ScriptedRuntime()
    runtime.script = [0, 1, 0, 0, 1, 1, 0, 1]
    worker, results, events = make_worker(runtime, "readiness",
                                          {"successThreshold": 2, "failureThreshold": 2})
    seen = []
    for _ in range(8):
        assert await worker.probe_once()  # readiness keeps probing whatever it reports
        seen.append(results.get("c1", "readiness"))
    assert seen == [None, None, None, True, True, False, False, False]
    assert events[0] == ("Warning", "Unhealthy", "Readiness probe failed: out\n")
    assert sum(1 for e in events if e[1] == "Unhealthy") == 4


async def test_liveness_failure_is_reported_once_then_the_worker_holds() -> None:
    runtime = ScriptedRuntime()
    runtime.default = 1
    worker, results, events = make_worker(runtime, "liveness", {"failureThreshold": 3})
    assert await worker.probe_once() and await worker.probe_once()
    assert results.get("c1", "liveness") is None
    assert not await worker.probe_once()
    assert results.get("c1", "liveness") is False
    assert [e[2] for e in events] == ["Liveness probe failed: out\n"] * 3


async def test_startup_gates_liveness_and_stops_once_passed() -> None:
    runtime = ScriptedRuntime()
    results = Results()
    liveness, _, _ = make_worker(runtime, "liveness", {}, results=results, gated=True)
    startup, _, _ = make_worker(runtime, "startup", {}, results=results)
    assert await liveness.probe_once() and liveness.runs == 0
    assert await startup.probe_once()
    assert results.get("c1", "startup") is True
    assert not await startup.probe_once()  # done: started for good
    assert await liveness.probe_once() and liveness.runs == 1


async def test_exec_timeout_fails_and_errors_are_thrown_away() -> None:
    runtime = ScriptedRuntime()
    runtime.script = ["hang", "refuse"]
    worker, results, events = make_worker(runtime, "readiness", {"timeoutSeconds": 1, "failureThreshold": 1})
    worker.probe["exec"]["command"] = ["sleep", "10"]
    async with asyncio.timeout(5):
        assert await worker.probe_once()
    assert results.get("c1", "readiness") is False
    assert events[-1] == ("Warning", "Unhealthy", 'Readiness probe failed: command "sleep 10" timed out')
    results.values.clear()
    assert await worker.probe_once()
    assert results.get("c1", "readiness") is None
    assert events[-1][2].startswith("Readiness probe errored: rpc error")


async def sync_until(syncer: PodSyncer, node: NodeContext, pod: dict[str, Any], done: Any,
                     *, limit_s: float = 8.0) -> None:
    async with asyncio.timeout(limit_s):
        while True:
            await syncer.sync_pod(node, pod)
            if done():
                return
            await asyncio.sleep(0.1)


async def test_liveness_failure_kills_and_restarts_the_container() -> None:
    runtime = ScriptedRuntime()
    runtime.default = 1
    syncer, node, events, status = syncer_on(runtime)
    pod = probed_pod(livenessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1,
                                    "failureThreshold": 1})
    try:
        await sync_until(syncer, node, pod, lambda: status.latest.get("containerStatuses", [{}])[0]
                         .get("restartCount") == 1)
    finally:
        await syncer.probes.aclose()
    reasons = [(e[1], e[2]) for e in events.seen]
    assert ("Unhealthy", "Liveness probe failed: out\n") in reasons
    assert ("Killing", "Container app failed liveness probe, will be restarted") in reasons
    assert reasons.count(("Pulled", 'Container image "busybox:1.36" already present on machine')) == 2
    assert status.latest["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"]


async def test_readiness_probe_gates_ready_and_started_follows_startup() -> None:
    runtime = ScriptedRuntime()
    runtime.default = 1
    syncer, node, _, status = syncer_on(runtime)
    pod = probed_pod(readinessProbe={"exec": {"command": ["check"]}, "periodSeconds": 1},
                     startupProbe={"exec": {"command": ["check"]}, "periodSeconds": 1,
                                   "failureThreshold": 100})
    try:
        await sync_until(syncer, node, pod, lambda: status.latest.get("phase") == "Running")
        container = status.latest["containerStatuses"][0]
        assert (container["ready"], container["started"]) == (False, False)
        ready = {c["type"]: c for c in status.latest["conditions"]}["Ready"]
        assert ready["status"] == "False" and ready["message"] == "containers with unready status: [app]"
        runtime.default = 0
        await sync_until(syncer, node, pod, lambda: status.latest["containerStatuses"][0]["ready"])
        assert status.latest["containerStatuses"][0]["started"] is True
    finally:
        await syncer.probes.aclose()


async def test_manager_notifies_on_result_changes_and_forgets_pods() -> None:
    runtime = ScriptedRuntime()
    _, _, events, _ = syncer_on(runtime)
    manager = ProbeManager(events)
    kicked: list[str] = []
    changed = asyncio.Event()

    def kick(uid: str) -> None:
        kicked.append(uid)
        changed.set()
    manager.on_change(kick)
    pod = probed_pod(readinessProbe={"exec": {"command": ["check"]}, "periodSeconds": 1})
    sandbox = await runtime.run_sandbox(pod)
    created = await runtime.create_container(sandbox, pod, pod["spec"]["containers"][0], attempt=0,
                                             image_ref="sha256:x")
    await runtime.start_container(created.id)
    await asyncio.sleep(0.01)
    containers = await runtime.list_containers(pod_uid="uid-1")
    manager.sync_pod("n1", pod, runtime, containers, pod_ip="10.0.0.9")
    assert manager.status_view(pod, containers).ready == {created.id: False}
    async with asyncio.timeout(3):
        await changed.wait()
    assert kicked == ["uid-1"]
    assert manager.status_view(pod, containers).ready == {created.id: True}
    manager.forget_pod("uid-1")
    assert manager.worker("uid-1", "app", "readiness") is None
    assert manager.status_view(pod, containers).ready == {created.id: False}
    await manager.aclose()
