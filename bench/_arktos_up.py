"""A throw-away single-node cluster from ``hack/arktos-up.sh``, for benchmarks that need real pods.

The pod start-up benchmark measures the cluster a user gets from ``hack/arktos-up.sh`` (API
server over TLS, controller manager, scheduler, containerd and a kubelet), not a hand-assembled
one, so it runs that script with every path in a temp dir, free TLS and kubelet ports and a
bridge/pod subnet of its own (apart from the e2e tests' ``arktos-up0``/10.96.0.0/16). Stopping is
what a user does: Ctrl-C, i.e. SIGINT to the script's process group; the script's EXIT trap stops the
daemons and containerd's shims and deletes the bridge (test/e2e/test_arktos_up_node.py checks
that). Only if it ignores Ctrl-C is the group killed, and the bridge then removed here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from server_process import REPO_ROOT, free_port

READY_LINE = "cluster is ready"
STOP_TIMEOUT_S = 60.0
BRIDGE = "arktos-pb0"
POD_SUBNET = "10.92.0.0/16"
# Where each tenant network's Service /24 comes from: the 92nd /20 of 172.16.0.0/12, as the e2e
# clusters derive theirs from their pod subnets (test/e2e/test_arktos_up.py, network_pool_for).
NETWORK_SERVICE_CIDR_POOL = "172.21.192.0/20"
NODE_NAME = "pod-startup-node"


class ClusterStartError(RuntimeError):
    """arktos-up.sh exited or printed no ready line in time; carries the tail of its output."""


@dataclass(frozen=True)
class ArktosUpCluster:
    kubeconfig: Path
    node_name: str
    log_dir: Path
    process: subprocess.Popen[str]
    env: Mapping[str, str]  # what arktos-up.sh ran with (CERT_DIR, API_SECURE_PORT, chain prefix...)


def cluster_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update({
        "ARKTOS_DATA_DIR": str(workdir / "data"),
        "CERT_DIR": str(workdir / "certs"),
        "LOG_DIR": str(workdir / "logs"),
        "API_HOST_IP": "127.0.0.1",
        "API_SECURE_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        # Not the default 10250: another cluster's kubelet there would get this API server's
        # logs/exec calls (and fail them on its own CA).
        "KUBELET_PORT": str(free_port()),
        "REGISTRY_PORT": str(free_port()),  # its own image registry, apart from any other cluster's
        "HOSTNAME_OVERRIDE": NODE_NAME,
        "CONTAINERD_BRIDGE": BRIDGE,
        "CONTAINERD_POD_SUBNET": POD_SUBNET,
        "NETWORK_SERVICE_CIDR_POOL": NETWORK_SERVICE_CIDR_POOL,
        "KUBE_PROXY_CHAIN_PREFIX": "APB",
    })
    return env


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str], log_path: Path) -> None:
    """Copies the script's output to its log file and hands every line to the waiting thread."""
    assert process.stdout is not None
    with log_path.open("a") as log:
        for line in process.stdout:
            log.write(line)
            log.flush()
            lines.put(line)


def _wait_ready(process: subprocess.Popen[str], lines: queue.Queue[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if READY_LINE in line:
            return
    exited = process.poll() is not None
    state = f"exited with {process.returncode}" if exited else f"not ready in {timeout_s:.0f}s"
    raise ClusterStartError(f"arktos-up.sh {state}; its output:\n{''.join(seen[-40:])}")


def _interrupt(process: subprocess.Popen[str]) -> bool:
    """Ctrl-C to the script's process group, as a terminal sends it; SIGKILL if it hangs.
    True when the script stopped by itself (its trap ran)."""
    if process.poll() is not None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
        return True
    except subprocess.TimeoutExpired:
        print(f"# arktos-up.sh ignored Ctrl-C for {STOP_TIMEOUT_S:.0f}s; killing its process group",
              flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
        return False


def _bridge_exists() -> bool:
    return Path("/sys/class/net", BRIDGE).exists()


@contextlib.contextmanager
def arktos_up(*, start_timeout_s: float = 240.0, keep_logs: bool = True,
              extra_env: Mapping[str, str] | None = None) -> Iterator[ArktosUpCluster]:
    """Runs hack/arktos-up.sh until its Node is Ready; Ctrl-C stops it on exit (even on error).
    ``extra_env``: more arktos-up variables (e.g. the service bench's service range and registry)."""
    workdir = Path(tempfile.mkdtemp(prefix="arktos-pod-startup-"))
    env = {**cluster_env(workdir), **(extra_env or {})}
    log_dir = Path(env["LOG_DIR"])
    log_dir.mkdir(parents=True)
    lines: queue.Queue[str] = queue.Queue()
    process = subprocess.Popen(
        ["bash", str(REPO_ROOT / "hack" / "arktos-up.sh")], env=env, cwd="/",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True,
        # SIGINT at its default, as under a terminal, even when this bench runs in the background.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pump = threading.Thread(target=_pump, args=(process, lines, log_dir / "arktos-up.out"), daemon=True)
    pump.start()
    try:
        _wait_ready(process, lines, start_timeout_s)
        yield ArktosUpCluster(kubeconfig=Path(env["CERT_DIR"]) / "admin.kubeconfig", node_name=NODE_NAME,
                              log_dir=log_dir, process=process, env=env)
    finally:
        stopped = _interrupt(process)
        pump.join(timeout=5)
        if _bridge_exists():
            # The script's trap deletes it; reaching here means it was killed before it could.
            subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)
            print(f"# removed leftover bridge {BRIDGE}", flush=True)
        if stopped:
            # containerd's root (image snapshots) is large; after a clean stop nothing is mounted there.
            shutil.rmtree(workdir / "data", ignore_errors=True)
            shutil.rmtree(workdir / "certs", ignore_errors=True)
            if not keep_logs:
                shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"# left {workdir} in place: containerd may still have mounts under it", flush=True)
