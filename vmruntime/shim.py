"""``python -m vmruntime.shim``: the process that owns one qemu, as containerd-shim owns a container.

The runtime starts it in its own session, so VMs outlive a runtime restart; the restarted runtime
finds them again through the pid and exit files this process writes. It

- starts qemu (stdin /dev/null, stdout = the guest's serial console, stderr = qemu's own messages),
- appends every console line to the CRI log file in the kubelet's format
  (``<RFC3339Nano> stdout F <line>``; qemu's stderr as ``stderr``), so ``kubectl logs`` shows the boot,
- forwards SIGTERM/SIGINT to qemu,
- writes ``exit.json`` (exit code, finish time) when qemu ends: guest power-off → 0, a signal → 128+n.

Usage: ``python -m vmruntime.shim --log LOG --state-dir DIR -- qemu-system-x86_64 ...``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

QEMU_PID_FILE = "qemu.pid"
EXIT_FILE = "exit.json"


def cri_timestamp(now: float | None = None) -> str:
    """RFC 3339 with nanoseconds, UTC (what containerd writes; ``kubectl logs --timestamps`` shows it)."""
    now = time.time() if now is None else now
    whole = int(now)
    nanos = int((now - whole) * 1e9)
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def cri_log_line(stream: str, text: str, now: float | None = None) -> bytes:
    """One full (``F``) line of the CRI log format; serial consoles end lines with CR LF."""
    return f"{cri_timestamp(now)} {stream} F {text.rstrip(chr(13))}\n".encode(errors="replace")


class LogWriter:
    """Appends lines from several streams to one file; each line is written and flushed whole."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab", buffering=0)
        self._lock = threading.Lock()

    def copy(self, stream_name: str, source: IO[bytes]) -> None:
        for raw in iter(source.readline, b""):
            line = cri_log_line(stream_name, raw.rstrip(b"\n").decode(errors="replace"))
            with self._lock:
                self._file.write(line)

    def close(self) -> None:
        self._file.close()


def _write_json(path: Path, data: dict[str, object]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


def exit_code_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def run(log_path: Path, state_dir: Path, command: list[str]) -> int:
    (state_dir / EXIT_FILE).unlink(missing_ok=True)
    writer = LogWriter(log_path)
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    (state_dir / QEMU_PID_FILE).write_text(str(process.pid))

    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert process.stdout is not None and process.stderr is not None
    copiers = [threading.Thread(target=writer.copy, args=("stdout", process.stdout), daemon=True),
               threading.Thread(target=writer.copy, args=("stderr", process.stderr), daemon=True)]
    for copier in copiers:
        copier.start()
    returncode = process.wait()
    for copier in copiers:
        copier.join(timeout=5)
    writer.close()
    _write_json(state_dir / EXIT_FILE, {"exit_code": exit_code_of(returncode), "finished_at": time.time()})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Own one qemu process for the Arktos VM runtime.")
    parser.add_argument("--log", type=Path, required=True, help="CRI log file to append the console to")
    parser.add_argument("--state-dir", type=Path, required=True, help="where qemu.pid and exit.json go")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no qemu command given after --")
    return run(args.log, args.state_dir, command)


if __name__ == "__main__":
    sys.exit(main())
