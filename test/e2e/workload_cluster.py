"""One hack/arktos-up.sh cluster shared by a whole e2e module, and the small helpers its tests need.

Why this exists: bringing a node up (API server, controllers, scheduler, containerd, kubelet) costs
~15 s, and the workload must-shows (logs, exec, port-forward, cp, probes, volumes, restarts) are
many short checks against the same running node.  A module-scoped cluster keeps `make test`
inside its budget; each test uses its own objects so their order does not matter.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import REPO_ROOT, free_port, stop_process
from test_arktos_up import STOP_TIMEOUT_S, ArktosUp, kubectl_sh, network_pool_for

WAIT_S = 60.0


def proxy_chain_prefix(bridge: str) -> str:
    """A kube-proxy chain prefix of the cluster's own, derived from its (per-suite) bridge name."""
    return "K" + hashlib.sha256(bridge.encode()).hexdigest()[:6].upper()


def workload_cluster_env(base: Path, *, node: str, bridge: str, subnet: str) -> dict[str, str]:
    """arktos-up's environment for a private cluster under ``base`` (its own bridge and subnet, and
    kube-proxy chains and a network service-CIDR pool of its own)."""
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update({
        "ARKTOS_DATA_DIR": str(base / "data"),
        "CERT_DIR": str(base / "certs"),
        "LOG_DIR": str(base / "logs"),
        "API_SECURE_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "KUBELET_PORT": str(free_port()),
        "API_HOST_IP": "127.0.0.1",
        "KUBECTL": str(REPO_ROOT / ".venv" / "bin" / "kubectl"),
        "HOSTNAME_OVERRIDE": node,
        "CONTAINERD_BRIDGE": bridge,
        "CONTAINERD_POD_SUBNET": subnet,
        "NETWORK_SERVICE_CIDR_POOL": network_pool_for(subnet),
        "KUBE_PROXY_CHAIN_PREFIX": proxy_chain_prefix(bridge),
    })
    return env


def running_cluster(env: dict[str, str], **options: Any) -> Iterator[ArktosUp]:
    """Starts arktos-up.sh (``options``: ArktosUp's, e.g. another script) and stops it (Ctrl-C)
    when the generator is closed."""
    up = ArktosUp(env, **options)
    try:
        up.start()
        yield up
    finally:
        if up.process is not None and up.process.poll() is None:
            stop_process(up.process, sig=signal.SIGINT, timeout=STOP_TIMEOUT_S)


class Kubectl:
    """cluster/kubectl.sh bound to one cluster's environment."""

    def __init__(self, up: ArktosUp) -> None:
        self.up = up
        self.env = up.env

    def __call__(self, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        result = kubectl_sh(self.env, *args, stdin=stdin)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self(*args, "-o", "json").stdout)
        return loaded

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(REPO_ROOT / "cluster" / "kubectl.sh"), *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def apply(self, manifest: dict[str, Any]) -> None:
        self("apply", "-f", "-", stdin=json.dumps(manifest))

    def wait(self, what: str, check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached in {timeout_s:.0f}s:\n{self.up.report()}\n"
                                     f"--- kubelet.log ---\n{self.kubelet_log_tail()}")
            time.sleep(0.5)

    def pod(self, name: str) -> dict[str, Any]:
        return self.json("get", "pod", name)

    def pods(self, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.json("get", "pods", "-l", selector)["items"]
        return items

    def kubelet_log_tail(self, lines: int = 40) -> str:
        path = Path(self.env["LOG_DIR"]) / "kubelet.log"
        if not path.exists():
            return "(no kubelet.log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def phase_running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and all(
        c.get("ready") for c in status.get("containerStatuses") or [{}])


def container_status(pod: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if name is None or status.get("name") == name:
            found: dict[str, Any] = status
            return found
    return {}


def tenant_kubeconfig(env: dict[str, str], tenant: str, user: str) -> str:
    """hack/setup-tenant-user.sh TENANT USER: the path of the tenant user's kubeconfig."""
    made = subprocess.run([str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), tenant, user], env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def kubectl_as(env: dict[str, str], kubeconfig: str, *args: str,
               stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Stock kubectl with another identity's kubeconfig (a tenant user's)."""
    return subprocess.run([env["KUBECTL"], "--kubeconfig", kubeconfig, *args], env=env,
                          capture_output=True, text=True, timeout=30, input=stdin)


def kubectl_as_popen(env: dict[str, str], kubeconfig: str, *args: str) -> subprocess.Popen[str]:
    """A long-running kubectl (port-forward, logs -f) as another identity; the caller stops it."""
    return subprocess.Popen([env["KUBECTL"], "--kubeconfig", kubeconfig, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")
