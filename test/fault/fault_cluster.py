"""One hack/arktos-up.sh cluster for the fault scenarios, and what they need to observe it.

The cluster runs with the flags an operator would set for fast fail-over on one machine
(`CONTROLLER_MANAGER_EXTRA_FLAGS`): node-monitor grace period 20 s and a 10 s default toleration
of unreachable nodes (upstream: 40 s and 300 s), so that a dead node's pods are recreated within
the issue's 60 s; and a 12 s leader lease (upstream: 15 s), so that a standby takes over within
the issue's 15 s even when the leader dies just after renewing. Everything else is arktos-up's
default. Its bridge and pod subnet are this suite's own (`arktos-ft1`, 10.121.0.0/16).

Components are found through arktos-up's records (`$ARKTOS_DATA_DIR/run/NAME.pid`: pid and start
time, checked against /proc so a reused pid never counts), objects through the official python
client with the admin kubeconfig.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT, admin_ssl_context, log_tail, probe, stop_process
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from recorded_process import Proc, cmdline, proc_stat, recorded
from test_arktos_up import STOP_TIMEOUT_S, ArktosUp
from workload_cluster import workload_cluster_env

from tools.cluster_credentials import ClusterCredentials

NODE = "ft-node"
BRIDGE = "arktos-ft1"
POD_SUBNET = "10.121.0.0/16"
LEASE_FLAGS = ("--leader-elect-lease-duration 12s --leader-elect-renew-deadline 8s"
               " --leader-elect-retry-period 2s")
NODE_FLAGS = "--node-monitor-grace-period 20s --default-unreachable-toleration-seconds 10"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd", "vmruntime",
              "kubelet")
WAIT_S = 60.0


def fault_cluster_env(base: Path) -> dict[str, str]:
    env = workload_cluster_env(base, node=NODE, bridge=BRIDGE, subnet=POD_SUBNET)
    env["CONTROLLER_MANAGER_EXTRA_FLAGS"] = f"{LEASE_FLAGS} {NODE_FLAGS}"
    return env


def live_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None and stat[0] != "Z":
            yield int(entry.name)


def wait_for(what: str, check: Callable[[], bool], *, timeout_s: float = WAIT_S,
             report: Callable[[], str] = lambda: "") -> float:
    """Polls ``check`` until true; answers the seconds it took, raises with ``report()`` on timeout."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(k8s.ApiException, OSError):
            if check():
                return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} not reached in {timeout_s:.0f}s\n{report()}")
        time.sleep(0.1)


class FaultCluster:
    """The running cluster: its records, its API, its logs."""

    def __init__(self, up: ArktosUp, api: k8s.ApiClient) -> None:
        self.up = up
        self.env = up.env
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.leases = k8s.CoordinationV1Api(api)
        self.data_dir = Path(self.env["ARKTOS_DATA_DIR"])
        self.run_dir = self.data_dir / "run"
        self.log_dir = Path(self.env["LOG_DIR"])
        self.credentials = ClusterCredentials(Path(self.env["CERT_DIR"]), admin_token="")
        self.url = f"https://127.0.0.1:{self.env['API_SECURE_PORT']}"

    def component(self, name: str) -> Proc | None:
        """The component's live process per arktos-up's record, or None while none runs."""
        return recorded(self.run_dir, name)

    def components(self) -> dict[str, Proc | None]:
        return {name: self.component(name) for name in COMPONENTS}

    def restarted(self, name: str, old: Proc) -> bool:
        now = self.component(name)
        return now is not None and now != old

    def api_ready(self) -> bool:
        return probe(f"{self.url}/readyz", context=admin_ssl_context(self.credentials))

    def pods(self, selector: str = "", namespace: str | None = "default") -> list[dict[str, Any]]:
        """Pods as JSON: the python client's models cannot hold a VM pod (no spec.containers)."""
        if namespace is None:
            answer = self.core.list_pod_for_all_namespaces(label_selector=selector, _preload_content=False,
                                                           _request_timeout=10)
        else:
            answer = self.core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False,
                                                   _request_timeout=10)
        items: list[dict[str, Any]] = json.loads(answer.data)["items"]
        return items

    def lease_holder(self, name: str, namespace: str = "kube-system") -> str:
        return str(self.leases.read_namespaced_lease(name, namespace, _request_timeout=5).spec.holder_identity
                   or "")

    def node_condition(self, kind: str, node: str = NODE) -> str:
        found = self.core.read_node(node, _request_timeout=5).status.conditions or []
        return next((str(c.status) for c in found if c.type == kind), "")

    def report(self, *logs: str) -> str:
        """arktos-up's output and the tails of the named component logs, for a failure message."""
        parts = [self.up.report()]
        for name in logs:
            parts.append(f"--- {name}.log ---\n{log_tail(self.log_dir / f'{name}.log', max_lines=40)}")
        return "\n".join(parts)

    def ours(self) -> list[str]:
        """Live processes whose command line names our data or cert directory."""
        needles = (str(self.data_dir), self.env["CERT_DIR"])
        return [f"{pid}: {line[:160]}" for pid in live_pids()
                if any(n in (line := cmdline(pid)) for n in needles)]


def running_fault_cluster(base: Path) -> Iterator[FaultCluster]:
    """Starts arktos-up.sh for the module; Ctrl-C at the end unless a scenario killed it already."""
    up = ArktosUp(fault_cluster_env(base))
    try:
        up.start()
        with k8s_config.new_client_from_config(config_file=str(base / "certs" / "admin.kubeconfig")) as api:
            yield FaultCluster(up, api)
    finally:
        if up.process is not None and up.process.poll() is None:
            stop_process(up.process, sig=signal.SIGINT, timeout=STOP_TIMEOUT_S)


def python_module(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Starts ``python -m ARGS`` from the repository (a second controller manager, a hollow kubelet)."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
