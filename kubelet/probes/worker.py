"""One probe loop: a (container attempt, probe kind) probed every ``periodSeconds`` until it ends.

Upstream's ``pkg/kubelet/prober/worker.go`` doProbe, per tick:

- nothing is probed before ``initialDelaySeconds`` have passed since the container started;
- liveness and readiness wait while a startup probe has not yet succeeded; the startup probe
  stops once it has;
- every failed run records a Warning ``Unhealthy`` event ("Liveness probe failed: <output>"), a
  redirect-warning run a ``ProbeWarning``; a run that errored is thrown away;
- a result is only reported once it repeated ``successThreshold`` / ``failureThreshold`` times in a
  row; until then the last reported one stands (readiness starts as failure, so a container with
  a readiness probe is unready until it passes);
- a reported liveness or startup failure puts the worker on hold for good: the pod worker kills
  the attempt and a new attempt gets a new worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from client.events import EventType
from kubelet.probes.outcome import ProbeError, ProbeKind
from kubelet.probes.probers import ProbeTarget, run_probe

log = logging.getLogger(__name__)

# (event type, reason, message) recorded against the pod.
EventRecorder = Callable[[EventType, str, str], None]


class ProbeResults(Protocol):
    def get(self, container_id: str, kind: ProbeKind) -> bool | None: ...

    def set(self, container_id: str, kind: ProbeKind, ok: bool) -> None: ...


def probe_setting(probe: dict[str, Any], name: str, default: int, minimum: int) -> int:
    """A probe's numeric field with upstream's API defaults (period 10, timeout 1, thresholds 1/3)."""
    value = probe.get(name)
    return max(minimum, int(value)) if isinstance(value, int) else default


class ProbeWorker:
    def __init__(self, results: ProbeResults, record: EventRecorder, *, kind: ProbeKind,
                 probe: dict[str, Any], target: ProbeTarget, started_at: float,
                 gated_by_startup: bool, clock: Callable[[], float] = time.time) -> None:
        self.results = results
        self.record = record
        self.kind = kind
        self.probe = probe
        self.target = target
        self.started_at = started_at
        self.gated_by_startup = gated_by_startup
        self.clock = clock
        self.period_s = float(probe_setting(probe, "periodSeconds", 10, 1))
        self.initial_delay_s = float(probe_setting(probe, "initialDelaySeconds", 0, 0))
        self.success_threshold = probe_setting(probe, "successThreshold", 1, 1)
        self.failure_threshold = probe_setting(probe, "failureThreshold", 3, 1)
        self.runs = 0  # probes actually run (not skipped), for tests and logs
        self._last: bool | None = None
        self._streak = 0

    @property
    def container_id(self) -> str:
        return self.target.container_id

    async def run(self) -> None:
        """Probes every period until `probe_once` says the worker is done; cancelled from outside
        when the attempt ends or the pod goes."""
        while True:
            try:
                keep_going = await self.probe_once()
            except Exception:  # a bug in one probe must not end the container's probing
                log.exception("%s probe of container %s failed to run", self.kind, self.container_id)
                keep_going = True
            if not keep_going:
                return
            await asyncio.sleep(self.period_s)

    async def probe_once(self) -> bool:
        """One tick; answers whether to keep probing."""
        if self.kind == "startup" and self.results.get(self.container_id, "startup"):
            return False
        if self.clock() - self.started_at < self.initial_delay_s:
            return True
        if self.gated_by_startup and not self.results.get(self.container_id, "startup"):
            return True
        label = self.kind.capitalize()
        self.runs += 1
        try:
            outcome = await run_probe(self.probe, self.target)
        except ProbeError as e:
            self.record("Warning", "Unhealthy", f"{label} probe errored: {e}")
            return True
        if outcome.result == "failure":
            self.record("Warning", "Unhealthy", f"{label} probe failed: {outcome.output}")
        elif outcome.result == "warning":
            self.record("Warning", "ProbeWarning", f"{label} probe warning: {outcome.output}")
        ok = outcome.ok
        if ok == self._last:
            self._streak += 1
        else:
            self._last, self._streak = ok, 1
        if self._streak < (self.success_threshold if ok else self.failure_threshold):
            return True
        self.results.set(self.container_id, self.kind, ok)
        return ok or self.kind == "readiness"
