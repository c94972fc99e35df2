"""The processes hack/arktos-up.sh records, as the e2e and fault tests find them.

arktos-up writes ``PID START_TIME`` to ``$ARKTOS_DATA_DIR/run/NAME.pid`` for each supervised
component (hack/lib/process.sh); a pid counts only while /proc shows the same start time, so a pid
reused after the component exited is never taken for it (or killed).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Proc:
    """A process as /proc knows it: pid and start time (clock ticks since boot)."""

    pid: int
    start: str

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        stat = proc_stat(pid)
        return None if stat is None or stat[0] == "Z" else cls(pid, stat[19])

    def alive(self) -> bool:
        return Proc.of(self.pid) == self

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def recorded(run_dir: Path, name: str) -> Proc | None:
    """The component's live process per arktos-up's record, or None while none runs."""
    try:
        pid, start = (run_dir / f"{name}.pid").read_text().split()
    except (OSError, ValueError):
        return None
    proc = Proc(int(pid), start)
    return proc if proc.alive() else None


def live_processes_mentioning(needle: str) -> list[str]:
    """Processes (not zombies, not this one) whose command line names ``needle``, as "PID: CMDLINE"."""
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = proc_stat(int(entry.name))
        line = cmdline(int(entry.name))
        if stat is not None and stat[0] != "Z" and needle in line:
            found.append(f"{entry.name}: {line}")
    return found
