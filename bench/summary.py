"""The summary at the end of `make bench`: every figure of one run, per step, with date and machine.

bench/run-all.sh writes each step's output to one log, a ``## step NAME: COMMAND`` line before
it; every benchmark prints its figures as ``name: value unit [target ...: met|BELOW TARGET]``.
This reads that log and prints, so the README's figure table can be filled from one run:
the date, the machine (cores, CPU, RAM, Python, load average at start and end), the headline
ratios issue 11 asks for, every figure per step, and the steps that failed or were skipped.

    .venv/bin/python bench/summary.py LOG
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FIGURE = re.compile(r"^([a-z][a-z0-9_]*): (\S.*)$")
STEP = re.compile(r"^## step (\S+): (.*)$")
NOTE = re.compile(r"^# (step \S+ (?:failed|skipped).*|loadavg_\w+: .*)$")
HEADLINES = (
    ("creates / raw SQLite commits", "ratio_pod_creates_to_raw_sqlite_commits"),
    ("GETs / bare aiohttp+uvloop", "ratio_api_gets_to_bare_aiohttp"),
    ("watch fan-out p99, 1,000 watchers", "watch_fanout_1000_p99_ms"),
    ("scheduler, 5,000 nodes / 10,000 pods", "scheduler_pods_per_s"),
    ("etcd creates: 1 server / raw puts", "ratio_pod_creates_to_raw_etcd_puts"),
    ("etcd creates: 2 servers / 1 server", "ratio_pod_creates_two_servers_to_one_etcd"),
    ("etcd watch fan-out p99, 1,000", "watch_fanout_1000_p99_ms_etcd"),
)


@dataclass
class Step:
    name: str
    command: str
    figures: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    notes: list[str] = []
    for raw in text.splitlines():
        if match := STEP.match(raw):
            steps.append(Step(match.group(1), match.group(2)))
        elif match := NOTE.match(raw):
            notes.append(match.group(1))
        elif (match := FIGURE.match(raw)) and steps:
            steps[-1].figures.append((match.group(1), match.group(2)))
    return steps, notes


def machine() -> list[str]:
    model = next((t.split(":", 1)[1].strip() for t in Path("/proc/cpuinfo").read_text().splitlines()
                  if t.startswith("model name")), "unknown")
    mem_kib = next(int(t.split()[1]) for t in Path("/proc/meminfo").read_text().splitlines()
                   if t.startswith("MemTotal:"))
    return [f"{len(os.sched_getaffinity(0))} cores, {model}, {mem_kib / (1 << 20):.1f} GiB RAM",
            f"{platform.platform(terse=True)}, Python {platform.python_version()}"]


def render(steps: list[Step], notes: list[str]) -> str:
    out = ["", "=" * 100, f"make bench summary, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", *machine(),
           *notes, ""]
    values = {name: value for step in steps for name, value in step.figures}
    out.append("headline figures (issue 11):")
    for label, name in HEADLINES:
        out.append(f"  {label:<40} {values.get(name, 'not measured in this run')}")
    for step in steps:
        out += ["", f"[{step.name}] {step.command}"]
        out += [f"  {name}: {value}" for name, value in step.figures] or ["  (no figures)"]
    missed = [f"{name}: {value}" for step in steps for name, value in step.figures if "BELOW TARGET" in value]
    out += ["", f"below target: {len(missed)}", *(f"  {m}" for m in missed), "=" * 100]
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(render(*parse(Path(sys.argv[1]).read_text(errors="replace"))))


if __name__ == "__main__":
    main()
