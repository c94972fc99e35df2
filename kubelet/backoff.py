"""Back-off for the kubelet: CrashLoopBackOff for crashed containers, and image pull back-off.

Upstream's kubelet keeps one back-off entry per (pod uid, container name): 10 s after the first
crash, doubling with each further one up to 5 minutes, and forgotten once the container has run
cleanly for twice the maximum (``flowcontrol.Backoff`` with ``backOffPeriod`` 10 s and
``MaxContainerBackOff`` 300 s). Image pulls use the same numbers through `FlowBackoff`, upstream's
``flowcontrol.Backoff`` as the image manager uses it (``IsInBackOffSinceUpdate`` / ``Next``). The
clock is injectable so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

INITIAL_BACKOFF_S = 10.0
MAX_BACKOFF_S = 300.0


@dataclass(slots=True)
class _Entry:
    delay: float
    last_restart: float


class CrashBackoff:
    """Per-(pod, container) exponential back-off."""

    def __init__(self, *, initial_s: float = INITIAL_BACKOFF_S, max_s: float = MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}

    def remaining(self, pod_uid: str, container: str, *, finished_at: float) -> float:
        """Seconds still to wait before restarting a container that exited at ``finished_at``
        (epoch seconds, as the runtime reports it); 0 when it may restart now. The first exit
        restarts at once; each later one waits the entry's delay (upstream's order)."""
        entry = self._entries.get((pod_uid, container))
        if entry is None:
            return 0.0
        return max(0.0, finished_at + entry.delay - self._clock())

    def record_restart(self, pod_uid: str, container: str) -> float:
        """Call when an exited container is restarted: answers the delay the *next* exit gets."""
        now = self._clock()
        key = (pod_uid, container)
        entry = self._entries.get(key)
        if entry is None or now - entry.last_restart > 2 * self.max_s:
            entry = _Entry(self.initial_s, now)
        else:
            entry = _Entry(min(entry.delay * 2, self.max_s), now)
        self._entries[key] = entry
        return entry.delay

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._entries if k[0] == pod_uid]:
            del self._entries[key]


class FlowBackoff:
    """Upstream's ``flowcontrol.Backoff`` keyed by any string: `next` after each failure (initial
    delay, then doubling to the maximum; reset once idle for twice the maximum), `remaining` while
    the last failure's delay has not yet passed."""

    def __init__(self, *, initial_s: float = INITIAL_BACKOFF_S, max_s: float = MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def next(self, key: str) -> float:
        """Records a failure now; answers the delay it earns."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or now - entry.last_restart > 2 * self.max_s:
            entry = _Entry(self.initial_s, now)
        else:
            entry = _Entry(min(entry.delay * 2, self.max_s), now)
        self._entries[key] = entry
        return entry.delay

    def remaining(self, key: str) -> float:
        """Seconds until the last failure's delay has passed (``IsInBackOffSinceUpdate``); 0 if none."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last_restart + entry.delay - self._clock())

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
