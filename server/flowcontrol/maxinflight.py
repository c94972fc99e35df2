"""The max-in-flight limiter: what guards the server when priority and fairness is off.

Upstream's filters/maxinflight.go: read-only (get, list, watch) and mutating requests are counted
apart against ``--max-requests-inflight`` and ``--max-mutating-requests-inflight`` (0 = no limit);
long-running requests are not counted; a request over its limit is answered 429 at once, except for
``system:masters``, which upstream serves anyway ("so powerful that they should always get an
answer") without counting it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Counter:
    limit: int
    in_flight: int = 0
    rejected: int = 0


class MaxInFlight:
    def __init__(self, *, read_only_limit: int, mutating_limit: int) -> None:
        self._kinds = {"readOnly": _Counter(read_only_limit), "mutating": _Counter(mutating_limit)}

    def try_acquire(self, kind: str, *, privileged: bool) -> bool | None:
        """True: counted, call `release`; None: served uncounted; False: over the limit (429)."""
        counter = self._kinds[kind]
        if counter.limit <= 0:
            return None
        if counter.in_flight < counter.limit:
            counter.in_flight += 1
            return True
        if privileged:
            return None
        counter.rejected += 1
        return False

    def release(self, kind: str) -> None:
        self._kinds[kind].in_flight -= 1

    def in_flight(self, kind: str) -> int:
        return self._kinds[kind].in_flight

    def rejected(self, kind: str) -> int:
        return self._kinds[kind].rejected
