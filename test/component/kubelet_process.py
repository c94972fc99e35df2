"""``python -m kubelet`` as a process for component tests: one way to start it, one way to stop it.

Why this exists: the containerd, probe and VM-pod tests each run a real kubelet against a real API
server. They share the flags that keep a test kubelet to itself — no streaming port (10250 belongs
to the machine), state under the test's own directory, a fast node-status period — and the
terminate-then-kill teardown, so those live here once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apiserver_process import REPO_ROOT


@contextmanager
def running_kubelet(api_url: str, node: str, endpoints: str, work: Path,
                    *extra: str) -> Iterator[Path]:
    """A kubelet for ``node`` on ``endpoints`` (``name,workloadType,url;...``); its log is
    ``work/kubelet.log``, its pod logs ``work/pods``, its volumes ``work/root``. Yields ``work``."""
    with (work / "kubelet.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubelet", "--master", api_url, "--hostname-override", node,
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
