"""``python -m kubelet`` as a process for component tests: one way to start it, one way to stop it.

Why this exists: the containerd, probe and VM-pod tests each run a real kubelet against a real API
server. They share the flags that keep a test kubelet to itself — no streaming port (10250 belongs
to the machine), state under the test's own directory, a fast node-status period — and the
terminate-then-kill teardown, so those live here once — with the wait that reports the
kubelet's log when a condition is not reached.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT


@contextmanager
def running_kubelet(api_url: str, node: str, endpoints: str, work: Path,
                    *extra: str, kubeconfig: Path | None = None) -> Iterator[Path]:
    """A kubelet for ``node`` on ``endpoints`` (``name,workloadType,url;...``); its log is
    ``work/kubelet.log``, its pod logs ``work/pods``, its volumes ``work/root``. Yields ``work``.
    With ``kubeconfig`` (a TLS server's node credentials) it connects with that, not ``api_url``."""
    server = ["--kubeconfig", str(kubeconfig)] if kubeconfig else ["--master", api_url]
    with (work / "kubelet.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubelet", *server, "--hostname-override", node,
             "--container-runtime-endpoint", endpoints, "--pod-log-dir", str(work / "pods"),
             "--root-dir", str(work / "root"), "--port", "0", "--node-status-update-frequency", "2",
             *extra],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield work
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, work: Path, *,
                     within_s: float = 60.0) -> Any:
    """``check()``'s first truthy answer within ``within_s``; else fails with the kubelet log's tail."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        answer = await check()
        if answer:
            return answer
        await asyncio.sleep(0.25)
    log = (work / "kubelet.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"not within {within_s:.0f}s: {what}\nkubelet log:\n{log}")
