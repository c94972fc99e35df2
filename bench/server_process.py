"""Start the API server under benchmark as its own process, on loopback, with a fresh SQLite store.

The benchmarks measure the server as deployed (`python -m server`, uvloop, SQLite with WAL),
never an in-process app, so load generators and the server do not share an interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]


def _split_cpus() -> tuple[set[int], set[int]]:
    """The server on the first core, load generators on the rest (the issue's method: wrk "on
    the other core"); on a one-core machine both share it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


SERVER_CPUS, LOAD_CPUS = _split_cpus()


def pin_to(cpus: set[int]) -> None:
    os.sched_setaffinity(0, cpus)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); log:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready in {READY_TIMEOUT_S}s; log:\n{log_path.read_text()[-4000:]}")


def stop_group(process: subprocess.Popen[Any], *, timeout_s: float = 15) -> None:
    """SIGTERM to the process group of a process started with a new session, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


@contextlib.contextmanager
def running_server(*, keep_dir: bool = False, storage: str = "",
                   cpus: set[int] | None = None) -> Iterator[RunningServer]:
    """A server on a free port with its data in a temp dir, stopped (TERM, then KILL) on exit.
    ``storage``: its --storage (default: SQLite in the temp dir); ``cpus``: where it runs
    (default: SERVER_CPUS)."""
    workdir = Path(tempfile.mkdtemp(prefix="arktos-bench-"))
    port = free_port()
    log_path = workdir / "kube-apiserver.log"
    pinned = SERVER_CPUS if cpus is None else cpus
    command = [
        sys.executable,
        "-m",
        "server",
        "--data-dir",
        str(workdir),
        "--bind-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage",
        storage or f"sqlite:///{workdir / 'arktos.db'}",
        # No service-account controller runs beside it to make the default accounts pods need.
        "--disable-admission-plugins=ServiceAccount",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: pin_to(pinned),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield RunningServer(url=url, log_path=log_path, process=process)
    finally:
        stop_group(process)
        if not keep_dir:
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            workdir.rmdir()
