"""The probe manager: one worker per (pod, container, probe kind) and the results they report.

Upstream's ``pkg/kubelet/prober/prober_manager.go`` with its readiness/liveness/startup result
managers, fitted to how our pod worker syncs:

- `ProbeManager.sync_pod` is called at the end of every pod sync with the runtime's records: each
  *running* container attempt with probes gets its workers (a new attempt replaces the previous
  attempt's), and workers of attempts that are no longer running are stopped;
- `ProbeManager.status_view` tells the status computation which running containers are ready
  (``containerStatuses[].ready``, hence ContainersReady/Ready) and started (``started``): a
  container with a readiness probe is unready until it passes, one with a startup probe is not
  started until that passes; containers without such probes are ready/started while running;
- `ProbeManager.failed_probe` tells the pod worker that an attempt failed its liveness or
  startup probe and must be killed;
- a result that *changes* is announced to the listeners with the pod uid, the same way runtime
  changes are (upstream's result managers feed the sync loop through an updates channel);
- `forget_pod` stops everything of a pod and drops its results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client.events import EventType
from kubelet.event_sink import EventSink
from kubelet.probes.outcome import ProbeKind
from kubelet.probes.probers import ProbeTarget
from kubelet.probes.worker import ProbeWorker
from kubelet.runtime import ContainerInfo, Runtime
from kubelet.status import newest_attempts

log = logging.getLogger(__name__)

PROBE_FIELDS: dict[ProbeKind, str] = {
    "startup": "startupProbe", "liveness": "livenessProbe", "readiness": "readinessProbe"}
ResultListener = Callable[[str], None]


@dataclass(slots=True)
class _Running:
    pod_uid: str
    worker: ProbeWorker
    task: asyncio.Task[None]


@dataclass(frozen=True, slots=True)
class ProbeStatusView:
    """Per running container id: ready / started, for the containers whose probes decide them."""

    ready: dict[str, bool]
    started: dict[str, bool]


class ProbeManager:
    def __init__(self, events: EventSink, *, clock: Callable[[], float] = time.time) -> None:
        self.events = events
        self.clock = clock
        self._listeners: list[ResultListener] = []
        self._workers: dict[tuple[str, str, ProbeKind], _Running] = {}  # (uid, name, kind)
        self._results: dict[tuple[str, ProbeKind], bool] = {}  # (container id, kind)
        self._owner: dict[str, str] = {}  # container id -> pod uid

    def on_change(self, listener: ResultListener) -> None:
        self._listeners.append(listener)

    # -- results (the ProbeResults protocol the workers write through) ---------------------------

    def get(self, container_id: str, kind: ProbeKind) -> bool | None:
        return self._results.get((container_id, kind))

    def set(self, container_id: str, kind: ProbeKind, ok: bool) -> None:
        if self._results.get((container_id, kind)) == ok:
            return
        self._results[(container_id, kind)] = ok
        uid = self._owner.get(container_id)
        if uid is None:
            return
        for listener in self._listeners:
            try:
                listener(uid)
            except Exception:  # one listener's bug must not stop probing
                log.exception("probe result listener failed for pod %s", uid)

    # -- workers ----------------------------------------------------------------------------------

    def sync_pod(self, node_name: str, pod: dict[str, Any], runtime: Runtime,
                 containers: list[ContainerInfo], *, pod_ip: str) -> None:
        """Starts workers for running attempts that have probes and stops those of ended attempts."""
        uid = str(pod["metadata"]["uid"])
        newest = {name: attempts[0] for name, attempts in newest_attempts(containers).items()}
        wanted: set[tuple[str, str, ProbeKind]] = set()
        for spec in (pod.get("spec") or {}).get("containers") or []:
            name = str(spec.get("name"))
            info = newest.get(name)
            if info is None or info.state != "running":
                continue
            for kind, field_name in PROBE_FIELDS.items():
                probe = spec.get(field_name)
                if not probe:
                    continue
                key = (uid, name, kind)
                wanted.add(key)
                current = self._workers.get(key)
                if current is not None and current.worker.container_id == info.id:
                    continue
                self._stop(key)
                self._spawn(key, node_name, pod, runtime, spec, info, probe, pod_ip=pod_ip)
        for key in [k for k in self._workers if k[0] == uid and k not in wanted]:
            self._stop(key)
        alive = {c.id for c in containers}
        for container_id in [c for c, owner in self._owner.items() if owner == uid and c not in alive]:
            self._drop_results(container_id)

    def _spawn(self, key: tuple[str, str, ProbeKind], node_name: str, pod: dict[str, Any],
               runtime: Runtime, spec: dict[str, Any], info: ContainerInfo, probe: dict[str, Any], *,
               pod_ip: str) -> None:
        kind = key[2]
        self._owner[info.id] = key[0]
        if kind == "readiness":
            self._results.setdefault((info.id, kind), False)  # upstream's initial readiness: Failure

        def record(event_type: EventType, reason: str, message: str) -> None:
            self.events.emit(node_name, pod, event_type, reason, message)

        worker = ProbeWorker(self, record, kind=kind, probe=probe,
                             target=ProbeTarget(runtime, info.id, spec, pod_ip),
                             started_at=info.started_at or self.clock(),
                             gated_by_startup=kind != "startup" and bool(spec.get("startupProbe")),
                             clock=self.clock)
        task = asyncio.get_running_loop().create_task(worker.run(), name=f"probe {kind} {info.id[:12]}")
        self._workers[key] = _Running(key[0], worker, task)

    def _stop(self, key: tuple[str, str, ProbeKind]) -> None:
        running = self._workers.pop(key, None)
        if running is not None:
            running.task.cancel()

    def _drop_results(self, container_id: str) -> None:
        self._owner.pop(container_id, None)
        for kind in PROBE_FIELDS:
            self._results.pop((container_id, kind), None)

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._workers if k[0] == pod_uid]:
            self._stop(key)
        for container_id in [c for c, owner in self._owner.items() if owner == pod_uid]:
            self._drop_results(container_id)

    async def aclose(self) -> None:
        tasks = [running.task for running in self._workers.values()]
        self._workers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def worker(self, pod_uid: str, container: str, kind: ProbeKind) -> ProbeWorker | None:
        running = self._workers.get((pod_uid, container, kind))
        return running.worker if running is not None else None

    # -- what the pod worker asks -----------------------------------------------------------------

    def failed_probe(self, container_id: str) -> ProbeKind | None:
        """``liveness`` or ``startup`` when that probe of this attempt reported failure."""
        kinds: tuple[ProbeKind, ...] = ("liveness", "startup")
        for kind in kinds:
            if self._results.get((container_id, kind)) is False:
                return kind
        return None

    def status_view(self, pod: dict[str, Any], containers: list[ContainerInfo]) -> ProbeStatusView:
        specs = {str(c.get("name")): c for c in (pod.get("spec") or {}).get("containers") or []}
        ready: dict[str, bool] = {}
        started: dict[str, bool] = {}
        for info in containers:
            spec = specs.get(info.name)
            if spec is None or info.state != "running":
                continue
            if spec.get("readinessProbe"):
                ready[info.id] = self._results.get((info.id, "readiness")) is True
            if spec.get("startupProbe"):
                started[info.id] = self._results.get((info.id, "startup")) is True
        return ProbeStatusView(ready, started)
