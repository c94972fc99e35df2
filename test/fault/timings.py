"""What the fault scenarios measured, kept for one table at the end of the run.

Figures, not asserts: a scenario asserts only the bounds the issue states (eviction and
recreation within 60 s, leader takeover within 15 s) and records every other time here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    scenario: str
    measure: str
    seconds: float


TIMINGS: list[Timing] = []


def record(scenario: str, measure: str, seconds: float) -> None:
    TIMINGS.append(Timing(scenario, measure, seconds))


def table() -> str:
    """Scenario, measure and seconds, one row each, columns aligned."""
    rows = [("scenario", "measure", "seconds")] + [
        (t.scenario, t.measure, f"{t.seconds:.1f}") for t in TIMINGS]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
